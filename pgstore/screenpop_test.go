package pgstore_test

import (
	"errors"
	"strings"
	"testing"

	"switchboard/pgstore"
)

func TestCampaignScreenPopTemplates(t *testing.T) {
	ctx := testContext(t)
	tid := newTenant(t).Tenant.ID
	pop := "https://crm.example.com/pop?phone={phone}&ixn={interactionId}&order={metadata.orderId}"
	kb := "https://kb.example.com/start?agent={userId}&lang={locale}"

	c, err := store.CreateCampaign(ctx, tid, pgstore.Actor{}, pgstore.NewCampaign{Name: "Support",
		ScreenPopURL: "  " + pop + " ", KnowledgeBaseURL: kb, Locale: "pt-BR"})
	if err != nil {
		t.Fatal(err)
	}
	if c.ScreenPopURL == nil || *c.ScreenPopURL != pop || c.KnowledgeBaseURL == nil || *c.KnowledgeBaseURL != kb ||
		c.Locale == nil || *c.Locale != "pt-BR" {
		t.Fatalf("created %+v", c)
	}
	got, err := store.GetCampaign(ctx, tid, c.ID)
	if err != nil || *got.ScreenPopURL != pop || *got.KnowledgeBaseURL != kb || *got.Locale != "pt-BR" {
		t.Fatalf("read back %+v, %v", got, err)
	}
	plain := newCampaign(t, tid, "Plain")
	if plain.ScreenPopURL != nil || plain.KnowledgeBaseURL != nil || plain.Locale != nil {
		t.Errorf("a campaign without templates: %+v", plain)
	}

	t.Run("refused templates name the field and change nothing", func(t *testing.T) {
		before := campaignSnapshot(t, tid)
		str := func(s string) pgstore.Nullable[string] { return pgstore.Nullable[string]{Set: true, Value: &s} }
		for _, tc := range []struct {
			name   string
			create *pgstore.NewCampaign
			update *pgstore.CampaignUpdate
			field  string
			says   string
		}{
			{"unknown placeholder", &pgstore.NewCampaign{Name: "X", ScreenPopURL: "https://crm.example.com/?e={email}"}, nil, "screenPopUrl", "unknown placeholder {email}"},
			{"relative", &pgstore.NewCampaign{Name: "X", ScreenPopURL: "/pop?p={phone}"}, nil, "screenPopUrl", "absolute"},
			{"interaction placeholder at login", &pgstore.NewCampaign{Name: "X", KnowledgeBaseURL: "https://kb.example.com/?p={phone}"}, nil, "knowledgeBaseUrl", "unknown placeholder {phone}"},
			{"locale", &pgstore.NewCampaign{Name: "X", Locale: "english please"}, nil, "locale", "BCP 47"},
			{"update unknown placeholder", nil, &pgstore.CampaignUpdate{ScreenPopURL: str("https://crm.example.com/{nope}")}, "screenPopUrl", "unknown placeholder {nope}"},
			{"update host placeholder", nil, &pgstore.CampaignUpdate{ScreenPopURL: str("https://{tenantId}.crm.example.com/")}, "screenPopUrl", "host"},
			{"update empty", nil, &pgstore.CampaignUpdate{KnowledgeBaseURL: str("")}, "knowledgeBaseUrl", "null"},
			{"update locale", nil, &pgstore.CampaignUpdate{Locale: str("x")}, "locale", "BCP 47"},
		} {
			var err error
			if tc.create != nil {
				_, err = store.CreateCampaign(ctx, tid, pgstore.Actor{}, *tc.create)
			} else {
				_, err = store.UpdateCampaign(ctx, tid, pgstore.Actor{}, c.ID, *tc.update)
			}
			var v *pgstore.ValidationError
			if !errors.As(err, &v) || v.Field != tc.field || !strings.Contains(v.Message, tc.says) {
				t.Errorf("%s: %v, want a validation error on %s saying %q", tc.name, err, tc.field, tc.says)
			}
		}
		if after := campaignSnapshot(t, tid); after != before {
			t.Errorf("a refused write changed the tenant's campaigns:\n%s\n%s", before, after)
		}
	})

	t.Run("update changes and clears", func(t *testing.T) {
		next := "https://crm.example.com/v2/{customerId}?t={crm_push_generated_time}"
		u, err := store.UpdateCampaign(ctx, tid, pgstore.Actor{}, c.ID, pgstore.CampaignUpdate{
			ScreenPopURL: pgstore.Nullable[string]{Set: true, Value: &next}, Locale: pgstore.Nullable[string]{Set: true}})
		if err != nil {
			t.Fatal(err)
		}
		if *u.ScreenPopURL != next || u.Locale != nil || u.KnowledgeBaseURL == nil || *u.KnowledgeBaseURL != kb || u.Name != "Support" {
			t.Errorf("after the update %+v", u)
		}
		u, err = store.UpdateCampaign(ctx, tid, pgstore.Actor{}, c.ID, pgstore.CampaignUpdate{
			ScreenPopURL: pgstore.Nullable[string]{Set: true}, KnowledgeBaseURL: pgstore.Nullable[string]{Set: true}})
		if err != nil || u.ScreenPopURL != nil || u.KnowledgeBaseURL != nil {
			t.Errorf("after clearing %+v, %v", u, err)
		}
		var audited int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE tenant_id = $1 AND action = 'campaign.updated' AND object_id = $2`, tid, c.ID).Scan(&audited); err != nil || audited != 2 {
			t.Errorf("audited updates: %d, %v", audited, err)
		}
	})

	t.Run("a stored template is within the column's bound", func(t *testing.T) {
		// The column's check and the validation agree: the longest accepted
		// template is stored.
		long := "https://crm.example.com/" + strings.Repeat("a", 2000-len("https://crm.example.com/"))
		if _, err := store.CreateCampaign(ctx, tid, pgstore.Actor{}, pgstore.NewCampaign{Name: "Long", ScreenPopURL: long}); err != nil {
			t.Errorf("a %d-character template: %v", len(long), err)
		}
	})
}
