package pgstore_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"switchboard/pgstore"
)

// scheduled is a callback as its workflow first writes it.
func scheduled(tenantID string, due time.Time, agent, creator string) pgstore.Callback {
	id := uuid.NewString()
	return pgstore.Callback{ID: id, TenantID: tenantID, WorkflowID: "callback/" + id, Status: pgstore.CallbackScheduled,
		DueAt: due, SelfCallback: agent != "", AgentID: agent, Phone: "+385915550101", Customer: "+385915550101",
		CustomerName: "Ana Customer", Notes: "wants a quote", CreatedBy: creator, Version: 1,
		CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
}

func recordCallback(t *testing.T, c pgstore.Callback, typ pgstore.CallbackEventType, actor string) bool {
	t.Helper()
	ok, err := store.RecordCallback(testContext(t), c, pgstore.CallbackEvent{Version: c.Version, Type: typ, At: time.Now().UTC(), DueAt: c.DueAt, ActorID: actor})
	if err != nil {
		t.Fatalf("RecordCallback v%d %s: %v", c.Version, typ, err)
	}
	return ok
}

// A callback's writes are idempotent by version: a retry rewrites the same state, an
// older write retried late changes nothing, and the history keeps one entry per
// version (the reschedule with its old time and reason).
func TestCallbackRecordIsIdempotent(t *testing.T) {
	ten := newTenant(t)
	agent := newUser(t, ten.Tenant.ID, pgstore.RoleAgent)
	ctx := testContext(t)
	due := time.Now().Add(time.Hour).UTC().Truncate(time.Microsecond)
	c := scheduled(ten.Tenant.ID, due, agent.ID, agent.ID)
	recordCallback(t, c, pgstore.CallbackEventScheduled, agent.ID)
	if !recordCallback(t, c, pgstore.CallbackEventScheduled, agent.ID) {
		t.Error("a retry of the same version was not written")
	}
	moved := c
	moved.DueAt, moved.Reschedules, moved.Version = due.Add(time.Hour), 1, 2
	prev := c.DueAt
	if _, err := store.RecordCallback(ctx, moved, pgstore.CallbackEvent{Version: 2, Type: pgstore.CallbackEventRescheduled,
		At: time.Now().UTC(), DueAt: moved.DueAt, PreviousDueAt: &prev, Reason: "customer asked for later", ActorID: agent.ID}); err != nil {
		t.Fatal(err)
	}
	if recordCallback(t, c, pgstore.CallbackEventScheduled, agent.ID) {
		t.Error("an older version overwrote a newer one")
	}
	got, err := store.GetCallback(ctx, ten.Tenant.ID, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.DueAt.Equal(moved.DueAt) || got.Version != 2 || got.Reschedules != 1 || got.Status != pgstore.CallbackScheduled ||
		got.AgentID != agent.ID || got.Phone != c.Phone || got.Notes != c.Notes || got.CustomerName != c.CustomerName {
		t.Errorf("stored %+v", got)
	}
	h, err := store.CallbackHistory(ctx, ten.Tenant.ID, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 2 || h[0].Type != pgstore.CallbackEventScheduled || h[1].Type != pgstore.CallbackEventRescheduled ||
		h[1].PreviousDueAt == nil || !h[1].PreviousDueAt.Equal(due) || !h[1].DueAt.Equal(moved.DueAt) ||
		h[1].Reason != "customer asked for later" || h[1].ActorID != agent.ID {
		t.Errorf("history %+v", h)
	}
	// Fired: dialing, then completed with its interaction.
	ix := uuid.NewString()
	now := time.Now().UTC().Truncate(time.Microsecond)
	fired := moved
	fired.Status, fired.Generation, fired.InteractionID, fired.FiredAt, fired.Version = pgstore.CallbackDialing, 1, ix, &now, 3
	recordCallback(t, fired, pgstore.CallbackEventDialing, "")
	fired.Status, fired.Version = pgstore.CallbackCompleted, 4
	recordCallback(t, fired, pgstore.CallbackEventCompleted, "")
	got, _ = store.GetCallback(ctx, ten.Tenant.ID, c.ID)
	if got.Status != pgstore.CallbackCompleted || got.InteractionID != ix || got.Generation != 1 || got.FiredAt == nil {
		t.Errorf("fired %+v", got)
	}
	// Another tenant sees nothing.
	other := newTenant(t)
	if _, err := store.GetCallback(ctx, other.Tenant.ID, c.ID); !errors.Is(err, pgstore.ErrNotFound) {
		t.Errorf("another tenant's read: %v", err)
	}
	if h, _ := store.CallbackHistory(ctx, other.Tenant.ID, c.ID); len(h) != 0 {
		t.Errorf("another tenant's history %+v", h)
	}
}

// Writes that break the callback's rules are refused naming the field.
func TestCallbackRecordValidation(t *testing.T) {
	ten := newTenant(t)
	due := time.Now().Add(time.Hour).UTC()
	base := scheduled(ten.Tenant.ID, due, "", "")
	cases := []struct {
		field  string
		change func(*pgstore.Callback)
	}{
		{"phone", func(c *pgstore.Callback) { c.Phone = "+385 91 555 0101" }},
		{"phone", func(c *pgstore.Callback) { c.Phone = "call me" }},
		{"agentId", func(c *pgstore.Callback) { c.SelfCallback = true }},
		{"reason", func(c *pgstore.Callback) { c.Status = pgstore.CallbackCancelled }},
		{"interactionId", func(c *pgstore.Callback) { c.Status = pgstore.CallbackCompleted }},
		{"status", func(c *pgstore.Callback) { c.Status = "pending" }},
		{"version", func(c *pgstore.Callback) { c.Version = 0 }},
		{"notes", func(c *pgstore.Callback) { c.Notes = string(make([]rune, pgstore.MaxCallbackNotes+1)) }},
		{"queueId", func(c *pgstore.Callback) { c.QueueID = "default" }},
	}
	for _, tc := range cases {
		c := base
		tc.change(&c)
		_, err := store.RecordCallback(testContext(t), c, pgstore.CallbackEvent{Version: c.Version, Type: pgstore.CallbackEventScheduled, At: due, DueAt: due})
		var v *pgstore.ValidationError
		if !errors.As(err, &v) || v.Field != tc.field {
			t.Errorf("%s: %v", tc.field, err)
		}
	}
	if _, err := store.GetCallback(testContext(t), ten.Tenant.ID, base.ID); !errors.Is(err, pgstore.ErrNotFound) {
		t.Errorf("a refused write was stored: %v", err)
	}
}

// Versions written concurrently and out of order leave the newest one: the read model
// never rolls back, whatever order retried activities land in.
func TestCallbackConcurrentWritesKeepTheNewest(t *testing.T) {
	ten := newTenant(t)
	due := time.Now().Add(time.Hour).UTC().Truncate(time.Microsecond)
	c := scheduled(ten.Tenant.ID, due, "", "")
	recordCallback(t, c, pgstore.CallbackEventScheduled, "")
	const n = 20
	order := rand.Perm(n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for _, i := range order {
		wg.Add(1)
		go func(v int64) {
			defer wg.Done()
			next := c
			next.Version, next.Reschedules, next.DueAt = v, int(v-1), due.Add(time.Duration(v)*time.Minute)
			_, err := store.RecordCallback(testContext(t), next, pgstore.CallbackEvent{Version: v, Type: pgstore.CallbackEventRescheduled,
				At: time.Now().UTC(), DueAt: next.DueAt, Reason: fmt.Sprintf("move %d", v)})
			errs <- err
		}(int64(i + 2))
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	got, err := store.GetCallback(testContext(t), ten.Tenant.ID, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != n+1 || !got.DueAt.Equal(due.Add(time.Duration(n+1)*time.Minute)) {
		t.Errorf("after concurrent writes: version %d due %v", got.Version, got.DueAt)
	}
	h, _ := store.CallbackHistory(testContext(t), ten.Tenant.ID, c.ID)
	if len(h) != n+1 {
		t.Errorf("history has %d entries, want %d", len(h), n+1)
	}
}

// The list is by due time; an agent's own are those for them or scheduled by them;
// the default keeps the open ones; filters by campaign, status and due range, and
// pages with a cursor.
func TestListCallbacks(t *testing.T) {
	ten := newTenant(t)
	tid := ten.Tenant.ID
	ana := newUser(t, tid, pgstore.RoleAgent)
	bo := newUser(t, tid, pgstore.RoleAgent)
	camp := newCampaign(t, tid, "Renewals")
	base := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	// Ana's self-callback, one she scheduled for the queue, Bo's, one in the
	// campaign, and a cancelled one of Ana's.
	anaSelf := scheduled(tid, base.Add(3*time.Minute), ana.ID, ana.ID)
	anaQueue := scheduled(tid, base.Add(1*time.Minute), "", ana.ID)
	boSelf := scheduled(tid, base.Add(2*time.Minute), bo.ID, bo.ID)
	inCampaign := scheduled(tid, base.Add(4*time.Minute), "", ten.Admin.ID)
	inCampaign.CampaignID = camp.ID
	cancelled := scheduled(tid, base.Add(5*time.Minute), ana.ID, ana.ID)
	for _, c := range []pgstore.Callback{anaSelf, anaQueue, boSelf, inCampaign, cancelled} {
		recordCallback(t, c, pgstore.CallbackEventScheduled, c.CreatedBy)
	}
	now := time.Now().UTC()
	cancelled.Status, cancelled.Reason, cancelled.ClosedBy, cancelled.ClosedAt, cancelled.Version = pgstore.CallbackCancelled, "no longer needed", ana.ID, &now, 2
	recordCallback(t, cancelled, pgstore.CallbackEventCancelled, ana.ID)
	// Another tenant's never shows.
	other := newTenant(t)
	recordCallback(t, scheduled(other.Tenant.ID, base, "", ""), pgstore.CallbackEventScheduled, "")

	ids := func(f pgstore.CallbackFilter) []string {
		t.Helper()
		p, err := store.ListCallbacks(testContext(t), tid, f)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, c := range p.Items {
			out = append(out, c.ID)
		}
		return out
	}
	want := func(what string, got []string, cs ...pgstore.Callback) {
		t.Helper()
		if len(got) != len(cs) {
			t.Errorf("%s: got %d callbacks %v, want %d", what, len(got), got, len(cs))
			return
		}
		for i, c := range cs {
			if got[i] != c.ID {
				t.Errorf("%s: [%d] is %s, want %s", what, i, got[i], c.ID)
			}
		}
	}
	want("all open", ids(pgstore.CallbackFilter{}), anaQueue, boSelf, anaSelf, inCampaign)
	want("Ana's", ids(pgstore.CallbackFilter{Owner: ana.ID}), anaQueue, anaSelf)
	want("Ana's, all statuses", ids(pgstore.CallbackFilter{Owner: ana.ID, Statuses: pgstore.CallbackStatuses}), anaQueue, anaSelf, cancelled)
	want("cancelled", ids(pgstore.CallbackFilter{Statuses: []pgstore.CallbackStatus{pgstore.CallbackCancelled}}), cancelled)
	want("campaign", ids(pgstore.CallbackFilter{CampaignID: camp.ID}), inCampaign)
	want("due range", ids(pgstore.CallbackFilter{From: base.Add(2 * time.Minute), To: base.Add(4 * time.Minute)}), boSelf, anaSelf)

	first, err := store.ListCallbacks(testContext(t), tid, pgstore.CallbackFilter{Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Items) != 3 || first.NextCursor == "" {
		t.Fatalf("first page %d items, cursor %q", len(first.Items), first.NextCursor)
	}
	want("second page", ids(pgstore.CallbackFilter{Limit: 3, Cursor: first.NextCursor}), inCampaign)

	for _, tc := range []struct {
		field string
		f     pgstore.CallbackFilter
	}{
		{"status", pgstore.CallbackFilter{Statuses: []pgstore.CallbackStatus{"late"}}},
		{"agentId", pgstore.CallbackFilter{Owner: "ana"}},
		{"campaignId", pgstore.CallbackFilter{CampaignID: "x"}},
		{"to", pgstore.CallbackFilter{From: base, To: base.Add(-time.Hour)}},
		{"limit", pgstore.CallbackFilter{Limit: 500}},
		{"cursor", pgstore.CallbackFilter{Cursor: "nope"}},
	} {
		_, err := store.ListCallbacks(testContext(t), tid, tc.f)
		var v *pgstore.ValidationError
		if !errors.As(err, &v) || v.Field != tc.field {
			t.Errorf("%s: %v", tc.field, err)
		}
	}
}

// A callback's time is checked against now: not in the past, at most a year ahead.
func TestValidateCallbackDue(t *testing.T) {
	now := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		due time.Time
		ok  bool
	}{
		{now.Add(time.Minute), true},
		{now, true},
		{now.Add(-time.Hour), false},
		{now.Add(pgstore.MaxCallbackAhead), true},
		{now.Add(pgstore.MaxCallbackAhead + time.Minute), false},
		{time.Time{}, false},
	} {
		err := pgstore.ValidateCallbackDue("at", tc.due, now)
		if (err == nil) != tc.ok {
			t.Errorf("due %v: %v", tc.due, err)
		}
	}
	if err := pgstore.ValidateCallbackReason("reason", "  ", true); err == nil {
		t.Error("an empty required reason passed")
	}
	if err := pgstore.ValidateCallbackReason("reason", "", false); err != nil {
		t.Errorf("an empty optional reason: %v", err)
	}
}
