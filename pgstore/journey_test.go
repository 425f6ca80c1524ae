package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"switchboard/pgstore"
	"switchboard/pgtest"
	"switchboard/routing"
)

func setJourney(t *testing.T, tenantID string, ids []string, create bool) {
	t.Helper()
	if _, err := store.UpdateJourneySettings(testContext(t), tenantID, pgstore.Actor{}, pgstore.JourneySettingsUpdate{
		Identifiers: &ids, CreateOnFirstContact: &create}); err != nil {
		t.Fatal(err)
	}
}

func TestJourneySettings(t *testing.T) {
	ctx := testContext(t)
	ct := newTenant(t)
	tenant := ct.Tenant.ID
	got, err := store.JourneySettings(ctx, tenant)
	if err != nil || len(got.Identifiers) != 0 || got.CreateOnFirstContact || got.UpdatedAt != nil {
		t.Fatalf("defaults: %+v %v", got, err)
	}
	ids := []string{" accountNumber ", "ContactId"}
	got, err = store.UpdateJourneySettings(ctx, tenant, pgstore.Actor{UserID: ct.Admin.ID}, pgstore.JourneySettingsUpdate{Identifiers: &ids})
	if err != nil || !slices.Equal(got.Identifiers, []string{"accountNumber", "ContactId"}) || got.CreateOnFirstContact || got.UpdatedAt == nil {
		t.Fatalf("set identifiers: %+v %v", got, err)
	}
	on := true
	got, err = store.UpdateJourneySettings(ctx, tenant, pgstore.Actor{UserID: ct.Admin.ID}, pgstore.JourneySettingsUpdate{CreateOnFirstContact: &on})
	if err != nil || len(got.Identifiers) != 2 || !got.CreateOnFirstContact {
		t.Fatalf("a partial update keeps the rest: %+v %v", got, err)
	}
	if n := auditCount(t, tenant, "journey.updated", tenant); n != 2 {
		t.Errorf("audited %d times", n)
	}
	eleven := make([]string, 11)
	for i := range eleven {
		eleven[i] = "k" + string(rune('a'+i))
	}
	for _, tc := range []struct {
		ids   []string
		field string
	}{
		{[]string{"acct", "acct"}, "identifiers[1]"},
		{[]string{"has space"}, "identifiers[0]"},
		{[]string{""}, "identifiers[0]"},
		{[]string{"intent"}, "identifiers[0]"},
		{eleven, "identifiers"},
	} {
		_, err := store.UpdateJourneySettings(ctx, tenant, pgstore.Actor{}, pgstore.JourneySettingsUpdate{Identifiers: &tc.ids})
		var v *pgstore.ValidationError
		if !errors.As(err, &v) || v.Field != tc.field {
			t.Errorf("%v: got %v, want a validation error on %s", tc.ids, err, tc.field)
		}
	}
	if got, _ := store.JourneySettings(ctx, tenant); len(got.Identifiers) != 2 {
		t.Errorf("a refused update changed the settings: %+v", got)
	}
}

func TestResolveInteractionCustomer(t *testing.T) {
	ctx := testContext(t)
	tenant := newTenant(t).Tenant.ID
	resolve := func(m pgstore.CustomerMatch) pgstore.CustomerLink {
		t.Helper()
		l, err := store.ResolveInteractionCustomer(ctx, tenant, m)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	acct := func(v string) map[string]string { return map[string]string{"acct": v} }

	// No settings: nothing is linked or created.
	if l := resolve(pgstore.CustomerMatch{Phone: "+385911111111", Metadata: acct("A"), Inbound: true}); l.CustomerID != "" {
		t.Fatalf("without settings: %+v", l)
	}
	known := newCustomer(t, tenant, pgstore.NewCustomer{Name: "Known", Identifiers: map[string]string{"acct": "A"}})
	setJourney(t, tenant, []string{"contactId", "acct"}, false)
	if l := resolve(pgstore.CustomerMatch{Metadata: acct("A")}); l.CustomerID != known.ID || l.Created {
		t.Errorf("by identifier: %+v", l)
	}
	if l := resolve(pgstore.CustomerMatch{Metadata: acct("B"), Phone: "+385911111111", Inbound: true}); l.CustomerID != "" {
		t.Errorf("unknown identifier, creation off: %+v", l)
	}
	// The first configured key that names a customer wins.
	other := newCustomer(t, tenant, pgstore.NewCustomer{Name: "Other", Identifiers: map[string]string{"contactId": "C-1"}})
	if l := resolve(pgstore.CustomerMatch{Metadata: map[string]string{"acct": "A", "contactId": "C-1"}}); l.CustomerID != other.ID {
		t.Errorf("first key: %+v", l)
	}

	setJourney(t, tenant, []string{"contactId", "acct"}, true)
	l := resolve(pgstore.CustomerMatch{Metadata: acct("B"), Phone: "+385 91 222 2222", Name: "Bea", Inbound: true})
	if l.CustomerID == "" || !l.Created {
		t.Fatalf("created for an unknown identifier: %+v", l)
	}
	bea, _ := store.GetCustomer(ctx, tenant, l.CustomerID)
	if bea.Name != "Bea" || bea.Identifiers["acct"] != "B" || !slices.Equal(bea.Phones, []string{"+385912222222"}) {
		t.Errorf("created customer: %+v", bea)
	}
	if again := resolve(pgstore.CustomerMatch{Metadata: acct("B")}); again.CustomerID != bea.ID || again.Created {
		t.Errorf("the second contact finds it: %+v", again)
	}
	// By phone: the one customer with the number, who learns the identifier.
	if l := resolve(pgstore.CustomerMatch{Phone: "+385912222222", Metadata: map[string]string{"contactId": "C-2"}, Inbound: true}); l.CustomerID != bea.ID || l.Created {
		t.Errorf("by phone: %+v", l)
	}
	if bea, _ = store.GetCustomer(ctx, tenant, bea.ID); bea.Identifiers["contactId"] != "C-2" {
		t.Errorf("identifier learnt: %+v", bea.Identifiers)
	}
	// Several customers share a number: none is picked, none created.
	newCustomer(t, tenant, pgstore.NewCustomer{Name: "Twin 1", Phones: []string{"+385913333333"}})
	newCustomer(t, tenant, pgstore.NewCustomer{Name: "Twin 2", Phones: []string{"+385913333333"}})
	if l := resolve(pgstore.CustomerMatch{Phone: "+385913333333", Inbound: true}); l.CustomerID != "" {
		t.Errorf("shared number: %+v", l)
	}
	// Outbound interactions and numbers that do not normalise create nothing.
	if l := resolve(pgstore.CustomerMatch{Phone: "+385914444444"}); l.CustomerID != "" {
		t.Errorf("outbound: %+v", l)
	}
	if l := resolve(pgstore.CustomerMatch{Phone: "anonymous", Inbound: true}); l.CustomerID != "" {
		t.Errorf("no number: %+v", l)
	}
	// An unknown number creates a customer.
	if l := resolve(pgstore.CustomerMatch{Phone: "+385914444444", Inbound: true}); l.CustomerID == "" || !l.Created {
		t.Errorf("first contact: %+v", l)
	}
}

// Concurrent first contacts carrying one identifier create one customer.
func TestResolveInteractionCustomerConcurrently(t *testing.T) {
	ctx := testContext(t)
	tenant := newTenant(t).Tenant.ID
	setJourney(t, tenant, []string{"acct"}, true)
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		ids     = map[string]bool{}
		created int
	)
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Half also come from the same number: the locks are taken in one order.
			m := pgstore.CustomerMatch{Metadata: map[string]string{"acct": "Z-9"}, Inbound: true}
			if i%2 == 0 {
				m.Phone = "+385915555555"
			}
			l, err := store.ResolveInteractionCustomer(ctx, tenant, m)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Error(err)
				return
			}
			ids[l.CustomerID] = true
			if l.Created {
				created++
			}
		}()
	}
	wg.Wait()
	if len(ids) != 1 || created != 1 {
		t.Errorf("customers %v, %d created; want one", ids, created)
	}
}

// journeyInteraction writes an interaction of the tenant created at `at`, over
// (abandoned) or waiting, with metadata and a customer.
func journeyInteraction(t *testing.T, tenantID, queueID string, at time.Time, over bool, metadata map[string]string, customerID string) pgstore.Interaction {
	t.Helper()
	in := newInteraction(tenantID, queueID, routing.Voice, routing.PriorityNormal, at)
	in.Metadata, in.CustomerID = metadata, customerID
	if over {
		ended := at.Add(time.Minute)
		in.Status, in.EndedAt, in.Outcome, in.Version = pgstore.InteractionAbandoned, &ended, pgstore.OutcomeAbandoned, 3
	}
	return enqueue(t, in)
}

func TestJourneyBackfillBatches(t *testing.T) {
	ctx := testContext(t)
	ct := newTenant(t)
	tenant := ct.Tenant.ID
	queue, err := store.DefaultQueueID(ctx, tenant)
	if err != nil {
		t.Fatal(err)
	}
	wfID := func(id string) string { return "journey-backfill/" + id }
	if _, _, err := store.StartJourneyBackfill(ctx, tenant, pgstore.Actor{}, uuid.NewString(), wfID); err == nil {
		t.Fatal("a backfill without identifiers started")
	}
	alice := newCustomer(t, tenant, pgstore.NewCustomer{Name: "Alice", Identifiers: map[string]string{"acct": "A"}})
	setJourney(t, tenant, []string{"acct"}, true)

	base := time.Now().Add(-time.Hour).UTC().Truncate(time.Microsecond)
	i1 := journeyInteraction(t, tenant, queue, base, true, map[string]string{"acct": "A"}, "")
	i2 := journeyInteraction(t, tenant, queue, base.Add(time.Second), true, map[string]string{"acct": "B"}, "")
	i3 := journeyInteraction(t, tenant, queue, base.Add(2*time.Second), false, map[string]string{"acct": "A"}, "")
	journeyInteraction(t, tenant, queue, base.Add(3*time.Second), true, nil, "")
	i5 := journeyInteraction(t, tenant, queue, base.Add(4*time.Second), true, map[string]string{"acct": "A"}, "someone-else")

	b, started, err := store.StartJourneyBackfill(ctx, tenant, pgstore.Actor{UserID: ct.Admin.ID}, uuid.NewString(), wfID)
	if err != nil || !started || b.Total != 5 || b.Status != pgstore.BackfillRunning || b.WorkflowID != wfID(b.ID) ||
		!slices.Equal(b.Identifiers, []string{"acct"}) || !b.CreateCustomers {
		t.Fatalf("started: %+v %v %v", b, started, err)
	}
	// Created after the start: not walked.
	journeyInteraction(t, tenant, queue, time.Now().UTC(), true, map[string]string{"acct": "A"}, "")
	// One runs at a time: a second start answers the running one.
	again, started, err := store.StartJourneyBackfill(ctx, tenant, pgstore.Actor{}, uuid.NewString(), wfID)
	if err != nil || started || again.ID != b.ID {
		t.Fatalf("second start: %+v %v %v", again, started, err)
	}

	// walk runs one batch as JourneyBackfillBatch does for interactions that are over.
	walk := func(limit int) (pgstore.JourneyBatch, pgstore.JourneyBackfill) {
		t.Helper()
		batch, err := store.NextJourneyBatch(ctx, tenant, b.ID, limit)
		if err != nil {
			t.Fatal(err)
		}
		var cands []pgstore.JourneyCandidate
		for _, c := range batch.Items {
			if batch.Backfill.Pairs(c) {
				cands = append(cands, c)
			}
		}
		found, err := store.ResolveBackfillCustomers(ctx, batch.Backfill, cands)
		if err != nil {
			t.Fatal(err)
		}
		var links []pgstore.JourneyLink
		for i, c := range cands {
			links = append(links, pgstore.JourneyLink{InteractionID: c.ID, CustomerID: found[i].CustomerID})
		}
		var to *pgstore.JourneyPosition
		if n := len(batch.Items); n > 0 {
			to = &pgstore.JourneyPosition{CreatedAt: batch.Items[n-1].CreatedAt, InteractionID: batch.Items[n-1].ID}
		}
		after, err := store.CommitJourneyBatch(ctx, tenant, b.ID, batch.From, to, len(batch.Items), 0, links)
		if err != nil {
			t.Fatal(err)
		}
		return batch, after
	}
	batch, after := walk(2)
	if len(batch.Items) != 2 || batch.Items[0].ID != i1.ID || batch.Items[1].ID != i2.ID || batch.Last || batch.From != nil {
		t.Fatalf("first batch: %+v", batch)
	}
	if after.Processed != 2 || after.Linked != 2 || after.CustomersCreated != 1 || after.Batches != 1 ||
		after.Last == nil || after.Last.InteractionID != i2.ID {
		t.Fatalf("after the first batch: %+v", after.JourneyProgress)
	}
	if got := getInteraction(t, tenant, i1.ID); got.CustomerID != alice.ID || got.Version != 3 {
		t.Errorf("i1 linked to Alice in the read model, version kept: %+v", got.InteractionState)
	}
	bob := getInteraction(t, tenant, i2.ID).CustomerID
	if c, err := store.GetCustomer(ctx, tenant, bob); err != nil || c.Identifiers["acct"] != "B" {
		t.Errorf("customer created for B: %+v %v", c, err)
	}
	tl, err := store.Timeline(ctx, tenant, i1.ID)
	if err != nil || !slices.ContainsFunc(tl, func(e pgstore.TimelineEntry) bool {
		return e.Type == "customerLinkedToInteraction" && e.Data["journeyBackfillId"] == b.ID
	}) {
		t.Errorf("timeline of i1: %+v %v", tl, err)
	}

	// The same batch committed again (a retry whose first commit went through)
	// changes nothing, and the next read starts after the committed position.
	dup, err := store.CommitJourneyBatch(ctx, tenant, b.ID, nil, &pgstore.JourneyPosition{CreatedAt: i2.CreatedAt, InteractionID: i2.ID}, 2, 5, nil)
	if err != nil || dup.Processed != 2 || dup.Linked != 2 || dup.Batches != 1 {
		t.Errorf("repeated commit: %+v %v", dup.JourneyProgress, err)
	}
	next, err := store.NextJourneyBatch(ctx, tenant, b.ID, 1)
	if err != nil || len(next.Items) != 1 || next.Items[0].ID != i3.ID || next.From == nil || next.From.InteractionID != i2.ID {
		t.Fatalf("resumed batch: %+v %v", next, err)
	}
	// i3 is waiting: its workflow links it, never the read model directly.
	batch, after = walk(1)
	if batch.Items[0].ID != i3.ID || after.Processed != 3 || after.Linked != 2 {
		t.Errorf("batch of a live interaction: %+v", after.JourneyProgress)
	}
	if got := getInteraction(t, tenant, i3.ID); got.CustomerID != "" {
		t.Errorf("a live interaction was written behind its workflow: %q", got.CustomerID)
	}
	batch, after = walk(10)
	if len(batch.Items) != 2 || !batch.Last || after.Processed != 5 || after.Linked != 2 {
		t.Errorf("last batch: %+v, progress %+v", batch.Items, after.JourneyProgress)
	}
	if got := getInteraction(t, tenant, i5.ID); got.CustomerID != "someone-else" {
		t.Errorf("an interaction already linked was relinked: %q", got.CustomerID)
	}

	done, err := store.FinishJourneyBackfill(ctx, tenant, b.ID, "")
	if err != nil || done.Status != pgstore.BackfillCompleted || done.CompletedAt == nil || !done.Done {
		t.Fatalf("finished: %+v %v", done, err)
	}
	if n := auditCount(t, tenant, "journey.backfill_completed", b.ID); n != 1 {
		t.Errorf("completion audited %d times", n)
	}
	if again, err := store.FinishJourneyBackfill(ctx, tenant, b.ID, "late failure"); err != nil || again.Status != pgstore.BackfillCompleted {
		t.Errorf("finishing twice: %+v %v", again, err)
	}
	// A later start is a new backfill.
	later, started, err := store.StartJourneyBackfill(ctx, tenant, pgstore.Actor{}, uuid.NewString(), wfID)
	if err != nil || !started || later.ID == b.ID || later.Total != 6 {
		t.Errorf("later start: %+v %v %v", later, started, err)
	}
	list, err := store.ListJourneyBackfills(ctx, tenant, 10)
	if err != nil || len(list) != 2 || list[0].ID != later.ID {
		t.Errorf("list: %+v %v", list, err)
	}
	if _, err := store.GetJourneyBackfill(ctx, newTenant(t).Tenant.ID, b.ID); !errors.Is(err, pgstore.ErrNotFound) {
		t.Errorf("another tenant's backfill: %v", err)
	}
}

// BenchmarkResolveInteractionCustomer measures what linking adds to the creation of an
// interaction: a tenant without journey settings (one read), a known identifier, and
// a first contact that creates the customer.
func BenchmarkResolveInteractionCustomer(b *testing.B) {
	ctx := context.Background()
	tenant := func() string {
		slug := "b-" + pgtest.RandomHex(6)
		ct, err := store.CreateTenant(ctx, pgstore.Actor{}, pgstore.NewTenant{Slug: slug, Name: slug, TimeZone: "UTC",
			Admin: pgstore.NewUser{Email: "admin@" + slug + ".example", Name: "Admin"}})
		if err != nil {
			b.Fatal(err)
		}
		return ct.Tenant.ID
	}
	plain, linked := tenant(), tenant()
	ids, on := []string{"acct"}, true
	if _, err := store.UpdateJourneySettings(ctx, linked, pgstore.Actor{}, pgstore.JourneySettingsUpdate{Identifiers: &ids, CreateOnFirstContact: &on}); err != nil {
		b.Fatal(err)
	}
	if _, err := store.CreateCustomer(ctx, linked, pgstore.Actor{}, pgstore.NewCustomer{Name: "Known", Identifiers: map[string]string{"acct": "K"}}); err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name   string
		tenant string
		match  func(i int) pgstore.CustomerMatch
	}{
		{"no settings", plain, func(int) pgstore.CustomerMatch {
			return pgstore.CustomerMatch{Phone: "+385911111111", Metadata: map[string]string{"acct": "K"}, Inbound: true}
		}},
		{"known identifier", linked, func(int) pgstore.CustomerMatch {
			return pgstore.CustomerMatch{Metadata: map[string]string{"acct": "K"}}
		}},
		{"first contact creates", linked, func(i int) pgstore.CustomerMatch {
			return pgstore.CustomerMatch{Phone: fmt.Sprintf("+38599%07d", i), Name: "New", Inbound: true}
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				if _, err := store.ResolveInteractionCustomer(ctx, bc.tenant, bc.match(i)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkJourneyBackfill walks a backfill over 1000 interactions that are over, in
// batches of 500 as JourneyBackfillBatch does, linking each by its account number
// (500 accounts, each customer created on its first interaction).
func BenchmarkJourneyBackfill(b *testing.B) {
	ctx := context.Background()
	const interactions, accounts, batch = 1000, 500, 500
	for b.Loop() {
		b.StopTimer()
		slug := "b-" + pgtest.RandomHex(6)
		ct, err := store.CreateTenant(ctx, pgstore.Actor{}, pgstore.NewTenant{Slug: slug, Name: slug, TimeZone: "UTC",
			Admin: pgstore.NewUser{Email: "admin@" + slug + ".example", Name: "Admin"}})
		if err != nil {
			b.Fatal(err)
		}
		tenant := ct.Tenant.ID
		queue, err := store.DefaultQueueID(ctx, tenant)
		if err != nil {
			b.Fatal(err)
		}
		base := time.Now().Add(-time.Hour).UTC()
		for i := range interactions {
			in := newInteraction(tenant, queue, routing.Voice, routing.PriorityNormal, base.Add(time.Duration(i)*time.Millisecond))
			ended := in.CreatedAt.Add(time.Second)
			in.Status, in.EndedAt, in.Outcome, in.Version = pgstore.InteractionAbandoned, &ended, pgstore.OutcomeAbandoned, 2
			in.Metadata = map[string]string{"acct": fmt.Sprintf("A-%d", i%accounts)}
			if _, err := store.EnqueueInteraction(ctx, in); err != nil {
				b.Fatal(err)
			}
		}
		ids, on := []string{"acct"}, true
		if _, err := store.UpdateJourneySettings(ctx, tenant, pgstore.Actor{}, pgstore.JourneySettingsUpdate{Identifiers: &ids, CreateOnFirstContact: &on}); err != nil {
			b.Fatal(err)
		}
		bf, _, err := store.StartJourneyBackfill(ctx, tenant, pgstore.Actor{}, uuid.NewString(), func(id string) string { return "journey-backfill/" + id })
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		for {
			next, err := store.NextJourneyBatch(ctx, tenant, bf.ID, batch)
			if err != nil {
				b.Fatal(err)
			}
			found, err := store.ResolveBackfillCustomers(ctx, next.Backfill, next.Items)
			if err != nil {
				b.Fatal(err)
			}
			var links []pgstore.JourneyLink
			for i, c := range next.Items {
				if found[i].CustomerID != "" {
					links = append(links, pgstore.JourneyLink{InteractionID: c.ID, CustomerID: found[i].CustomerID})
				}
			}
			var to *pgstore.JourneyPosition
			if n := len(next.Items); n > 0 {
				to = &pgstore.JourneyPosition{CreatedAt: next.Items[n-1].CreatedAt, InteractionID: next.Items[n-1].ID}
			}
			p, err := store.CommitJourneyBatch(ctx, tenant, bf.ID, next.From, to, len(next.Items), 0, links)
			if err != nil {
				b.Fatal(err)
			}
			if next.Last {
				if p.Processed != interactions || p.Linked != interactions || p.CustomersCreated != accounts {
					b.Fatalf("progress %+v", p.JourneyProgress)
				}
				break
			}
		}
	}
	b.ReportMetric(float64(interactions*b.N)/b.Elapsed().Seconds(), "interactions/s")
}
