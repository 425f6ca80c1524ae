package pgstore_test

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"switchboard/pgstore"
	"switchboard/routing"
	"switchboard/sla"
)

func defaultSeverity() sla.Severity {
	return sla.Severity{Name: "Default", Default: true, FirstResponseMinutes: 15, NextReplyMinutes: 10, ResolutionMinutes: 240, Counting: sla.Always}
}

func newSLAPolicy(t *testing.T, tenantID, name string, edit func(*pgstore.NewSLAPolicy)) pgstore.SLAPolicy {
	t.Helper()
	in := pgstore.NewSLAPolicy{
		Name: name, Condition: cond(routing.AttrChannel, routing.OpIs, "live_chat"),
		Severities: []sla.Severity{defaultSeverity()},
	}
	if edit != nil {
		edit(&in)
	}
	p, err := store.CreateSLAPolicy(testContext(t), tenantID, pgstore.Actor{}, in)
	if err != nil {
		t.Fatalf("CreateSLAPolicy %q: %v", name, err)
	}
	return p
}

func slaOrder(t *testing.T, tenantID string) []string {
	t.Helper()
	ps, err := store.ListSLAPolicies(testContext(t), tenantID)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for i, p := range ps {
		if p.Position != i+1 {
			t.Fatalf("policy %s at position %d, index %d", p.Name, p.Position, i)
		}
		names = append(names, p.Name)
	}
	return names
}

func TestSLAPolicyCRUD(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	tn := newTenant(t)
	q1, q2 := newQueue(t, tn.Tenant.ID, "Sales"), newQueue(t, tn.Tenant.ID, "Support")
	from, to := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	p := newSLAPolicy(t, tn.Tenant.ID, " Gold ", func(in *pgstore.NewSLAPolicy) {
		in.ValidFrom, in.ValidTo = &from, &to
		in.Queues = &sla.Queues{Mode: sla.AppliedQueues, QueueIDs: []string{q2.ID, q1.ID}}
		in.ExcludeAutomated = true
		in.Severities = append(in.Severities, sla.Severity{Name: "Severity 1", NextReplyMinutes: 5, Counting: sla.WorkingHours})
	})
	if p.Name != "Gold" || p.Position != 1 || !p.Enabled || !p.ExcludeAutomated || !p.ValidFrom.Equal(from) || !p.ValidTo.Equal(to) {
		t.Fatalf("created %+v", p)
	}
	if !slices.Equal(p.Queues.QueueIDs, []string{q2.ID, q1.ID}) || p.Queues.Mode != sla.AppliedQueues {
		t.Errorf("queues %+v", p.Queues)
	}
	if len(p.Severities) != 2 || p.Severities[0].ID == "" || !p.Severities[0].Default || p.Severities[1].Counting != sla.WorkingHours {
		t.Fatalf("severities %+v", p.Severities)
	}
	got, err := store.GetSLAPolicy(ctx, tn.Tenant.ID, p.ID)
	if err != nil || got.Name != "Gold" || len(got.Severities) != 2 {
		t.Fatalf("get %+v, %v", got, err)
	}

	// Keep the default's ID, drop Severity 1, add Severity 2; clear the validity.
	sevs := []sla.Severity{p.Severities[0], {Name: "Severity 2", ResolutionMinutes: 60, Counting: sla.Always}}
	sevs[0].FirstResponseMinutes = 30
	name := "Platinum"
	u, err := store.UpdateSLAPolicy(ctx, tn.Tenant.ID, pgstore.Actor{}, p.ID, pgstore.SLAPolicyUpdate{
		Name: &name, Severities: &sevs, Validity: &pgstore.SLAValidity{},
		Queues: &sla.Queues{Mode: sla.IgnoredQueues, QueueIDs: []string{q1.ID}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if u.Name != "Platinum" || u.ValidFrom != nil || u.ValidTo != nil || u.Queues.Mode != sla.IgnoredQueues || !slices.Equal(u.Queues.QueueIDs, []string{q1.ID}) {
		t.Errorf("updated %+v", u)
	}
	if len(u.Severities) != 2 || u.Severities[0].ID != p.Severities[0].ID || u.Severities[0].FirstResponseMinutes != 30 ||
		u.Severities[1].Name != "Severity 2" || u.Severities[1].ID == p.Severities[1].ID {
		t.Errorf("updated severities %+v", u.Severities)
	}
	if n := auditCount(t, tn.Tenant.ID, "sla_policy.updated", p.ID); n != 1 {
		t.Errorf("%d update audit entries", n)
	}

	// A severity ID of another policy is refused.
	other := newSLAPolicy(t, tn.Tenant.ID, "Silver", nil)
	foreign := []sla.Severity{other.Severities[0]}
	_, err = store.UpdateSLAPolicy(ctx, tn.Tenant.ID, pgstore.Actor{}, p.ID, pgstore.SLAPolicyUpdate{Severities: &foreign})
	wantInvalid(t, err, "severities[0].id")

	// Names are unique in the tenant, ignoring case.
	_, err = store.CreateSLAPolicy(ctx, tn.Tenant.ID, pgstore.Actor{}, pgstore.NewSLAPolicy{
		Name: "platinum", Condition: cond(routing.AttrChannel, routing.OpIs, "email"), Severities: []sla.Severity{defaultSeverity()}})
	wantErr(t, err, pgstore.ErrConflict)

	// Another tenant sees nothing.
	tn2 := newTenant(t)
	_, err = store.GetSLAPolicy(ctx, tn2.Tenant.ID, p.ID)
	wantErr(t, err, pgstore.ErrNotFound)
	wantErr(t, store.DeleteSLAPolicy(ctx, tn2.Tenant.ID, pgstore.Actor{}, p.ID), pgstore.ErrNotFound)

	if err := store.DeleteSLAPolicy(ctx, tn.Tenant.ID, pgstore.Actor{}, p.ID); err != nil {
		t.Fatal(err)
	}
	_, err = store.GetSLAPolicy(ctx, tn.Tenant.ID, p.ID)
	wantErr(t, err, pgstore.ErrNotFound)
	if got := slaOrder(t, tn.Tenant.ID); !slices.Equal(got, []string{"Silver"}) {
		t.Errorf("after delete %v", got)
	}
	var left int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM sla_severities WHERE policy_id = $1`, p.ID).Scan(&left); err != nil || left != 0 {
		t.Errorf("%d severities left, %v", left, err)
	}
}

func TestSLAPolicyValidation(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	tn := newTenant(t)
	foreignQueue := newQueue(t, newTenant(t).Tenant.ID, "Elsewhere")
	cases := []struct {
		name  string
		edit  func(*pgstore.NewSLAPolicy)
		field string
	}{
		{"no name", func(in *pgstore.NewSLAPolicy) { in.Name = "  " }, "name"},
		{"no condition", func(in *pgstore.NewSLAPolicy) { in.Condition = nil }, "condition"},
		{"unknown attribute", func(in *pgstore.NewSLAPolicy) {
			in.Condition = &routing.Condition{All: []routing.Condition{routing.Where("company", routing.OpIs, "A")}}
		}, "condition.all[0].attr"},
		{"unknown operator", func(in *pgstore.NewSLAPolicy) { in.Condition = cond(routing.CustomerPrefix+"company", "like", "A") }, "condition.op"},
		{"validity reversed", func(in *pgstore.NewSLAPolicy) {
			a := time.Now()
			in.ValidFrom, in.ValidTo = &a, &a
		}, "validTo"},
		{"queue not an ID", func(in *pgstore.NewSLAPolicy) {
			in.Queues = &sla.Queues{Mode: sla.AppliedQueues, QueueIDs: []string{"sales"}}
		}, "queues.queueIds[0]"},
		{"queue of another tenant", func(in *pgstore.NewSLAPolicy) {
			in.Queues = &sla.Queues{Mode: sla.IgnoredQueues, QueueIDs: []string{foreignQueue.ID}}
		}, "queues.queueIds[0]"},
		{"no severity", func(in *pgstore.NewSLAPolicy) { in.Severities = nil }, "severities"},
		{"no metric", func(in *pgstore.NewSLAPolicy) {
			in.Severities[0].FirstResponseMinutes, in.Severities[0].NextReplyMinutes, in.Severities[0].ResolutionMinutes = 0, 0, 0
		}, "severities[0].firstResponseMinutes"},
		{"bad counting", func(in *pgstore.NewSLAPolicy) { in.Severities[0].Counting = "" }, "severities[0].counting"},
		{"severity with an ID", func(in *pgstore.NewSLAPolicy) { in.Severities[0].ID = "x" }, "severities[0].id"},
		{"position past the end", func(in *pgstore.NewSLAPolicy) { in.Position = 2 }, "position"},
	}
	for _, c := range cases {
		in := pgstore.NewSLAPolicy{Name: "P", Condition: cond(routing.AttrChannel, routing.OpIs, "email"), Severities: []sla.Severity{defaultSeverity()}}
		c.edit(&in)
		_, err := store.CreateSLAPolicy(ctx, tn.Tenant.ID, pgstore.Actor{}, in)
		t.Run(c.name, func(t *testing.T) { wantInvalid(t, err, c.field) })
	}
	if got := slaOrder(t, tn.Tenant.ID); len(got) != 0 {
		t.Errorf("refused policies were stored: %v", got)
	}
	p := newSLAPolicy(t, tn.Tenant.ID, "P", nil)
	_, err := store.UpdateSLAPolicy(ctx, tn.Tenant.ID, pgstore.Actor{}, p.ID, pgstore.SLAPolicyUpdate{})
	wantInvalid(t, err, "")
	bad := []sla.Severity{}
	_, err = store.UpdateSLAPolicy(ctx, tn.Tenant.ID, pgstore.Actor{}, p.ID, pgstore.SLAPolicyUpdate{Severities: &bad})
	wantInvalid(t, err, "severities")
}

func TestSLAPolicyOrder(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	tn := newTenant(t)
	id := map[string]string{}
	for _, c := range []struct {
		name string
		pos  int
	}{{"A", 0}, {"B", 0}, {"C", 1}, {"D", 2}} {
		id[c.name] = newSLAPolicy(t, tn.Tenant.ID, c.name, func(in *pgstore.NewSLAPolicy) { in.Position = c.pos }).ID
	}
	if got := slaOrder(t, tn.Tenant.ID); !slices.Equal(got, []string{"C", "D", "A", "B"}) {
		t.Fatalf("after creates %v", got)
	}
	move := func(name string, pos int) {
		t.Helper()
		if _, err := store.UpdateSLAPolicy(ctx, tn.Tenant.ID, pgstore.Actor{}, id[name], pgstore.SLAPolicyUpdate{Position: &pos}); err != nil {
			t.Fatal(err)
		}
	}
	move("B", 1) // send to top
	if got := slaOrder(t, tn.Tenant.ID); !slices.Equal(got, []string{"B", "C", "D", "A"}) {
		t.Fatalf("after send to top %v", got)
	}
	move("C", 4)
	if got := slaOrder(t, tn.Tenant.ID); !slices.Equal(got, []string{"B", "D", "A", "C"}) {
		t.Fatalf("after move to 4 %v", got)
	}
	five := 5
	_, err := store.UpdateSLAPolicy(ctx, tn.Tenant.ID, pgstore.Actor{}, id["A"], pgstore.SLAPolicyUpdate{Position: &five})
	wantInvalid(t, err, "position")

	ps, err := store.ReorderSLAPolicies(ctx, tn.Tenant.ID, pgstore.Actor{}, pgstore.SLAPolicyOrder{PolicyIDs: []string{id["A"], id["B"], strings.ToUpper(id["C"]), id["D"]}})
	if err != nil || len(ps) != 4 || ps[0].Name != "A" || ps[3].Name != "D" {
		t.Fatalf("reorder %v, %v", ps, err)
	}
	_, err = store.ReorderSLAPolicies(ctx, tn.Tenant.ID, pgstore.Actor{}, pgstore.SLAPolicyOrder{PolicyIDs: []string{id["A"], id["B"], id["C"]}})
	wantErr(t, err, pgstore.ErrConflict)
	_, err = store.ReorderSLAPolicies(ctx, tn.Tenant.ID, pgstore.Actor{}, pgstore.SLAPolicyOrder{PolicyIDs: []string{id["A"], id["A"], id["C"], id["D"]}})
	wantInvalid(t, err, "policyIds[1]")
	if err := store.DeleteSLAPolicy(ctx, tn.Tenant.ID, pgstore.Actor{}, id["B"]); err != nil {
		t.Fatal(err)
	}
	if got := slaOrder(t, tn.Tenant.ID); !slices.Equal(got, []string{"A", "C", "D"}) {
		t.Fatalf("after delete %v", got)
	}
}

// TestSLAPolicyConcurrentWrites creates, moves and deletes policies from many
// goroutines at once; the list stays 1..n without gaps or duplicates.
func TestSLAPolicyConcurrentWrites(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	tn := newTenant(t)
	// Three that stay, so that a move to position 3 always has somewhere to go.
	for _, name := range []string{"Base 1", "Base 2", "Base 3"} {
		newSLAPolicy(t, tn.Tenant.ID, name, nil)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 4 {
				p, err := store.CreateSLAPolicy(ctx, tn.Tenant.ID, pgstore.Actor{}, pgstore.NewSLAPolicy{
					Name: fmt.Sprintf("P%d-%d", w, i), Position: 1, Condition: cond(routing.AttrChannel, routing.OpIs, "email"),
					Severities: []sla.Severity{defaultSeverity()},
				})
				if err != nil {
					errs <- err
					return
				}
				last := 1 + (w+i)%3
				if _, err := store.UpdateSLAPolicy(ctx, tn.Tenant.ID, pgstore.Actor{}, p.ID, pgstore.SLAPolicyUpdate{Position: &last}); err != nil {
					errs <- err
					return
				}
				if i%2 == 0 {
					if err := store.DeleteSLAPolicy(ctx, tn.Tenant.ID, pgstore.Actor{}, p.ID); err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := slaOrder(t, tn.Tenant.ID); len(got) != 19 {
		t.Errorf("%d policies, want 19: %v", len(got), got)
	}
}

func TestMatchSLAPolicy(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	tn := newTenant(t)
	vip := newQueue(t, tn.Tenant.ID, "VIP")
	other := newQueue(t, tn.Tenant.ID, "Other")
	now := time.Now()
	past := now.Add(-time.Hour)
	newSLAPolicy(t, tn.Tenant.ID, "Expired", func(in *pgstore.NewSLAPolicy) { in.ValidTo = &past })
	newSLAPolicy(t, tn.Tenant.ID, "Disabled", func(in *pgstore.NewSLAPolicy) { off := false; in.Enabled = &off })
	newSLAPolicy(t, tn.Tenant.ID, "VIP only", func(in *pgstore.NewSLAPolicy) {
		in.Queues = &sla.Queues{Mode: sla.AppliedQueues, QueueIDs: []string{vip.ID}}
	})
	newSLAPolicy(t, tn.Tenant.ID, "Chat", nil)
	facts := routing.Facts{Channel: routing.LiveChat}
	for _, c := range []struct {
		queue, want string
	}{{vip.ID, "VIP only"}, {other.ID, "Chat"}} {
		p, ok, err := store.MatchSLAPolicy(ctx, tn.Tenant.ID, sla.Conversation{Facts: facts, QueueID: c.queue, At: now})
		if err != nil || !ok || p.Name != c.want {
			t.Errorf("queue %s: matched %q (%v, %v), want %q", c.queue, p.Name, ok, err, c.want)
		}
	}
	if p, ok, err := store.MatchSLAPolicy(ctx, tn.Tenant.ID, sla.Conversation{Facts: routing.Facts{Channel: routing.Voice}, At: now}); err != nil || ok {
		t.Errorf("voice matched %q (%v, %v)", p.Name, ok, err)
	}
}

// TestSLAQueueDeleted: a deleted queue leaves the scopes that name it; the policy
// stays and is read back with the queues that remain.
func TestSLAQueueDeleted(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	tn := newTenant(t)
	q1, q2 := newQueue(t, tn.Tenant.ID, "One"), newQueue(t, tn.Tenant.ID, "Two")
	p := newSLAPolicy(t, tn.Tenant.ID, "Scoped", func(in *pgstore.NewSLAPolicy) {
		in.Queues = &sla.Queues{Mode: sla.IgnoredQueues, QueueIDs: []string{q1.ID, q2.ID}}
	})
	if err := store.DeleteQueue(ctx, tn.Tenant.ID, pgstore.Actor{}, q1.ID); err != nil {
		t.Fatal(err)
	}
	got, err := store.GetSLAPolicy(ctx, tn.Tenant.ID, p.ID)
	if err != nil || !slices.Equal(got.Queues.QueueIDs, []string{q2.ID}) || got.Queues.Mode != sla.IgnoredQueues {
		t.Fatalf("after the queue's deletion %+v, %v", got.Queues, err)
	}
}
