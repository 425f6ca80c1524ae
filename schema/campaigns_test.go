package schema_test

import (
	"testing"

	"switchboard/schema"
)

// Migration 5 gives tenants that existed before it the Default campaign with its
// disposition codes, its constraints keep every campaign's tree and default code
// consistent, and its down section removes the campaign tables and the interactions'
// campaign column and nothing else.
func TestCampaignsMigration(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	url, _ := freshURL(t, "")
	if err := schema.MigrateTo(ctx, url, 4); err != nil {
		t.Fatal(err)
	}
	conn := connect(t, ctx, url)
	if _, err := conn.Exec(ctx, `INSERT INTO tenants (slug, name) VALUES ('old-one', 'Old one'), ('old-two', 'Old two')`); err != nil {
		t.Fatal(err)
	}
	if v, err := schema.Migrate(ctx, url); err != nil || v != latest(t) {
		t.Fatalf("Migrate = %d, %v", v, err)
	}

	var campaigns, classes, codes, defaults int
	if err := conn.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM campaigns WHERE is_default AND enabled AND name = 'Default' AND wrap_up_timeout_seconds = 60 AND NOT recording_enabled),
		(SELECT count(*) FROM disposition_classes WHERE name = 'Closed' AND position = 1),
		(SELECT count(*) FROM disposition_codes),
		(SELECT count(*) FROM campaigns c JOIN disposition_codes d ON d.id = c.default_code_id AND d.campaign_id = c.id
		 WHERE d.name = 'Resolved' AND d.position = 1 AND d.success)`).Scan(&campaigns, &classes, &codes, &defaults); err != nil {
		t.Fatal(err)
	}
	if campaigns != 2 || classes != 2 || codes != 4 || defaults != 2 {
		t.Errorf("2 tenants: %d Default campaigns, %d classes, %d codes, %d default codes; want 2, 2, 4, 2", campaigns, classes, codes, defaults)
	}

	refused := map[string]string{
		"a second Default campaign":          `INSERT INTO campaigns (tenant_id, name, is_default) SELECT id, 'Another', true FROM tenants WHERE slug = 'old-one'`,
		"a name differing in case":           `INSERT INTO campaigns (tenant_id, name) SELECT id, 'DEFAULT' FROM tenants WHERE slug = 'old-one'`,
		"a disabled Default":                 `UPDATE campaigns SET enabled = false WHERE is_default`,
		"a wrap-up over an hour":             `UPDATE campaigns SET wrap_up_timeout_seconds = 3601`,
		"a caller ID not in E.164":           `UPDATE campaigns SET caller_id = '0800 123'`,
		"a callback to a blacklisted number": `UPDATE disposition_codes SET callback = true, blacklist = true WHERE name = 'No action'`,
		"a default code of another campaign": `UPDATE campaigns c SET default_code_id = (
			SELECT d.id FROM disposition_codes d WHERE d.campaign_id <> c.id AND d.name = 'Resolved' LIMIT 1)`,
		"codes without a default":       `UPDATE campaigns SET default_code_id = NULL`,
		"deleting the default code":     `DELETE FROM disposition_codes WHERE name = 'Resolved'`,
		"two classes at one position":   `INSERT INTO disposition_classes (tenant_id, campaign_id, name, position) SELECT tenant_id, id, 'Open', 1 FROM campaigns`,
		"a code name differing in case": `INSERT INTO disposition_codes (tenant_id, campaign_id, class_id, name, position) SELECT tenant_id, campaign_id, id, 'resolved', 3 FROM disposition_classes`,
		"a code in another tenant's class": `INSERT INTO disposition_codes (tenant_id, campaign_id, class_id, name, position)
			SELECT t.id, k.campaign_id, k.id, 'Stray', 9 FROM disposition_classes k, tenants t WHERE k.tenant_id <> t.id`,
	}
	for name, sql := range refused {
		if _, err := conn.Exec(ctx, sql); err == nil {
			t.Errorf("%s was accepted", name)
		}
	}
	// Replacing the default code in one transaction is accepted: checked at commit.
	if _, err := conn.Exec(ctx, `
		WITH moved AS (UPDATE campaigns c SET default_code_id = d.id FROM disposition_codes d
		               WHERE d.campaign_id = c.id AND d.name = 'No action' RETURNING c.id)
		DELETE FROM disposition_codes WHERE name = 'Resolved'`); err != nil {
		t.Errorf("a new default with the old one deleted: %v", err)
	}
	// Deleting a tenant takes its campaign and tree with it.
	if _, err := conn.Exec(ctx, `DELETE FROM tenants WHERE slug = 'old-two'`); err != nil {
		t.Errorf("delete a tenant: %v", err)
	}
	if err := conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM campaigns) + (SELECT count(*) FROM disposition_classes)`).Scan(&campaigns); err != nil || campaigns != 2 {
		t.Errorf("%d campaigns and classes after deleting a tenant, %v; want 2", campaigns, err)
	}

	if err := schema.MigrateTo(ctx, url, 4); err != nil {
		t.Fatalf("down to 4: %v", err)
	}
	for table, want := range map[string]bool{"campaigns": false, "disposition_classes": false, "disposition_codes": false,
		"interactions": true, "queues": true} {
		var reg *string
		if err := conn.QueryRow(ctx, `SELECT to_regclass($1)::text`, "public."+table).Scan(&reg); err != nil {
			t.Fatal(err)
		}
		if (reg != nil) != want {
			t.Errorf("after the down migration, table %s exists = %v, want %v", table, reg != nil, want)
		}
	}
	var column bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM information_schema.columns
		WHERE table_name = 'interactions' AND column_name = 'campaign_id')`).Scan(&column); err != nil || column {
		t.Errorf("interactions.campaign_id after the down migration: %v, %v", column, err)
	}
	if _, err := schema.Migrate(ctx, url); err != nil {
		t.Fatalf("up again: %v", err)
	}
}
