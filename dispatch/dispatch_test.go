package dispatch_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"switchboard/dispatch"
	"switchboard/pgstore"
	"switchboard/pgtest"
	"switchboard/presence"
	"switchboard/routing"
)

// The package's tests share one migrated database of their own and work in Redis
// under a random key prefix each.
var (
	store *pgstore.Store
	rdb   *redis.Client
)

func TestMain(m *testing.M) {
	os.Exit(pgtest.Main(m, "dispatch", func(s *pgstore.Store, r *redis.Client) { store, rdb = s, r }))
}

// center is a tenant with agents, a queue and presence of its own.
type center struct {
	t      *testing.T
	ctx    context.Context
	tenant string
	queue  string
	ps     *presence.Store
	// psPrefix is the presence key prefix of the center.
	psPrefix string
	d        *dispatch.Dispatcher
}

func newCenter(t *testing.T) *center {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	prefix := "switchboard_test_" + pgtest.RandomHex(6)
	ps, err := presence.New(rdb, presence.Options{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if keys, err := rdb.Keys(context.Background(), prefix+":*").Result(); err == nil && len(keys) > 0 {
			rdb.Del(context.Background(), keys...)
		}
	})
	slug := "t-" + pgtest.RandomHex(6)
	ct, err := store.CreateTenant(ctx, pgstore.Actor{}, pgstore.NewTenant{Slug: slug, Name: slug, TimeZone: "UTC",
		Admin: pgstore.NewUser{Email: "admin@" + slug + ".test", Name: "Admin"}})
	if err != nil {
		t.Fatal(err)
	}
	return &center{t: t, ctx: ctx, tenant: ct.Tenant.ID, ps: ps, psPrefix: prefix, d: &dispatch.Dispatcher{Store: store, Presence: ps}}
}

// agent adds an agent with a chat capacity, in the center's queue, logged in
// Available.
func (c *center) agent(name string, chats int) string {
	c.t.Helper()
	u, err := store.CreateUser(c.ctx, c.tenant, pgstore.Actor{}, pgstore.NewUser{Email: name + "-" + pgtest.RandomHex(3) + "@x.test", Name: name, Role: pgstore.RoleAgent})
	if err != nil {
		c.t.Fatal(err)
	}
	capacity := routing.Capacity{routing.LiveChat: chats}
	upd := pgstore.AgentUpdate{Capacity: &capacity}
	if c.queue != "" {
		upd.QueueIDs = &[]string{c.queue}
	}
	if _, err := store.UpdateAgent(c.ctx, c.tenant, pgstore.Actor{}, u.ID, upd); err != nil {
		c.t.Fatal(err)
	}
	if _, err := c.ps.Login(c.ctx, c.tenant, u.ID, presence.LoginInput{}); err != nil {
		c.t.Fatal(err)
	}
	return u.ID
}

func (c *center) newQueue(in pgstore.NewQueue) {
	c.t.Helper()
	q, err := store.CreateQueue(c.ctx, c.tenant, pgstore.Actor{}, in)
	if err != nil {
		c.t.Fatal(err)
	}
	c.queue = q.ID
}

// enqueue writes a queued chat of customer to the read model.
func (c *center) enqueue(customer string, p routing.Priority, at time.Time) string {
	c.t.Helper()
	id := uuid.NewString()
	_, err := store.EnqueueInteraction(c.ctx, pgstore.Interaction{
		ID: id, TenantID: c.tenant, WorkflowID: "interaction/" + id, Channel: routing.LiveChat, Direction: pgstore.Inbound,
		Customer: customer, QueueID: c.queue, Priority: p, CreatedAt: at,
		InteractionState: pgstore.InteractionState{Status: pgstore.InteractionQueued, QueuedAt: at},
	})
	if err != nil {
		c.t.Fatal(err)
	}
	return id
}

func (c *center) request(id string, excluded ...string) dispatch.Request {
	return dispatch.Request{TenantID: c.tenant, InteractionID: id, Channel: routing.LiveChat, QueueID: c.queue, Customer: "+385100", Excluded: excluded}
}

// Reserve picks an eligible agent, never an excluded one, and a retry adopts its
// own reservation instead of reserving twice.
func TestReserve(t *testing.T) {
	c := newCenter(t)
	c.newQueue(pgstore.NewQueue{Name: "Chat"})
	ana := c.agent("ana", 1)
	bo := c.agent("bo", 1)
	id := c.enqueue("+385100", routing.PriorityNormal, time.Now())

	dec, err := c.d.Reserve(c.ctx, c.request(id, ana))
	if err != nil || dec.AgentID != bo || dec.Adopted || dec.Score == nil || dec.Eligible != 1 || dec.Considered != 2 ||
		dec.RingTimeout != pgstore.DefaultRingTimeoutSeconds*time.Second {
		t.Fatalf("first decision %+v, %v", dec, err)
	}
	held, ok, err := c.ps.Holder(c.ctx, c.tenant, id)
	if err != nil || !ok || held.Agent != bo || held.Held || time.Until(held.ExpiresAt) < dec.RingTimeout {
		t.Fatalf("holder %+v %v %v", held, ok, err)
	}
	again, err := c.d.Reserve(c.ctx, c.request(id, ana))
	if err != nil || again.AgentID != bo || !again.Adopted {
		t.Fatalf("retry %+v, %v", again, err)
	}
	// Bo is full now, Ana excluded: nobody for another interaction that excludes her.
	other := c.enqueue("+385200", routing.PriorityNormal, time.Now())
	none, err := c.d.Reserve(c.ctx, c.request(other, ana))
	if err != nil || none.AgentID != "" || none.Eligible != 0 || none.Contended {
		t.Fatalf("nobody eligible: %+v, %v", none, err)
	}
	// An agent who logged out is no candidate.
	if _, err := c.ps.Logout(c.ctx, c.tenant, ana); err != nil {
		t.Fatal(err)
	}
	if dec, err := c.d.Reserve(c.ctx, c.request(other)); err != nil || dec.AgentID != "" || dec.Considered != 1 {
		t.Fatalf("only Bo online, and full: %+v, %v", dec, err)
	}
}

// Concurrent decisions never put an agent over capacity.
func TestReserveConcurrently(t *testing.T) {
	c := newCenter(t)
	c.newQueue(pgstore.NewQueue{Name: "Chat"})
	agents := []string{c.agent("a", 2), c.agent("b", 1), c.agent("c", 3)}
	var ids []string
	for i := range 20 {
		ids = append(ids, c.enqueue(fmt.Sprintf("+3851%02d", i), routing.PriorityNormal, time.Now()))
	}
	var wg sync.WaitGroup
	got := make([]string, len(ids))
	for i, id := range ids {
		wg.Go(func() {
			dec, err := c.d.Reserve(c.ctx, c.request(id))
			if err != nil {
				t.Error(err)
			}
			got[i] = dec.AgentID
		})
	}
	wg.Wait()
	count := map[string]int{}
	for _, a := range got {
		if a != "" {
			count[a]++
		}
	}
	if count[agents[0]] != 2 || count[agents[1]] != 1 || count[agents[2]] != 3 {
		t.Errorf("reservations per agent %v: every slot taken once, none more", count)
	}
}

// A sticky queue offers to the customer's last agent first, even when the weighted
// sum prefers another.
func TestReserveSticky(t *testing.T) {
	c := newCenter(t)
	c.newQueue(pgstore.NewQueue{Name: "Sticky", AssignmentMode: pgstore.AssignSticky, StickyWindow: routing.Sticky30Days})
	ana := c.agent("ana", 5)
	bo := c.agent("bo", 5)
	// Bo already holds a chat, so the weighted sum prefers Ana; but Bo talked to
	// the customer last week.
	if ok, err := c.ps.Reserve(c.ctx, c.tenant, bo, "busy-1", routing.LiveChat, 5, time.Minute); err != nil || !ok {
		t.Fatal(ok, err)
	}
	past := time.Now().Add(-7 * 24 * time.Hour)
	old := c.enqueue("+385100", routing.PriorityNormal, past)
	if _, err := store.RecordInteraction(c.ctx, pgstore.InteractionUpdate{TenantID: c.tenant, InteractionID: old, State: pgstore.InteractionState{
		Status: pgstore.InteractionEnded, AgentID: bo, QueuedAt: past, ConnectedAt: &past, EndedAt: &past, Version: 3}}); err != nil {
		t.Fatal(err)
	}
	id := c.enqueue("+385100", routing.PriorityNormal, time.Now())
	dec, err := c.d.Reserve(c.ctx, c.request(id))
	if err != nil || dec.AgentID != bo || !dec.Score.Sticky {
		t.Fatalf("sticky decision %+v, %v (Ana is %s)", dec, err, ana)
	}
	// Another customer goes by score.
	other := c.enqueue("+385999", routing.PriorityNormal, time.Now())
	req := c.request(other)
	req.Customer = "+385999"
	if dec, err := c.d.Reserve(c.ctx, req); err != nil || dec.AgentID != ana {
		t.Fatalf("non-sticky decision %+v, %v", dec, err)
	}
}

// Bulk assignment reserves the agent for the waiting interactions in priority then
// age order until the agent is full, and wakes each; a retry wakes the same ones.
func TestOfferWaiting(t *testing.T) {
	c := newCenter(t)
	c.newQueue(pgstore.NewQueue{Name: "Chat"})
	t0 := time.Now().Add(-time.Minute)
	old := c.enqueue("+1", routing.PriorityNormal, t0)
	urgent := c.enqueue("+2", routing.PriorityUrgent, t0.Add(time.Second))
	c.enqueue("+3", routing.PriorityNormal, t0.Add(2*time.Second))
	gone := c.enqueue("+4", routing.PriorityLow, t0)
	ana := c.agent("ana", 2)

	var woken []string
	wake := func(_ context.Context, tenant, id, agent string) error {
		if tenant != c.tenant || agent != ana {
			t.Errorf("wake %s %s %s", tenant, id, agent)
		}
		woken = append(woken, id)
		return nil
	}
	got, err := c.d.OfferWaiting(c.ctx, c.tenant, ana, wake)
	if err != nil || !slices.Equal(got, []string{urgent, old}) || !slices.Equal(woken, got) {
		t.Fatalf("woken %v (returned %v), %v; want urgent then the oldest", woken, got, err)
	}
	for _, id := range got {
		if h, ok, _ := c.ps.Holder(c.ctx, c.tenant, id); !ok || h.Agent != ana || h.Held {
			t.Errorf("%s is not reserved for Ana: %+v", id, h)
		}
	}
	woken = nil
	if again, err := c.d.OfferWaiting(c.ctx, c.tenant, ana, wake); err != nil || len(again) != 0 {
		t.Errorf("Ana is full: %v, %v", again, err)
	}

	// An interaction that ended meanwhile gives its reservation back.
	bo := c.agent("bo", 4)
	gone2 := func(_ context.Context, _, id, _ string) error {
		if id == gone {
			return dispatch.ErrGone
		}
		return nil
	}
	got, err = c.d.OfferWaiting(c.ctx, c.tenant, bo, gone2)
	if err != nil || len(got) != 1 || slices.Contains(got, gone) || slices.Contains(got, urgent) || slices.Contains(got, old) {
		t.Fatalf("Bo's bulk %v, %v: only the one left that is neither Ana's nor gone", got, err)
	}
	if _, ok, _ := c.ps.Holder(c.ctx, c.tenant, gone); ok {
		t.Error("the reservation of an interaction that had ended was kept")
	}
	// An agent on a break gets nothing.
	if _, err := c.ps.SetStatus(c.ctx, c.tenant, bo, routing.Status{Name: "Lunch", Group: routing.GroupAway}); err != nil {
		t.Fatal(err)
	}
	if got, err := c.d.OfferWaiting(c.ctx, c.tenant, bo, gone2); err != nil || len(got) != 0 {
		t.Errorf("an agent on a break: %v, %v", got, err)
	}
}

// With queue members cached, an agent who joins and logs in after the list was read
// is offered work at once, and an agent of another queue is looked up only once.
func TestCachedMembersTakeNewcomers(t *testing.T) {
	c := newCenter(t)
	c.d.AgentsTTL = time.Hour
	c.newQueue(pgstore.NewQueue{Name: "Chat"})
	ana := c.agent("ana", 1)
	first := c.enqueue("+385100", routing.PriorityNormal, time.Now())
	if dec, err := c.d.Reserve(c.ctx, c.request(first)); err != nil || dec.AgentID != ana {
		t.Fatalf("first decision %+v, %v", dec, err)
	}
	// Ana is full. Bo joins the queue and logs in: the cached list does not have
	// him, but the decision finds him.
	bo := c.agent("bo", 1)
	second := c.enqueue("+385200", routing.PriorityNormal, time.Now())
	if dec, err := c.d.Reserve(c.ctx, c.request(second)); err != nil || dec.AgentID != bo || dec.Considered != 2 {
		t.Fatalf("newcomer not offered: %+v, %v", dec, err)
	}
	// An agent of another queue is ready but no member: never a candidate.
	chat := c.queue
	c.newQueue(pgstore.NewQueue{Name: "Other"})
	cy := c.agent("cy", 1)
	c.queue = chat
	third := c.enqueue("+385300", routing.PriorityNormal, time.Now())
	for range 2 {
		if dec, err := c.d.Reserve(c.ctx, c.request(third)); err != nil || dec.AgentID != "" || dec.Considered != 2 {
			t.Fatalf("the other queue's agent %s was considered: %+v, %v", cy, dec, err)
		}
	}
}

// A self-callback past its time comes before the queue: bulk assignment reserves the
// agent's voice slot for the callback's next call and wakes the callback; a queued
// call waits, chats are still given. A callback not due yet, another agent's, or one
// whose workflow is gone (its reservation given back) is left alone.
func TestOfferWaitingGivesDueSelfCallbacksFirst(t *testing.T) {
	c := newCenter(t)
	c.newQueue(pgstore.NewQueue{Name: "Calls"})
	ana := c.agent("ana", 1)
	bo := c.agent("bo", 1)
	t0 := time.Now().Add(-time.Minute)
	call := uuid.NewString()
	if _, err := store.EnqueueInteraction(c.ctx, pgstore.Interaction{
		ID: call, TenantID: c.tenant, WorkflowID: "interaction/" + call, Channel: routing.Voice, Direction: pgstore.Inbound,
		Customer: "+385100", QueueID: c.queue, Priority: routing.PriorityUrgent, CreatedAt: t0,
		InteractionState: pgstore.InteractionState{Status: pgstore.InteractionQueued, QueuedAt: t0},
	}); err != nil {
		t.Fatal(err)
	}
	chat := c.enqueue("+2", routing.PriorityNormal, t0)
	callback := func(agent string, due time.Time) pgstore.Callback {
		id := uuid.NewString()
		cb := pgstore.Callback{ID: id, TenantID: c.tenant, WorkflowID: "callback/" + id, Status: pgstore.CallbackScheduled,
			DueAt: due, SelfCallback: true, AgentID: agent, Phone: "+385915550101", Customer: "+385915550101", Version: 1, Generation: 2,
			CreatedAt: t0}
		if _, err := store.RecordCallback(c.ctx, cb, pgstore.CallbackEvent{Version: 1, Type: pgstore.CallbackEventScheduled, At: t0, DueAt: due}); err != nil {
			t.Fatal(err)
		}
		return cb
	}
	gone := callback(ana, t0.Add(-time.Minute))
	due := callback(ana, t0)
	callback(ana, time.Now().Add(time.Hour)) // not due yet
	callback(bo, t0)                         // Bo's

	var wokenCallbacks []string
	c.d.WakeCallback = func(_ context.Context, tenant, id, agent string) error {
		if tenant != c.tenant || agent != ana {
			t.Errorf("wake callback %s %s %s", tenant, id, agent)
		}
		wokenCallbacks = append(wokenCallbacks, id)
		if id == gone.ID {
			return dispatch.ErrGone
		}
		return nil
	}
	got, err := c.d.OfferWaiting(c.ctx, c.tenant, ana, func(context.Context, string, string, string) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(wokenCallbacks, []string{gone.ID, due.ID}) {
		t.Errorf("callbacks woken %v, want the gone one then the due one", wokenCallbacks)
	}
	if !slices.Equal(got, []string{chat}) {
		t.Errorf("interactions woken %v: the chat, not the call", got)
	}
	if h, ok, _ := c.ps.Holder(c.ctx, c.tenant, pgstore.CallbackFireID(due.ID, 3)); !ok || h.Agent != ana || h.Held {
		t.Errorf("the callback's next call is not reserved for Ana: %+v %v", h, ok)
	}
	if _, ok, _ := c.ps.Holder(c.ctx, c.tenant, pgstore.CallbackFireID(gone.ID, 3)); ok {
		t.Error("the gone callback's reservation was kept")
	}
	// Retried, the same reservation wakes it again; nothing more is reserved.
	wokenCallbacks = nil
	if _, err := c.d.OfferWaiting(c.ctx, c.tenant, ana, nil); err != nil || !slices.Equal(wokenCallbacks, []string{due.ID}) {
		t.Errorf("retry woke %v, %v", wokenCallbacks, err)
	}
}
