package schema_test

import (
	"testing"

	"switchboard/schema"
)

// Migration 4's offer key makes offer writes idempotent, its checks keep the read
// model's status and agents consistent, and its down section removes the interaction
// tables and the ring timeout setting and nothing else.
func TestInteractionsMigration(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	url, conn := migrated(t, ctx)
	if _, err := conn.Exec(ctx, `INSERT INTO tenants (slug, name) VALUES ('calls', 'Calls')`); err != nil {
		t.Fatal(err)
	}
	insert := `
		INSERT INTO interactions (tenant_id, id, workflow_id, channel, direction, queue_id, priority, status,
			offered_agent_id, queued_at, version, created_at)
		SELECT id, '6f1c2c3e-0000-4000-8000-000000000001', 'interaction/x', 'voice', 'inbound', gen_random_uuid(), 0, $1,
			$2::uuid, now(), 0, now() FROM tenants`
	if _, err := conn.Exec(ctx, insert, "offered", nil); err == nil {
		t.Error("an offered interaction without its agent was accepted")
	}
	if _, err := conn.Exec(ctx, insert, "offered", "6f1c2c3e-0000-4000-8000-0000000000aa"); err != nil {
		t.Fatal(err)
	}
	offer := `
		INSERT INTO interaction_offers (tenant_id, interaction_id, attempt, agent_id, channel, offered_at, ring_until)
		SELECT tenant_id, id, 1, offered_agent_id, 'voice', now(), now() FROM interactions`
	if _, err := conn.Exec(ctx, offer); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, offer); err == nil {
		t.Error("a second offer with the same attempt was accepted")
	}
	var ring int
	if err := conn.QueryRow(ctx, `INSERT INTO acd_settings (tenant_id) SELECT id FROM tenants RETURNING ring_timeout_seconds`).Scan(&ring); err != nil || ring != 20 {
		t.Errorf("default ring timeout %d, %v", ring, err)
	}

	if err := schema.MigrateTo(ctx, url, 3); err != nil {
		t.Fatalf("down to 3: %v", err)
	}
	for table, want := range map[string]bool{"interactions": false, "interaction_offers": false, "acd_settings": true, "agent_sessions": true} {
		var reg *string
		if err := conn.QueryRow(ctx, `SELECT to_regclass($1)::text`, "public."+table).Scan(&reg); err != nil {
			t.Fatal(err)
		}
		if (reg != nil) != want {
			t.Errorf("after the down migration, table %s exists = %v, want %v", table, reg != nil, want)
		}
	}
	if _, err := schema.Migrate(ctx, url); err != nil {
		t.Fatalf("up again: %v", err)
	}
}
