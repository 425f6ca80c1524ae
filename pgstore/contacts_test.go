package pgstore_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"switchboard/pgstore"
)

// The phonebook keeps numbers normalised and international, names unique in the
// tenant regardless of case, lists by name with search and pages, and stays inside
// its tenant.
func TestInternalContacts(t *testing.T) {
	ctx := testContext(t)
	ct, other := newTenant(t), newTenant(t)
	tid := ct.Tenant.ID
	actor := pgstore.Actor{UserID: ct.Admin.ID}
	create := func(name, phone string) pgstore.InternalContact {
		t.Helper()
		c, err := store.CreateInternalContact(ctx, tid, actor, pgstore.NewInternalContact{Name: name, Phone: phone, Description: "  desk  "})
		if err != nil {
			t.Fatalf("CreateInternalContact(%s): %v", name, err)
		}
		return c
	}
	billing := create(" Billing desk ", "+385 1 234 5678")
	if billing.Name != "Billing desk" || billing.Phone != "+38512345678" || billing.Description != "desk" || billing.TenantID != tid {
		t.Errorf("created = %+v", billing)
	}
	create("Escalations", "+44 (20) 7183-8750")
	create("ana's team", "+1 555 010 0001")
	create("Fraud line", "+1 555 010 0002")

	for name, in := range map[string]pgstore.NewInternalContact{
		"name":        {Name: "", Phone: "+38512345678"},
		"phone":       {Name: "National", Phone: "01 234 5678"},
		"description": {Name: "Long", Phone: "+38512345678", Description: strings.Repeat("d", 1001)},
	} {
		if _, err := store.CreateInternalContact(ctx, tid, actor, in); !isInvalid(err, name) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := store.CreateInternalContact(ctx, tid, actor, pgstore.NewInternalContact{Name: "BILLING DESK", Phone: "+38512340000"}); !errors.Is(err, pgstore.ErrConflict) {
		t.Errorf("a name taken in another case = %v", err)
	}
	if _, err := store.CreateInternalContact(ctx, other.Tenant.ID, pgstore.Actor{}, pgstore.NewInternalContact{Name: "Billing desk", Phone: "+38512345678"}); err != nil {
		t.Errorf("the same name in another tenant: %v", err)
	}

	names := func(f pgstore.InternalContactFilter) []string {
		t.Helper()
		got, err := store.ListInternalContacts(ctx, tid, f)
		if err != nil {
			t.Fatalf("ListInternalContacts: %v", err)
		}
		var out []string
		for _, c := range got {
			out = append(out, c.Name)
		}
		return out
	}
	if got := names(pgstore.InternalContactFilter{}); !slices.Equal(got, []string{"ana's team", "Billing desk", "Escalations", "Fraud line"}) {
		t.Errorf("list = %v", got)
	}
	first, _ := store.ListInternalContacts(ctx, tid, pgstore.InternalContactFilter{Page: pgstore.Page{Limit: 2}})
	if got := names(pgstore.InternalContactFilter{Page: pgstore.Page{Limit: 2, After: first[1].ID}}); !slices.Equal(got, []string{"Escalations", "Fraud line"}) {
		t.Errorf("second page = %v", got)
	}
	for q, want := range map[string][]string{
		"DESK":     {"Billing desk"},
		"555 010":  {"ana's team", "Fraud line"},
		"7183-875": {"Escalations"},
		"nobody":   nil,
	} {
		if got := names(pgstore.InternalContactFilter{Query: q}); !slices.Equal(got, want) {
			t.Errorf("q=%q: %v; want %v", q, got, want)
		}
	}

	phone, name := "+1 (555) 010-0009", "Billing"
	up, err := store.UpdateInternalContact(ctx, tid, actor, billing.ID, pgstore.InternalContactUpdate{Name: &name, Phone: &phone})
	if err != nil || up.Name != "Billing" || up.Phone != "+15550100009" || up.Description != "desk" || !up.UpdatedAt.After(billing.UpdatedAt) {
		t.Errorf("update = %+v, %v", up, err)
	}
	taken := "escalations"
	if _, err := store.UpdateInternalContact(ctx, tid, actor, billing.ID, pgstore.InternalContactUpdate{Name: &taken}); !errors.Is(err, pgstore.ErrConflict) {
		t.Errorf("rename to a taken name = %v", err)
	}
	if _, err := store.UpdateInternalContact(ctx, tid, actor, billing.ID, pgstore.InternalContactUpdate{}); !isInvalid(err, "") {
		t.Errorf("empty update = %v", err)
	}
	if _, err := store.UpdateInternalContact(ctx, other.Tenant.ID, actor, billing.ID, pgstore.InternalContactUpdate{Name: &name}); !errors.Is(err, pgstore.ErrNotFound) {
		t.Errorf("update from another tenant = %v", err)
	}
	if _, err := store.GetInternalContact(ctx, other.Tenant.ID, billing.ID); !errors.Is(err, pgstore.ErrNotFound) {
		t.Errorf("get from another tenant = %v", err)
	}
	if err := store.DeleteInternalContact(ctx, other.Tenant.ID, actor, billing.ID); !errors.Is(err, pgstore.ErrNotFound) {
		t.Errorf("delete from another tenant = %v", err)
	}
	if err := store.DeleteInternalContact(ctx, tid, actor, billing.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := store.GetInternalContact(ctx, tid, billing.ID); !errors.Is(err, pgstore.ErrNotFound) {
		t.Errorf("get after delete = %v", err)
	}
	if err := store.DeleteInternalContact(ctx, tid, actor, "not-an-id"); !errors.Is(err, pgstore.ErrNotFound) {
		t.Errorf("delete of a bad ID = %v", err)
	}
}
