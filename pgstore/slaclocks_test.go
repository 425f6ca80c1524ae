package pgstore_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"switchboard/pgstore"
	"switchboard/sla"
)

// clockRecord is a record of a conversation whose first response breached at
// start+1m and whose resolution runs, due at start+10m, evaluated at at.
func clockRecord(tenantID, queueID, interactionID string, p pgstore.SLAPolicy, start, at time.Time, seq int64) pgstore.SLAClockRecord {
	sev := p.Severities[0]
	return pgstore.SLAClockRecord{
		TenantID: tenantID, InteractionID: interactionID, QueueID: queueID, StartedAt: start, Open: true, Seq: seq, Generation: 1,
		Match: &pgstore.SLAMatch{PolicyID: p.ID, PolicyName: p.Name, Severity: sev},
		Result: sla.Result{At: at, Clocks: []sla.Clock{
			{Metric: sla.FirstResponse, State: sla.Running, Target: time.Minute, Cycle: 1, StartedAt: start, Elapsed: at.Sub(start),
				Remaining: time.Minute - at.Sub(start), DueAt: start.Add(time.Minute), Breached: true, BreachedAt: start.Add(time.Minute)},
			{Metric: sla.Resolution, State: sla.Running, Target: 10 * time.Minute, Cycle: 1, StartedAt: start, Elapsed: at.Sub(start),
				Remaining: 10*time.Minute - at.Sub(start), DueAt: start.Add(10 * time.Minute)},
		}, Breaches: []sla.Breach{{Metric: sla.FirstResponse, Cycle: 1, At: start.Add(time.Minute)}}},
	}
}

func TestSLASecondsTargetsAndGeneration(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	tn := newTenant(t)
	if g, err := store.SLAGeneration(ctx, tn.Tenant.ID); err != nil || g != 0 {
		t.Fatalf("generation before any policy: %d, %v", g, err)
	}
	p := newSLAPolicy(t, tn.Tenant.ID, "Fast", func(in *pgstore.NewSLAPolicy) {
		in.Severities = []sla.Severity{{Name: "Default", Default: true, FirstResponseSeconds: 5, ResolutionMinutes: 1, Counting: sla.Always}}
	})
	if s := p.Severities[0]; s.FirstResponseSeconds != 5 || s.FirstResponseMinutes != 0 || s.Target(sla.FirstResponse) != 5*time.Second || s.Target(sla.Resolution) != time.Minute {
		t.Fatalf("severity %+v", s)
	}
	_, err := store.CreateSLAPolicy(ctx, tn.Tenant.ID, pgstore.Actor{}, pgstore.NewSLAPolicy{Name: "Both", Condition: cond("channel", "is", "live_chat"),
		Severities: []sla.Severity{{Name: "Default", Default: true, NextReplyMinutes: 1, NextReplySeconds: 5, Counting: sla.Always}}})
	var v *pgstore.ValidationError
	if !errors.As(err, &v) || v.Field != "severities[0].nextReplySeconds" {
		t.Fatalf("minutes and seconds of one metric: %v", err)
	}
	newSLAPolicy(t, tn.Tenant.ID, "Second", nil)
	if _, err := store.UpdateSLAPolicy(ctx, tn.Tenant.ID, pgstore.Actor{}, p.ID, pgstore.SLAPolicyUpdate{Position: ptrInt(2)}); err != nil {
		t.Fatal(err)
	}
	if err := store.DeleteSLAPolicy(ctx, tn.Tenant.ID, pgstore.Actor{}, p.ID); err != nil {
		t.Fatal(err)
	}
	if g, err := store.SLAGeneration(ctx, tn.Tenant.ID); err != nil || g != 4 {
		t.Fatalf("generation after create, create, edit, delete: %d, %v", g, err)
	}
}

func ptrInt(n int) *int { return &n }

func TestSLAClockWrites(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	tn := newTenant(t)
	q := newQueue(t, tn.Tenant.ID, "Support")
	p := newSLAPolicy(t, tn.Tenant.ID, "Gold", nil)
	ix := uuid.NewString()
	start := time.Now().Add(-2 * time.Minute).UTC().Truncate(time.Millisecond)
	r := clockRecord(tn.Tenant.ID, q.ID, ix, p, start, start.Add(90*time.Second), 1)
	for range 2 { // a retried write changes nothing
		if _, err := store.WriteSLAClock(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	bs, err := store.SLABreachesToPublish(ctx, tn.Tenant.ID, ix)
	if err != nil || len(bs) != 1 || bs[0].Metric != sla.FirstResponse || bs[0].Version != 1 || bs[0].TargetSeconds != 900 || bs[0].PolicyName != "Gold" {
		t.Fatalf("to publish: %+v, %v", bs, err)
	}
	if err := store.MarkSLABreachPublished(ctx, tn.Tenant.ID, bs[0]); err != nil {
		t.Fatal(err)
	}
	if bs, _ := store.SLABreachesToPublish(ctx, tn.Tenant.ID, ix); len(bs) != 0 {
		t.Fatalf("published breach listed again: %+v", bs)
	}

	now := start.Add(2 * time.Minute)
	c, err := store.SLAConversation(ctx, tn.Tenant.ID, ix, now)
	if err != nil {
		t.Fatal(err)
	}
	if c.Policy == nil || c.Policy.ID != p.ID || c.Severity.Name != "Default" || !c.Open || c.Breaches != 1 ||
		c.OverdueSince == nil || !c.OverdueSince.Equal(start.Add(time.Minute)) || c.NextDueAt == nil || !c.NextDueAt.Equal(start.Add(10*time.Minute)) {
		t.Fatalf("conversation %+v", c)
	}
	res := c.Metrics[1]
	if res.Metric != sla.Resolution || res.ElapsedSeconds != 120 || res.RemainingSeconds != 480 || res.Breached {
		t.Fatalf("resolution counted to now: %+v", res)
	}

	// An older write retried late changes nothing; a newer one that no longer has
	// the breach (recalculated) withdraws it, and one that has it again brings it back.
	older := r
	older.Seq, older.Open = 0, false
	if ok, err := store.WriteSLAClock(ctx, older); err == nil || ok {
		t.Fatalf("seq 0 accepted: %v", err)
	}
	recalc := r
	recalc.Seq, recalc.Result.Breaches = 2, nil
	recalc.Result.Clocks = recalc.Result.Clocks[1:]
	if ok, err := store.WriteSLAClock(ctx, recalc); err != nil || !ok {
		t.Fatalf("recalculation: %v, %v", ok, err)
	}
	if ok, err := store.WriteSLAClock(ctx, r); err != nil || ok {
		t.Fatalf("seq 1 after seq 2: applied %v, %v", ok, err)
	}
	bs, _ = store.SLABreachesToPublish(ctx, tn.Tenant.ID, ix)
	if len(bs) != 1 || bs[0].WithdrawnAt == nil || bs[0].Version != 2 {
		t.Fatalf("withdrawn breach: %+v", bs)
	}
	again := r
	again.Seq = 3
	if _, err := store.WriteSLAClock(ctx, again); err != nil {
		t.Fatal(err)
	}
	bs, _ = store.SLABreaches(ctx, tn.Tenant.ID, ix)
	if len(bs) != 1 || bs[0].WithdrawnAt != nil || bs[0].Version != 3 {
		t.Fatalf("breach standing again: %+v", bs)
	}
	closed := again
	closed.Seq, closed.Open = 4, false
	if _, err := store.WriteSLAClock(ctx, closed); err != nil {
		t.Fatal(err)
	}
	c, _ = store.SLAConversation(ctx, tn.Tenant.ID, ix, now.Add(time.Hour))
	if c.Open || c.OverdueSince != nil || c.NextDueAt != nil || !c.AsOf.Equal(c.EvaluatedAt) || c.Metrics[1].ElapsedSeconds != 90 {
		t.Fatalf("closed clock: %+v", c)
	}
	if _, err := store.SLAConversation(ctx, tn.Tenant.ID, uuid.NewString(), now); !errors.Is(err, pgstore.ErrNotFound) {
		t.Fatalf("unknown clock: %v", err)
	}
	other := newTenant(t)
	if _, err := store.SLAConversation(ctx, other.Tenant.ID, ix, now); !errors.Is(err, pgstore.ErrNotFound) {
		t.Fatalf("another tenant's clock: %v", err)
	}
}

func TestListSLAConversations(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	tn := newTenant(t)
	q1, q2 := newQueue(t, tn.Tenant.ID, "Sales"), newQueue(t, tn.Tenant.ID, "Support")
	p := newSLAPolicy(t, tn.Tenant.ID, "Gold", nil)
	base := time.Now().UTC().Truncate(time.Millisecond)
	var breached, risky []string
	for i := range 5 {
		ix := uuid.NewString()
		queue := q1.ID
		if i == 4 {
			queue = q2.ID
		}
		// Started i minutes apart: breached at start+1m, resolution due at start+10m.
		start := base.Add(time.Duration(i-5) * time.Minute)
		if _, err := store.WriteSLAClock(ctx, clockRecord(tn.Tenant.ID, queue, ix, p, start, base, 1)); err != nil {
			t.Fatal(err)
		}
		breached = append(breached, ix)
		risky = append(risky, ix)
	}
	// One met everything: neither breached nor at risk.
	done := clockRecord(tn.Tenant.ID, q1.ID, uuid.NewString(), p, base, base, 1)
	done.Result.Clocks, done.Result.Breaches = []sla.Clock{{Metric: sla.Resolution, State: sla.Met, MetAt: base}}, nil
	if _, err := store.WriteSLAClock(ctx, done); err != nil {
		t.Fatal(err)
	}

	list := func(f pgstore.SLAConversationFilter) []string {
		t.Helper()
		f.Now = base
		var ids []string
		for {
			page, err := store.ListSLAConversations(ctx, tn.Tenant.ID, f)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range page {
				ids = append(ids, c.InteractionID)
			}
			if len(page) < f.Limit {
				return ids
			}
			f.After = pgstore.SLACursor(f.State, page[len(page)-1])
		}
	}
	if got := list(pgstore.SLAConversationFilter{State: pgstore.SLABreached, Limit: 2}); !equalIDs(got, breached) {
		t.Fatalf("breached %v, want %v", got, breached)
	}
	if got := list(pgstore.SLAConversationFilter{State: pgstore.SLABreached, QueueID: q2.ID, Limit: 2}); !equalIDs(got, breached[4:]) {
		t.Fatalf("breached in queue 2: %v", got)
	}
	// Resolution of the one started 5 minutes ago is due in 5 minutes; each next one a
	// minute later.
	if got := list(pgstore.SLAConversationFilter{State: pgstore.SLAAtRisk, Within: 6*time.Minute + time.Second, Limit: 3}); !equalIDs(got, risky[:2]) {
		t.Fatalf("at risk within 6m: %v, want %v", got, risky[:2])
	}
	if got := list(pgstore.SLAConversationFilter{State: pgstore.SLAAtRisk, Within: time.Hour, Limit: 50}); !equalIDs(got, risky) {
		t.Fatalf("at risk within 1h: %v", got)
	}
	for _, c := range []struct {
		f     pgstore.SLAConversationFilter
		field string
	}{
		{pgstore.SLAConversationFilter{State: "late"}, "state"},
		{pgstore.SLAConversationFilter{State: pgstore.SLAAtRisk}, "within"},
		{pgstore.SLAConversationFilter{State: pgstore.SLAAtRisk, Within: 31 * 24 * time.Hour}, "within"},
		{pgstore.SLAConversationFilter{State: pgstore.SLABreached, QueueID: "x"}, "queueId"},
		{pgstore.SLAConversationFilter{State: pgstore.SLABreached, After: "nope"}, "after"},
		{pgstore.SLAConversationFilter{State: pgstore.SLABreached, Limit: 1000}, "limit"},
	} {
		_, err := store.ListSLAConversations(ctx, tn.Tenant.ID, c.f)
		var v *pgstore.ValidationError
		if !errors.As(err, &v) || v.Field != c.field {
			t.Errorf("%+v: %v, want a validation error on %s", c.f, err, c.field)
		}
	}
	ids, err := store.OpenSLAClocks(ctx, tn.Tenant.ID, "", 4)
	if err != nil || len(ids) != 4 {
		t.Fatalf("open clocks page: %v, %v", ids, err)
	}
	rest, _ := store.OpenSLAClocks(ctx, tn.Tenant.ID, ids[3], 4)
	if len(rest) != 2 {
		t.Fatalf("second page of 6 open clocks: %v", rest)
	}
}

func equalIDs(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
