package schema_test

import (
	"testing"

	"switchboard/schema"
)

// Migration 6's keys make message writes idempotent and a sender's address unique
// per sub-channel, its checks keep directions, authors and deliveries consistent, and
// its down section removes the message and sender tables and nothing else.
func TestMessagesMigration(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	url, conn := migrated(t, ctx)
	if _, err := conn.Exec(ctx, `INSERT INTO tenants (slug, name) VALUES ('messages', 'Messages')`); err != nil {
		t.Fatal(err)
	}
	insert := `
		INSERT INTO interaction_messages (tenant_id, interaction_id, id, seq, direction, sender_kind, body, delivery_status, created_at)
		SELECT id, '6f1c2c3e-0000-4000-8000-000000000001', $1, $2, $3, $4, $5, $6, now() FROM tenants`
	ok := []struct {
		id              string
		seq             int
		dir, kind, body string
		status          any
	}{
		{"6f1c2c3e-0000-4000-8000-0000000000a1", 1, "inbound", "customer", "hello", nil},
		{"6f1c2c3e-0000-4000-8000-0000000000a2", 2, "outbound", "agent", "hi", "pending"},
	}
	for _, m := range ok {
		if _, err := conn.Exec(ctx, insert, m.id, m.seq, m.dir, m.kind, m.body, m.status); err != nil {
			t.Fatalf("%+v: %v", m, err)
		}
	}
	for name, m := range map[string]struct {
		id              string
		seq             int
		dir, kind, body string
		status          any
	}{
		"the same ID again":            {"6f1c2c3e-0000-4000-8000-0000000000a1", 3, "inbound", "customer", "hello", nil},
		"the same seq again":           {"6f1c2c3e-0000-4000-8000-0000000000a3", 2, "inbound", "customer", "x", nil},
		"a customer writing out":       {"6f1c2c3e-0000-4000-8000-0000000000a4", 4, "outbound", "customer", "x", "pending"},
		"an agent writing in":          {"6f1c2c3e-0000-4000-8000-0000000000a5", 5, "inbound", "agent", "x", nil},
		"an inbound delivery":          {"6f1c2c3e-0000-4000-8000-0000000000a6", 6, "inbound", "customer", "x", "sent"},
		"an outbound without delivery": {"6f1c2c3e-0000-4000-8000-0000000000a7", 7, "outbound", "bot", "x", nil},
		"an empty message":             {"6f1c2c3e-0000-4000-8000-0000000000a8", 8, "inbound", "customer", "", nil},
		"an unknown status":            {"6f1c2c3e-0000-4000-8000-0000000000a9", 9, "outbound", "system", "x", "read"},
	} {
		if _, err := conn.Exec(ctx, insert, m.id, m.seq, m.dir, m.kind, m.body, m.status); err == nil {
			t.Errorf("%s was accepted", name)
		}
	}
	sender := `
		INSERT INTO channel_senders (tenant_id, sub_channel, address, address_key, kind, webhook_url, signing_secret)
		SELECT id, 'whatsapp', $1, '38516000000', $2, $3, 'sixteen-chars-secret' FROM tenants`
	if _, err := conn.Exec(ctx, sender, "+385 1 600 0000", "webhook", "https://gateway.example.com/x"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, sender, "+38516000000", "test", nil); err == nil {
		t.Error("a second sender with the same address key was accepted")
	}
	if _, err := conn.Exec(ctx, `UPDATE channel_senders SET webhook_url = NULL`); err == nil {
		t.Error("a webhook sender without a URL was accepted")
	}

	if err := schema.MigrateTo(ctx, url, 5); err != nil {
		t.Fatalf("down to 5: %v", err)
	}
	for table, want := range map[string]bool{"interaction_messages": false, "channel_senders": false, "interactions": true, "campaigns": true} {
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
