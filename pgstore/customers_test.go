package pgstore_test

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"switchboard/pgstore"
	"switchboard/routing"
)

func newCustomer(t *testing.T, tenantID string, in pgstore.NewCustomer) pgstore.Customer {
	t.Helper()
	c, err := store.CreateCustomer(testContext(t), tenantID, pgstore.Actor{}, in)
	if err != nil {
		t.Fatalf("CreateCustomer %+v: %v", in, err)
	}
	return c
}

func customerIDs(cs []pgstore.Customer) []string {
	ids := make([]string, len(cs))
	for i, c := range cs {
		ids[i] = c.ID
	}
	return ids
}

func TestCustomerCRUD(t *testing.T) {
	ctx := testContext(t)
	ct := newTenant(t)
	tenant := ct.Tenant.ID
	admin := pgstore.Actor{UserID: ct.Admin.ID}

	c, err := store.CreateCustomer(ctx, tenant, admin, pgstore.NewCustomer{
		ExternalID: " crm-1 ", Name: " Priya Mohanti ",
		Phones:      []string{"+385 (1) 234-5678", "+38512345678", "+44 20 7183 8750"},
		Emails:      []string{"Priya@Example.com", "priya@example.com"},
		Attributes:  map[string]string{"tier": "gold"},
		Identifiers: map[string]string{"accountNumber": "A-1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.ExternalID != "crm-1" || c.Name != "Priya Mohanti" {
		t.Errorf("trimmed fields: %+v", c)
	}
	if !slices.Equal(c.Phones, []string{"+38512345678", "+442071838750"}) {
		t.Errorf("phones normalised and deduplicated: %v", c.Phones)
	}
	if !slices.Equal(c.Emails, []string{"priya@example.com"}) {
		t.Errorf("emails lower-cased and deduplicated: %v", c.Emails)
	}
	if c.Attributes["tier"] != "gold" || c.Identifiers["accountNumber"] != "A-1" {
		t.Errorf("attributes and identifiers: %+v", c)
	}
	if n := auditCount(t, tenant, "customer.created", c.ID); n != 1 {
		t.Errorf("audited %d times", n)
	}

	got, err := store.GetCustomer(ctx, tenant, c.ID)
	if err != nil || got.ID != c.ID || got.Identifiers["accountNumber"] != "A-1" {
		t.Fatalf("GetCustomer: %+v %v", got, err)
	}
	// Another tenant does not see it.
	other := newTenant(t)
	if _, err := store.GetCustomer(ctx, other.Tenant.ID, c.ID); !errors.Is(err, pgstore.ErrNotFound) {
		t.Errorf("other tenant: %v", err)
	}

	// External IDs and identifiers are unique in the tenant, not across tenants.
	if _, err := store.CreateCustomer(ctx, tenant, admin, pgstore.NewCustomer{ExternalID: "crm-1"}); !errors.Is(err, pgstore.ErrConflict) {
		t.Errorf("duplicate external ID: %v", err)
	}
	if _, err := store.CreateCustomer(ctx, tenant, admin, pgstore.NewCustomer{Name: "X", Identifiers: map[string]string{"accountNumber": "A-1"}}); !errors.Is(err, pgstore.ErrConflict) {
		t.Errorf("duplicate identifier: %v", err)
	}
	newCustomer(t, other.Tenant.ID, pgstore.NewCustomer{ExternalID: "crm-1", Identifiers: map[string]string{"accountNumber": "A-1"}})

	name, phones := "Priya M.", []string{"+1 555 010 9999"}
	up, err := store.UpdateCustomer(ctx, tenant, admin, c.ID, pgstore.CustomerUpdate{
		Name: &name, Phones: &phones, ExternalID: pgstore.Nullable[string]{Set: true},
		Identifiers: &map[string]string{"contactId": "C-9"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if up.Name != name || !slices.Equal(up.Phones, []string{"+15550109999"}) || up.ExternalID != "" ||
		!slices.Equal(up.Emails, []string{"priya@example.com"}) || len(up.Identifiers) != 1 || up.Identifiers["contactId"] != "C-9" {
		t.Errorf("updated: %+v", up)
	}
	// The freed external ID and identifier may be used again.
	newCustomer(t, tenant, pgstore.NewCustomer{ExternalID: "crm-1", Identifiers: map[string]string{"accountNumber": "A-1"}})

	if err := store.DeleteCustomer(ctx, tenant, admin, c.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := store.GetCustomer(ctx, tenant, c.ID); !errors.Is(err, pgstore.ErrNotFound) {
		t.Errorf("deleted: %v", err)
	}
	if err := store.DeleteCustomer(ctx, tenant, admin, c.ID); !errors.Is(err, pgstore.ErrNotFound) {
		t.Errorf("deleted twice: %v", err)
	}
}

func TestCustomerValidation(t *testing.T) {
	ctx := testContext(t)
	tenant := newTenant(t).Tenant.ID
	many := func(n int, f func(int) string) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = f(i)
		}
		return out
	}
	attrs := map[string]string{}
	for i := range pgstore.MaxCustomerAttributes + 1 {
		attrs["a"+string(rune('a'+i%26))+string(rune('a'+i/26))] = "v"
	}
	for _, tc := range []struct {
		name  string
		in    pgstore.NewCustomer
		field string
	}{
		{"empty", pgstore.NewCustomer{}, "name"},
		{"bad phone", pgstore.NewCustomer{Phones: []string{"+1 555 0100", "call me"}}, "phones[1]"},
		{"too many phones", pgstore.NewCustomer{Phones: many(pgstore.MaxCustomerPhones+1, func(i int) string { return "+38591000" + string(rune('0'+i%10)) + string(rune('0'+i/10)) })}, "phones"},
		{"bad email", pgstore.NewCustomer{Emails: []string{"ana@example.com", "Ana <ana@example.com>"}}, "emails[1]"},
		{"not an email", pgstore.NewCustomer{Emails: []string{"ana"}}, "emails[0]"},
		{"too many attributes", pgstore.NewCustomer{Name: "A", Attributes: attrs}, "attributes"},
		{"bad attribute name", pgstore.NewCustomer{Name: "A", Attributes: map[string]string{"1x": "v"}}, "attributes.1x"},
		{"bad identifier key", pgstore.NewCustomer{Name: "A", Identifiers: map[string]string{"a b": "v"}}, "identifiers.a b"},
		{"empty identifier", pgstore.NewCustomer{Name: "A", Identifiers: map[string]string{"acct": " "}}, "identifiers.acct"},
		{"control in name", pgstore.NewCustomer{Name: "A\x00"}, "name"},
	} {
		_, err := store.CreateCustomer(ctx, tenant, pgstore.Actor{}, tc.in)
		var v *pgstore.ValidationError
		if !errors.As(err, &v) || v.Field != tc.field {
			t.Errorf("%s: got %v, want a validation error on %s", tc.name, err, tc.field)
		}
	}
}

func TestSearchCustomers(t *testing.T) {
	ctx := testContext(t)
	tenant := newTenant(t).Tenant.ID
	// Two customers share a number (a household): a lookup answers both.
	ana := newCustomer(t, tenant, pgstore.NewCustomer{Name: "Ana Horvat", Phones: []string{"+385 91 000 1111"}, Emails: []string{"ana@example.com"}})
	ivo := newCustomer(t, tenant, pgstore.NewCustomer{Name: "Ivo Horvat", Phones: []string{"+385 91 222 3333", "+385910001111"}, ExternalID: "crm-ivo"})
	mia := newCustomer(t, tenant, pgstore.NewCustomer{Name: "Mia Kovač", Emails: []string{"mia@example.com"}})
	// Another tenant's customer with the same number is never answered.
	newCustomer(t, newTenant(t).Tenant.ID, pgstore.NewCustomer{Name: "Ana Horvat", Phones: []string{"+385910001111"}})

	for _, tc := range []struct {
		name string
		f    pgstore.CustomerFilter
		want []string
	}{
		{"all, newest first", pgstore.CustomerFilter{}, []string{mia.ID, ivo.ID, ana.ID}},
		{"phone shared by two", pgstore.CustomerFilter{Phone: "+385 (91) 000-1111"}, []string{ivo.ID, ana.ID}},
		{"phone of one", pgstore.CustomerFilter{Phone: "+385912223333"}, []string{ivo.ID}},
		{"unknown phone", pgstore.CustomerFilter{Phone: "+385919999999"}, []string{}},
		{"name part, any case", pgstore.CustomerFilter{Name: "horVAT"}, []string{ivo.ID, ana.ID}},
		{"email, any case", pgstore.CustomerFilter{Email: "MIA@example.com"}, []string{mia.ID}},
		{"external ID", pgstore.CustomerFilter{ExternalID: "crm-ivo"}, []string{ivo.ID}},
		{"q as name", pgstore.CustomerFilter{Q: "kovač"}, []string{mia.ID}},
		{"q as phone", pgstore.CustomerFilter{Q: "+385 91 222 3333"}, []string{ivo.ID}},
		{"q as email", pgstore.CustomerFilter{Q: "ana@example.com"}, []string{ana.ID}},
		{"q as external ID", pgstore.CustomerFilter{Q: "crm-ivo"}, []string{ivo.ID}},
		{"name and phone", pgstore.CustomerFilter{Name: "ana", Phone: "+385910001111"}, []string{ana.ID}},
		{"like characters are literal", pgstore.CustomerFilter{Name: "%"}, []string{}},
	} {
		page, err := store.SearchCustomers(ctx, tenant, tc.f)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if got := customerIDs(page.Items); !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}

	// Pages follow each other without gaps or repeats.
	var seen []string
	f := pgstore.CustomerFilter{Limit: 2}
	for range 3 {
		page, err := store.SearchCustomers(ctx, tenant, f)
		if err != nil {
			t.Fatal(err)
		}
		seen = append(seen, customerIDs(page.Items)...)
		if page.NextCursor == "" {
			break
		}
		f.Cursor = page.NextCursor
	}
	if !slices.Equal(seen, []string{mia.ID, ivo.ID, ana.ID}) {
		t.Errorf("paged: %v", seen)
	}

	for _, tc := range []struct {
		f     pgstore.CustomerFilter
		field string
	}{
		{pgstore.CustomerFilter{Phone: "abc"}, "phone"},
		{pgstore.CustomerFilter{Email: "nope"}, "email"},
		{pgstore.CustomerFilter{Limit: 500}, "limit"},
		{pgstore.CustomerFilter{Cursor: "zz"}, "cursor"},
	} {
		_, err := store.SearchCustomers(ctx, tenant, tc.f)
		var v *pgstore.ValidationError
		if !errors.As(err, &v) || v.Field != tc.field {
			t.Errorf("%+v: got %v, want a validation error on %s", tc.f, err, tc.field)
		}
	}
}

// Concurrent first contacts from one number create one customer; other numbers get
// their own.
func TestFindOrCreateCustomerByPhoneConcurrently(t *testing.T) {
	ctx := testContext(t)
	tenant := newTenant(t).Tenant.ID
	const callers = 12
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		ids     = map[string]int{}
		created int
		errs    []error
	)
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Two spellings of one number.
			phone := "+385 1 555 0000"
			if i%2 == 1 {
				phone = "+38515550000"
			}
			c, ok, err := store.FindOrCreateCustomerByPhone(ctx, tenant, phone, "Caller")
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			ids[c.ID]++
			if ok {
				created++
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if len(ids) != 1 || created != 1 {
		t.Fatalf("%d callers got customers %v, %d created; want one customer created once", callers, ids, created)
	}
	page, err := store.SearchCustomers(ctx, tenant, pgstore.CustomerFilter{Phone: "+38515550000"})
	if err != nil || len(page.Items) != 1 || page.Items[0].Name != "Caller" || !slices.Equal(page.Items[0].Phones, []string{"+38515550000"}) {
		t.Fatalf("stored: %+v %v", page.Items, err)
	}

	// A known number answers the oldest of its customers, created false.
	older := page.Items[0]
	newCustomer(t, tenant, pgstore.NewCustomer{Name: "Second", Phones: []string{"+38515550000"}})
	c, ok, err := store.FindOrCreateCustomerByPhone(ctx, tenant, "+38515550000", "Someone else")
	if err != nil || ok || c.ID != older.ID {
		t.Errorf("known number: %+v %v %v", c, ok, err)
	}
	if _, _, err := store.FindOrCreateCustomerByPhone(ctx, tenant, "not a number", ""); err == nil {
		t.Error("a bad number is refused")
	}
}

// A customer's past interactions (newest first, with their notes, grouped by intent),
// dispositions and notes.
func TestCustomerHistory(t *testing.T) {
	ctx := testContext(t)
	ct := newTenant(t)
	tenant := ct.Tenant.ID
	queue, err := store.DefaultQueueID(ctx, tenant)
	if err != nil {
		t.Fatal(err)
	}
	c := newCustomer(t, tenant, pgstore.NewCustomer{Name: "Priya"})
	agent := newUser(t, tenant, pgstore.RoleAgent)
	base := time.Now().Add(-time.Hour).UTC().Truncate(time.Microsecond)
	write := func(at time.Time, intent string, disposed bool) pgstore.Interaction {
		in := newInteraction(tenant, queue, routing.Voice, routing.PriorityNormal, at)
		in.CustomerID = c.ID
		if intent != "" {
			in.Metadata = map[string]string{"intent": intent}
		}
		if disposed {
			end, done := at.Add(time.Minute), at.Add(2*time.Minute)
			in.Status, in.AgentID, in.ConnectedAt, in.EndedAt, in.DisposedAt, in.DisposedBy, in.Version =
				pgstore.InteractionDisposed, agent.ID, &at, &end, &done, agent.ID, 5
			in.Outcome = pgstore.OutcomeCompleted
			in.Disposition = &pgstore.AppliedDisposition{ClassID: uuid.NewString(), Class: "Closed", CodeID: uuid.NewString(), Code: "Resolved", Notes: "sorted"}
		}
		return enqueue(t, in)
	}
	i1 := write(base, "Billing", true)
	i2 := write(base.Add(time.Minute), "", false)
	i3 := write(base.Add(2*time.Minute), "Billing", false)
	i4 := write(base.Add(3*time.Minute), "Card upgrade", true)
	// Another customer's interaction is not theirs.
	other := newInteraction(tenant, queue, routing.Voice, routing.PriorityNormal, base)
	other.CustomerID = uuid.NewString()
	enqueue(t, other)
	if _, err := store.AddNote(ctx, pgstore.Note{ID: uuid.NewString(), TenantID: tenant, InteractionID: i1.ID, AuthorID: agent.ID, Body: "asked for a refund", CreatedAt: base}); err != nil {
		t.Fatal(err)
	}

	page, err := store.CustomerInteractions(ctx, tenant, c.ID, "", 3, "")
	if err != nil {
		t.Fatal(err)
	}
	ids := func(items []pgstore.CustomerInteraction) []string {
		out := []string{}
		for _, it := range items {
			out = append(out, it.ID)
		}
		return out
	}
	if got := ids(page.Items); !slices.Equal(got, []string{i4.ID, i3.ID, i2.ID}) || page.NextCursor == "" {
		t.Fatalf("first page: %v", got)
	}
	if page.Items[0].Intent != "Card upgrade" || page.Items[2].Intent != "" {
		t.Errorf("intents: %+v", page.Items)
	}
	want := []pgstore.IntentGroup{{Intent: "Card upgrade", Count: 1}, {Intent: "Billing", Count: 2}}
	if len(page.Intents) != 2 || page.Intents[0].Intent != want[0].Intent || page.Intents[0].Count != 1 ||
		page.Intents[1].Intent != "Billing" || page.Intents[1].Count != 2 || !page.Intents[1].LastContactAt.Equal(i3.CreatedAt) {
		t.Errorf("groups: %+v", page.Intents)
	}
	page, err = store.CustomerInteractions(ctx, tenant, c.ID, "", 3, page.NextCursor)
	if err != nil || !slices.Equal(ids(page.Items), []string{i1.ID}) || page.NextCursor != "" {
		t.Fatalf("second page: %v %v", ids(page.Items), err)
	}
	if len(page.Items[0].Notes) != 1 || page.Items[0].Notes[0].Body != "asked for a refund" || page.Items[0].Disposition == nil {
		t.Errorf("notes and disposition of i1: %+v", page.Items[0])
	}
	page, err = store.CustomerInteractions(ctx, tenant, c.ID, "Billing", 10, "")
	if err != nil || !slices.Equal(ids(page.Items), []string{i3.ID, i1.ID}) {
		t.Errorf("one intent's group: %v %v", ids(page.Items), err)
	}

	ds, next, err := store.CustomerDispositions(ctx, tenant, c.ID, 1, "")
	if err != nil || len(ds) != 1 || ds[0].InteractionID != i4.ID || ds[0].Code != "Resolved" || ds[0].Intent != "Card upgrade" ||
		ds[0].DisposedBy != agent.ID || next == "" {
		t.Fatalf("dispositions: %+v %q %v", ds, next, err)
	}
	ds, next, err = store.CustomerDispositions(ctx, tenant, c.ID, 1, next)
	// Only two were disposed: the second page is the last.
	if err != nil || len(ds) != 1 || ds[0].InteractionID != i1.ID || ds[0].Notes != "sorted" || next != "" {
		t.Fatalf("second disposition: %+v %q %v", ds, next, err)
	}

	n1, err := store.AddCustomerNote(ctx, tenant, c.ID, agent.ID, "prefers e-mail")
	if err != nil || n1.AuthorID != agent.ID || n1.AuthorName != agent.Name || n1.CreatedAt.IsZero() {
		t.Fatalf("note: %+v %v", n1, err)
	}
	n2, err := store.AddCustomerNote(ctx, tenant, c.ID, ct.Admin.ID, "VIP")
	if err != nil {
		t.Fatal(err)
	}
	notes, _, err := store.CustomerNotes(ctx, tenant, c.ID, 10, "")
	if err != nil || len(notes) != 2 || notes[0].ID != n2.ID || notes[1].ID != n1.ID || notes[0].AuthorName != "Admin" {
		t.Errorf("notes: %+v %v", notes, err)
	}
	if _, err := store.AddCustomerNote(ctx, tenant, c.ID, agent.ID, "  "); err == nil {
		t.Error("an empty note was written")
	}
	missing := uuid.NewString()
	if _, err := store.AddCustomerNote(ctx, tenant, missing, agent.ID, "x"); !errors.Is(err, pgstore.ErrNotFound) {
		t.Errorf("note on a missing customer: %v", err)
	}
	if _, err := store.CustomerInteractions(ctx, tenant, missing, "", 10, ""); !errors.Is(err, pgstore.ErrNotFound) {
		t.Errorf("interactions of a missing customer: %v", err)
	}
	if _, err := store.CustomerInteractions(ctx, newTenant(t).Tenant.ID, c.ID, "", 10, ""); !errors.Is(err, pgstore.ErrNotFound) {
		t.Errorf("another tenant's customer: %v", err)
	}

	// A customer with an interaction still going is not deleted.
	if err := store.DeleteCustomer(ctx, tenant, pgstore.Actor{}, c.ID); !errors.Is(err, pgstore.ErrConflict) {
		t.Errorf("delete with live interactions: %v", err)
	}
}
