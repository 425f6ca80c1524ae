package schema_test

import (
	"testing"

	"switchboard/schema"
)

// Migration 2 gives tenants that existed before it what new tenants get (a Default
// queue, ACD settings, the default break reasons), and its down section removes the
// ACD tables and nothing else.
func TestACDMigration(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	url, _ := freshURL(t, "")
	if err := schema.MigrateTo(ctx, url, 1); err != nil {
		t.Fatal(err)
	}
	conn := connect(t, ctx, url)
	if _, err := conn.Exec(ctx, `INSERT INTO tenants (slug, name) VALUES ('old-one', 'Old one'), ('old-two', 'Old two')`); err != nil {
		t.Fatal(err)
	}
	if v, err := schema.Migrate(ctx, url); err != nil || v != latest(t) {
		t.Fatalf("Migrate = %d, %v", v, err)
	}

	var tenants, defaults, settings, breaks int
	if err := conn.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM tenants),
		(SELECT count(*) FROM queues WHERE is_default AND name = 'Default' AND auto_assign AND assignment_mode = 'any'),
		(SELECT count(*) FROM acd_settings WHERE count_waiting AND count_solved AND default_capacity = '{}'),
		(SELECT count(*) FROM agent_statuses WHERE break_reason AND status_group = 'away' AND name IN ('Lunch', 'Training'))`).
		Scan(&tenants, &defaults, &settings, &breaks); err != nil {
		t.Fatal(err)
	}
	if tenants != 2 || defaults != 2 || settings != 2 || breaks != 4 {
		t.Errorf("%d tenants: %d Default queues, %d settings rows, %d break reasons; want 2, 2, 4", tenants, defaults, settings, breaks)
	}
	// The database itself refuses a second Default queue.
	if _, err := conn.Exec(ctx, `INSERT INTO queues (tenant_id, name, is_default) SELECT id, 'Another', true FROM tenants WHERE slug = 'old-one'`); err == nil {
		t.Error("a second Default queue was accepted")
	}

	if err := schema.MigrateTo(ctx, url, 1); err != nil {
		t.Fatalf("down to 1: %v", err)
	}
	for _, table := range []string{"skills", "queues", "queue_agents", "agent_settings", "agent_skills", "acd_settings", "routes", "route_skills", "agent_statuses"} {
		var reg *string
		if err := conn.QueryRow(ctx, `SELECT to_regclass($1)::text`, "public."+table).Scan(&reg); err != nil {
			t.Fatal(err)
		}
		if reg != nil {
			t.Errorf("table %s is still there after the down migration", table)
		}
	}
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM tenants`).Scan(&tenants); err != nil || tenants != 2 {
		t.Errorf("%d tenants after the down migration, %v", tenants, err)
	}
	// And up again.
	if _, err := schema.Migrate(ctx, url); err != nil {
		t.Fatalf("up again: %v", err)
	}
}
