package schema_test

import (
	"testing"

	"switchboard/schema"
)

// Migration 3's keys make event writes idempotent, and its down section removes the
// session tables and nothing else.
func TestAgentSessionsMigration(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	url, conn := migrated(t, ctx)
	if _, err := conn.Exec(ctx, `
		WITH t AS (INSERT INTO tenants (slug, name) VALUES ('sessions', 'Sessions') RETURNING id)
		INSERT INTO users (tenant_id, email, name, role) SELECT id, 'ana@sessions.test', 'Ana', 'agent' FROM t`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `
		INSERT INTO agent_sessions (tenant_id, agent_id, session, workflow_id, login_at, status_name, status_group, last_seq)
		SELECT tenant_id, id, 1700000000000, 'agent/x/y', now(), 'Available', 'available', 1 FROM users`); err != nil {
		t.Fatal(err)
	}
	insertEvent := `
		INSERT INTO agent_status_events (tenant_id, agent_id, session, seq, kind, at, status_name, status_group)
		SELECT tenant_id, id, 1700000000000, 1, 'login', now(), 'Available', 'available' FROM users`
	if _, err := conn.Exec(ctx, insertEvent); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, insertEvent); err == nil {
		t.Error("a second event with the same key was accepted")
	}
	if _, err := conn.Exec(ctx, `UPDATE agent_sessions SET logout_at = now()`); err == nil {
		t.Error("a logout without a reason was accepted")
	}

	if err := schema.MigrateTo(ctx, url, 2); err != nil {
		t.Fatalf("down to 2: %v", err)
	}
	for table, want := range map[string]bool{"agent_sessions": false, "agent_status_events": false, "agent_statuses": true, "users": true} {
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
