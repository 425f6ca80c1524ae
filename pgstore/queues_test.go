package pgstore_test

import (
	"strings"
	"sync"
	"testing"

	"switchboard/pgstore"
	"switchboard/pgtest"
	"switchboard/routing"
)

func agentIDs(as []pgstore.QueueAgent) string {
	var ids []string
	for _, a := range as {
		ids = append(ids, a.ID)
	}
	return strings.Join(ids, ",")
}

func TestQueues(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	ct := newTenant(t)
	tid := ct.Tenant.ID
	ana := newUserNamed(t, tid, pgstore.RoleAgent, "Ana")
	bo := newUserNamed(t, tid, pgstore.RoleAgent, "Bo")
	sup := newUser(t, tid, pgstore.RoleSupervisor)

	q, err := store.CreateQueue(ctx, tid, pgstore.Actor{RequestID: "req-q"}, pgstore.NewQueue{Name: " Premium ", AgentIDs: []string{bo.ID, ana.ID}})
	if err != nil {
		t.Fatal(err)
	}
	if q.Name != "Premium" || q.IsDefault || !q.AutoAssign || q.AssignmentMode != pgstore.AssignAny || q.StickyWindow != "" ||
		agentIDs(q.Agents) != ana.ID+","+bo.ID || len(q.Routes) != 0 {
		t.Errorf("created %+v", q)
	}
	if !q.AutoAssigns(routing.LiveChat) || !q.AutoAssigns(routing.Voice) {
		t.Error("a new queue assigns automatically")
	}

	// Names are unique ignoring case.
	_, err = store.CreateQueue(ctx, tid, pgstore.Actor{}, pgstore.NewQueue{Name: "PREMIUM"})
	wantErr(t, err, pgstore.ErrConflict)
	_, err = store.CreateQueue(ctx, tid, pgstore.Actor{}, pgstore.NewQueue{Name: "default"})
	wantErr(t, err, pgstore.ErrConflict)

	// Auto-assignment off still assigns calls.
	off := false
	manual, err := store.CreateQueue(ctx, tid, pgstore.Actor{}, pgstore.NewQueue{Name: "Manual", AutoAssign: &off,
		AssignmentMode: pgstore.AssignSticky, StickyWindow: routing.Sticky60Days})
	if err != nil {
		t.Fatal(err)
	}
	if manual.AutoAssigns(routing.Email) || !manual.AutoAssigns(routing.Voice) || manual.Sticky() != routing.Sticky60Days {
		t.Errorf("manual queue %+v: email not auto-assigned, voice always, sticky 60d", manual)
	}

	// Switching to any clears the window; sticky needs one.
	anyMode, sticky := pgstore.AssignAny, pgstore.AssignSticky
	u, err := store.UpdateQueue(ctx, tid, pgstore.Actor{}, manual.ID, pgstore.QueueUpdate{AssignmentMode: &anyMode})
	if err != nil || u.AssignmentMode != pgstore.AssignAny || u.StickyWindow != "" || u.Sticky() != routing.StickyOff {
		t.Fatalf("to any: %+v, %v", u, err)
	}
	_, err = store.UpdateQueue(ctx, tid, pgstore.Actor{}, manual.ID, pgstore.QueueUpdate{AssignmentMode: &sticky})
	wantInvalid(t, err, "stickyWindow")
	ever := routing.StickyEver
	_, err = store.UpdateQueue(ctx, tid, pgstore.Actor{}, manual.ID, pgstore.QueueUpdate{StickyWindow: &ever})
	wantInvalid(t, err, "stickyWindow")
	u, err = store.UpdateQueue(ctx, tid, pgstore.Actor{}, manual.ID, pgstore.QueueUpdate{AssignmentMode: &sticky, StickyWindow: &ever})
	if err != nil || u.Sticky() != routing.StickyEver {
		t.Fatalf("to sticky ever: %+v, %v", u, err)
	}
	year := routing.StickyYear
	name := "Manual desk"
	u, err = store.UpdateQueue(ctx, tid, pgstore.Actor{}, manual.ID, pgstore.QueueUpdate{StickyWindow: &year, Name: &name})
	if err != nil || u.Sticky() != routing.StickyYear || u.Name != name || !u.UpdatedAt.After(manual.UpdatedAt) {
		t.Fatalf("window and name: %+v, %v", u, err)
	}
	taken := "premium"
	_, err = store.UpdateQueue(ctx, tid, pgstore.Actor{}, manual.ID, pgstore.QueueUpdate{Name: &taken})
	wantErr(t, err, pgstore.ErrConflict)
	if n := auditCount(t, tid, "queue.updated", manual.ID); n != 3 {
		t.Errorf("%d queue.updated audit rows, want 3", n)
	}

	// Membership: exactly the agents listed, agents of this tenant only.
	_, err = store.SetQueueAgents(ctx, tid, pgstore.Actor{}, q.ID, pgstore.QueueAgents{AgentIDs: []string{ana.ID, sup.ID}})
	wantInvalid(t, err, "agentIds[1]")
	_, err = store.SetQueueAgents(ctx, tid, pgstore.Actor{}, q.ID, pgstore.QueueAgents{AgentIDs: []string{ana.ID, ana.ID}})
	wantInvalid(t, err, "agentIds[1]")
	_, err = store.SetQueueAgents(ctx, tid, pgstore.Actor{}, q.ID, pgstore.QueueAgents{})
	wantInvalid(t, err, "agentIds")
	q2, err := store.SetQueueAgents(ctx, tid, pgstore.Actor{}, q.ID, pgstore.QueueAgents{AgentIDs: []string{bo.ID}})
	if err != nil || agentIDs(q2.Agents) != bo.ID {
		t.Errorf("set to Bo: %+v, %v", q2.Agents, err)
	}
	q2, err = store.SetQueueAgents(ctx, tid, pgstore.Actor{}, q.ID, pgstore.QueueAgents{AgentIDs: []string{}})
	if err != nil || len(q2.Agents) != 0 {
		t.Errorf("emptied: %+v, %v", q2.Agents, err)
	}

	// The Default queue includes every agent, cannot have its members set and cannot be
	// deleted, but can be renamed and reconfigured.
	def := defaultQueue(t, tid)
	if agentIDs(def.Agents) != ana.ID+","+bo.ID {
		t.Errorf("Default queue agents = %s, want every agent (%s,%s)", agentIDs(def.Agents), ana.ID, bo.ID)
	}
	before := snapshot(t, tid)
	_, err = store.SetQueueAgents(ctx, tid, pgstore.Actor{}, def.ID, pgstore.QueueAgents{AgentIDs: []string{ana.ID}})
	wantErr(t, err, pgstore.ErrConflict)
	err = store.DeleteQueue(ctx, tid, pgstore.Actor{}, def.ID)
	wantErr(t, err, pgstore.ErrConflict)
	if !strings.Contains(err.Error(), "Default queue") {
		t.Errorf("message %q does not say why", err)
	}
	if after := snapshot(t, tid); after != before {
		t.Errorf("refused writes changed data:\n%s\n%s", before, after)
	}
	general := "General"
	if d, err := store.UpdateQueue(ctx, tid, pgstore.Actor{}, def.ID, pgstore.QueueUpdate{Name: &general, AutoAssign: &off}); err != nil || !d.IsDefault || d.Name != general || d.AutoAssign {
		t.Errorf("rename Default queue: %+v, %v", d, err)
	}
	wantErr(t, store.DeleteQueue(ctx, tid, pgstore.Actor{}, def.ID), pgstore.ErrConflict)

	// A queue that routes lead to is not deleted; without routes it is, memberships too.
	r := newRoute(t, tid, "VIP", q.ID)
	if got, err := store.GetQueue(ctx, tid, q.ID); err != nil || len(got.Routes) != 1 || got.Routes[0].ID != r.ID || got.Routes[0].Name != "VIP" {
		t.Errorf("queue routes = %+v, %v", got.Routes, err)
	}
	if _, err := store.SetQueueAgents(ctx, tid, pgstore.Actor{}, q.ID, pgstore.QueueAgents{AgentIDs: []string{ana.ID}}); err != nil {
		t.Fatal(err)
	}
	before = snapshot(t, tid)
	err = store.DeleteQueue(ctx, tid, pgstore.Actor{}, q.ID)
	wantErr(t, err, pgstore.ErrConflict)
	if !strings.Contains(err.Error(), `"VIP"`) {
		t.Errorf("message %q does not name the route", err)
	}
	if after := snapshot(t, tid); after != before {
		t.Errorf("refused delete changed data")
	}
	if err := store.DeleteRoute(ctx, tid, pgstore.Actor{}, r.ID); err != nil {
		t.Fatal(err)
	}
	if err := store.DeleteQueue(ctx, tid, pgstore.Actor{}, q.ID); err != nil {
		t.Fatalf("DeleteQueue: %v", err)
	}
	wantErr(t, store.DeleteQueue(ctx, tid, pgstore.Actor{}, q.ID), pgstore.ErrNotFound)
	_, err = store.GetQueue(ctx, tid, q.ID)
	wantErr(t, err, pgstore.ErrNotFound)
	var members int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM queue_agents WHERE queue_id = $1`, q.ID).Scan(&members); err != nil || members != 0 {
		t.Errorf("%d memberships left, %v", members, err)
	}
	if n := auditCount(t, tid, "queue.deleted", q.ID); n != 1 {
		t.Errorf("%d queue.deleted audit rows", n)
	}

	// The listing: Default first, agents and routes of each.
	r2 := newRoute(t, tid, "To manual", manual.ID)
	if _, err := store.SetQueueAgents(ctx, tid, pgstore.Actor{}, manual.ID, pgstore.QueueAgents{AgentIDs: []string{bo.ID}}); err != nil {
		t.Fatal(err)
	}
	qs, err := store.ListQueues(ctx, tid, pgstore.Page{})
	if err != nil || len(qs) != 2 {
		t.Fatalf("ListQueues = %+v, %v", qs, err)
	}
	if !qs[0].IsDefault || agentIDs(qs[0].Agents) != ana.ID+","+bo.ID || len(qs[0].Routes) != 0 {
		t.Errorf("listed Default queue %+v", qs[0])
	}
	if qs[1].ID != manual.ID || agentIDs(qs[1].Agents) != bo.ID || len(qs[1].Routes) != 1 || qs[1].Routes[0].ID != r2.ID {
		t.Errorf("listed manual queue %+v", qs[1])
	}
	page1, err := store.ListQueues(ctx, tid, pgstore.Page{Limit: 1})
	if err != nil || len(page1) != 1 || !page1[0].IsDefault {
		t.Fatalf("page 1 = %+v, %v", page1, err)
	}
	page2, err := store.ListQueues(ctx, tid, pgstore.Page{Limit: 1, After: page1[0].ID})
	if err != nil || len(page2) != 1 || page2[0].ID != manual.ID {
		t.Errorf("page 2 = %+v, %v", page2, err)
	}

	// An agent who becomes a supervisor leaves the queues' lists.
	supRole := pgstore.RoleSupervisor
	if _, err := store.UpdateUser(ctx, tid, pgstore.Actor{}, bo.ID, pgstore.UserUpdate{Role: &supRole}); err != nil {
		t.Fatal(err)
	}
	if got, err := store.GetQueue(ctx, tid, manual.ID); err != nil || len(got.Agents) != 0 {
		t.Errorf("manual queue agents after Bo's promotion = %+v, %v", got.Agents, err)
	}
	if got := defaultQueue(t, tid); agentIDs(got.Agents) != ana.ID {
		t.Errorf("Default queue agents after Bo's promotion = %s", agentIDs(got.Agents))
	}
}

func newUserNamed(t *testing.T, tenantID string, role pgstore.Role, name string) pgstore.User {
	t.Helper()
	u, err := store.CreateUser(testContext(t), tenantID, pgstore.Actor{}, pgstore.NewUser{
		Email: strings.ToLower(name) + "-" + pgtest.RandomHex(3) + "@example.com", Name: name, Role: role,
	})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// A route created while its queue is being deleted never leaves a route pointing at a
// deleted queue: one of the two loses.
func TestDeleteQueueRacesRouteCreate(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	tid := newTenant(t).Tenant.ID
	for i := range 10 {
		q := newQueue(t, tid, "Racy "+pgtest.RandomHex(3))
		var (
			wg        sync.WaitGroup
			start     = make(chan struct{})
			delErr    error
			routeErr  error
			createdID string
		)
		wg.Add(2)
		go func() {
			defer wg.Done()
			<-start
			delErr = store.DeleteQueue(ctx, tid, pgstore.Actor{}, q.ID)
		}()
		go func() {
			defer wg.Done()
			<-start
			var r pgstore.Route
			r, routeErr = store.CreateRoute(ctx, tid, pgstore.Actor{}, pgstore.NewRoute{Name: "r", QueueID: q.ID, Condition: cond("from", routing.OpIs, "1")})
			createdID = r.ID
		}()
		close(start)
		wg.Wait()
		switch {
		case delErr == nil && routeErr == nil:
			t.Fatalf("round %d: both the delete and the route creation succeeded", i)
		case delErr == nil:
			wantInvalid(t, routeErr, "queueId")
		case routeErr == nil:
			wantErr(t, delErr, pgstore.ErrConflict)
			if err := store.DeleteRoute(ctx, tid, pgstore.Actor{}, createdID); err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatalf("round %d: both failed: %v; %v", i, delErr, routeErr)
		}
	}
	var dangling int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM routes r WHERE tenant_id = $1 AND NOT EXISTS (SELECT 1 FROM queues q WHERE q.id = r.queue_id)`, tid).Scan(&dangling); err != nil || dangling != 0 {
		t.Errorf("%d routes to deleted queues, %v", dangling, err)
	}
}
