package pgstore_test

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"switchboard/pgstore"
	"switchboard/pgtest"
	"switchboard/routing"
)

// newInteraction is an interaction of the tenant in queueID, queued at created.
func newInteraction(tenantID, queueID string, ch routing.Channel, p routing.Priority, created time.Time) pgstore.Interaction {
	id := uuid.NewString()
	return pgstore.Interaction{
		ID: id, TenantID: tenantID, WorkflowID: "interaction/" + id, Channel: ch, Direction: pgstore.Inbound,
		From: "+385100", CustomerPhone: "+385100", Customer: "+385100", QueueID: queueID, Priority: p,
		InteractionState: pgstore.InteractionState{Status: pgstore.InteractionQueued, QueuedAt: created},
		CreatedAt:        created,
	}
}

func enqueue(t *testing.T, in pgstore.Interaction) pgstore.Interaction {
	t.Helper()
	q, err := store.EnqueueInteraction(testContext(t), in)
	if err != nil {
		t.Fatalf("EnqueueInteraction: %v", err)
	}
	in.QueueID = q
	return in
}

func record(t *testing.T, u pgstore.InteractionUpdate) bool {
	t.Helper()
	ok, err := store.RecordInteraction(testContext(t), u)
	if err != nil {
		t.Fatalf("RecordInteraction: %v", err)
	}
	return ok
}

func getInteraction(t *testing.T, tenantID, id string) pgstore.Interaction {
	t.Helper()
	in, err := store.GetInteraction(testContext(t), tenantID, id)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// The read model is written by retried activities: enqueueing twice, writing an older
// version late, repeating an offer or its answer all leave one consistent row.
func TestInteractionWritesAreIdempotent(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	tid := newTenant(t).Tenant.ID
	ana := newUser(t, tid, pgstore.RoleAgent)
	bo := newUser(t, tid, pgstore.RoleAgent)
	q := newQueue(t, tid, "Sales", ana.ID, bo.ID)
	at := time.Now().UTC().Truncate(time.Millisecond)
	in := enqueue(t, newInteraction(tid, q.ID, routing.LiveChat, routing.PriorityHigh, at))
	if again, err := store.EnqueueInteraction(ctx, in); err != nil || again != q.ID {
		t.Fatalf("second enqueue: %q, %v", again, err)
	}
	got := getInteraction(t, tid, in.ID)
	if got.Status != pgstore.InteractionQueued || got.QueueID != q.ID || got.Priority != routing.PriorityHigh ||
		!got.CreatedAt.Equal(at) || got.Version != 0 || len(got.ExcludedAgents) != 0 {
		t.Fatalf("enqueued %+v", got)
	}

	offeredAt := at.Add(time.Second)
	score := routing.Score{AgentID: ana.ID, Eligible: true, Total: 1}
	offer := pgstore.InteractionUpdate{TenantID: tid, InteractionID: in.ID,
		State: pgstore.InteractionState{Status: pgstore.InteractionOffered, OfferedAgentID: ana.ID, Offers: 1, QueuedAt: at, OfferedAt: &offeredAt, Version: 1},
		Offer: &pgstore.Offer{Attempt: 1, AgentID: ana.ID, Channel: routing.LiveChat, OfferedAt: offeredAt, RingUntil: offeredAt.Add(20 * time.Second), Score: &score},
	}
	if !record(t, offer) {
		t.Fatal("offer not written")
	}
	record(t, offer) // a retried activity
	rejectedAt := offeredAt.Add(3 * time.Second)
	reject := pgstore.InteractionUpdate{TenantID: tid, InteractionID: in.ID,
		State:    pgstore.InteractionState{Status: pgstore.InteractionQueued, ExcludedAgents: []string{ana.ID}, Offers: 1, QueuedAt: at, Version: 2},
		Response: &pgstore.OfferResponse{Attempt: 1, Outcome: pgstore.OfferRejected, RespondedAt: rejectedAt, Reason: "busy"},
	}
	record(t, reject)
	// The offer retried late changes neither the row nor the answered offer.
	if record(t, offer) {
		t.Error("an older version rolled the row back")
	}
	late := reject
	late.Response = &pgstore.OfferResponse{Attempt: 1, Outcome: pgstore.OfferTimeout, RespondedAt: rejectedAt.Add(time.Second)}
	record(t, late)

	offered2 := rejectedAt.Add(time.Second)
	connected := offered2.Add(2 * time.Second)
	second := pgstore.InteractionUpdate{TenantID: tid, InteractionID: in.ID,
		State: pgstore.InteractionState{Status: pgstore.InteractionOffered, OfferedAgentID: bo.ID, ExcludedAgents: []string{ana.ID}, Offers: 2, QueuedAt: at, OfferedAt: &offered2, Version: 3},
		Offer: &pgstore.Offer{Attempt: 2, AgentID: bo.ID, Channel: routing.LiveChat, OfferedAt: offered2, RingUntil: offered2.Add(20 * time.Second)},
	}
	record(t, second)
	accept := pgstore.InteractionUpdate{TenantID: tid, InteractionID: in.ID,
		State:    pgstore.InteractionState{Status: pgstore.InteractionConnected, AgentID: bo.ID, ExcludedAgents: []string{ana.ID}, Offers: 2, QueuedAt: at, OfferedAt: &offered2, ConnectedAt: &connected, Version: 4},
		Response: &pgstore.OfferResponse{Attempt: 2, Outcome: pgstore.OfferAccepted, RespondedAt: connected},
	}
	record(t, accept)
	record(t, accept)

	got = getInteraction(t, tid, in.ID)
	if got.Status != pgstore.InteractionConnected || got.AgentID != bo.ID || got.OfferedAgentID != "" || got.Version != 4 ||
		got.Offers != 2 || !slices.Equal(got.ExcludedAgents, []string{ana.ID}) || got.ConnectedAt == nil || !got.ConnectedAt.Equal(connected) {
		t.Errorf("after accept %+v", got)
	}
	offers, err := store.InteractionOffers(ctx, tid, in.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(offers) != 2 || offers[0].AgentID != ana.ID || offers[0].Outcome != pgstore.OfferRejected || offers[0].Reason != "busy" ||
		!offers[0].RespondedAt.Equal(rejectedAt) || offers[0].Score == nil || offers[0].Score.AgentID != ana.ID ||
		offers[1].AgentID != bo.ID || offers[1].Outcome != pgstore.OfferAccepted {
		t.Errorf("offers %+v", offers)
	}

	// An earlier try of an offer that never reached the workflow is replaced by the
	// retry's choice; an answered one is not.
	other := newInteraction(tid, q.ID, routing.Voice, routing.PriorityNormal, at)
	enqueue(t, other)
	try1 := pgstore.InteractionUpdate{TenantID: tid, InteractionID: other.ID,
		State: pgstore.InteractionState{Status: pgstore.InteractionOffered, OfferedAgentID: ana.ID, Offers: 1, QueuedAt: at, OfferedAt: &offeredAt, Version: 1},
		Offer: &pgstore.Offer{Attempt: 1, AgentID: ana.ID, Channel: routing.Voice, OfferedAt: offeredAt, RingUntil: offeredAt.Add(time.Minute)},
	}
	record(t, try1)
	try2 := try1
	try2.State.OfferedAgentID = bo.ID
	try2.Offer = &pgstore.Offer{Attempt: 1, AgentID: bo.ID, Channel: routing.Voice, OfferedAt: offered2, RingUntil: offered2.Add(time.Minute)}
	record(t, try2)
	if offers, _ := store.InteractionOffers(ctx, tid, other.ID); len(offers) != 1 || offers[0].AgentID != bo.ID || !offers[0].OfferedAt.Equal(offered2) {
		t.Errorf("retried offer %+v", offers)
	}

	// Writes to an interaction never enqueued, or of a bad state, are refused.
	_, err = store.RecordInteraction(ctx, pgstore.InteractionUpdate{TenantID: tid, InteractionID: uuid.NewString(),
		State: pgstore.InteractionState{Status: pgstore.InteractionQueued, QueuedAt: at, Version: 1}})
	wantErr(t, err, pgstore.ErrNotFound)
	_, err = store.RecordInteraction(ctx, pgstore.InteractionUpdate{TenantID: tid, InteractionID: in.ID,
		State: pgstore.InteractionState{Status: pgstore.InteractionOffered, QueuedAt: at, Version: 9}})
	wantInvalid(t, err, "offeredAgentId")
	bad := newInteraction(tid, q.ID, "pigeon", routing.PriorityNormal, at)
	_, err = store.EnqueueInteraction(ctx, bad)
	wantInvalid(t, err, "channel")

	// Another tenant sees none of it.
	otherTenant := newTenant(t).Tenant.ID
	_, err = store.GetInteraction(ctx, otherTenant, in.ID)
	wantErr(t, err, pgstore.ErrNotFound)
	if list, err := store.ListInteractions(ctx, otherTenant, pgstore.InteractionFilter{}); err != nil || len(list) != 0 {
		t.Errorf("other tenant lists %v, %v", list, err)
	}
	list, err := store.ListInteractions(ctx, tid, pgstore.InteractionFilter{AgentID: bo.ID})
	if err != nil || len(list) != 2 {
		t.Errorf("Bo's interactions %d, %v", len(list), err)
	}
	list, err = store.ListInteractions(ctx, tid, pgstore.InteractionFilter{Status: pgstore.InteractionOffered, AgentID: ana.ID})
	if err != nil || len(list) != 0 {
		t.Errorf("Ana's offers %d, %v", len(list), err)
	}
}

// Bulk assignment reads the waiting interactions an agent may take, by priority then
// age, at most the agent's room per channel, leaving out what they may not take.
func TestWaiting(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	tid := newTenant(t).Tenant.ID
	ana := newUser(t, tid, pgstore.RoleAgent)
	spanish := newSkill(t, tid, "Spanish")
	sales := newQueue(t, tid, "Sales", ana.ID)
	other := newQueue(t, tid, "Other")
	off := false
	manual, err := store.CreateQueue(ctx, tid, pgstore.Actor{}, pgstore.NewQueue{Name: "Manual", AutoAssign: &off, AgentIDs: []string{ana.ID}})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now().UTC().Truncate(time.Millisecond)
	add := func(q string, ch routing.Channel, p routing.Priority, d time.Duration, mod func(*pgstore.Interaction)) string {
		in := newInteraction(tid, q, ch, p, t0.Add(d))
		if mod != nil {
			mod(&in)
		}
		return enqueue(t, in).ID
	}
	chatOld := add(sales.ID, routing.LiveChat, routing.PriorityNormal, 0, nil)
	chatUrgent := add(sales.ID, routing.LiveChat, routing.PriorityUrgent, 3*time.Second, nil)
	chatNew := add(sales.ID, routing.LiveChat, routing.PriorityNormal, 2*time.Second, nil)
	add(sales.ID, routing.LiveChat, routing.PriorityLow, time.Second, nil)
	voice := add(sales.ID, routing.Voice, routing.PriorityNormal, 5*time.Second, nil)
	add(other.ID, routing.LiveChat, routing.PriorityUrgent, 0, nil)                            // not Ana's queue
	add(sales.ID, routing.LiveChat, routing.PriorityUrgent, 0, func(in *pgstore.Interaction) { // a skill Ana lacks
		in.RequiredSkills = []string{spanish.ID}
	})
	add(sales.ID, routing.LiveChat, routing.PriorityUrgent, 0, func(in *pgstore.Interaction) { // Ana had it already
		in.ExcludedAgents = []string{ana.ID}
	})
	add(manual.ID, routing.LiveChat, routing.PriorityUrgent, 0, nil) // manual queue: chats wait for a pick
	manualCall := add(manual.ID, routing.Voice, routing.PriorityLow, 0, nil)

	queues := []string{sales.ID, manual.ID}
	got, err := store.Waiting(ctx, tid, pgstore.WaitingFilter{AgentID: ana.ID, QueueIDs: queues,
		Room: routing.Occupancy{routing.LiveChat: 3, routing.Voice: 1}})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, w := range got {
		ids = append(ids, w.ID)
	}
	want := []string{chatUrgent, chatOld, chatNew, voice}
	if !slices.Equal(ids, want) {
		t.Errorf("waiting %v\nwant %v", ids, want)
	}
	// The same through routing.BulkAssign, as the dispatcher uses it.
	cand := routing.Candidate{AgentID: ana.ID, Status: routing.Status{Name: "Available", Group: routing.GroupAvailable},
		Queues: queues, Capacity: routing.Capacity{routing.LiveChat: 3, routing.Voice: 1}}
	if bulk := routing.BulkAssign(cand, got, t0.Add(time.Hour)); !slices.Equal(bulk, want) {
		t.Errorf("BulkAssign %v", bulk)
	}
	// Calls of a queue without automatic assignment are still assigned, by priority.
	got, err = store.Waiting(ctx, tid, pgstore.WaitingFilter{AgentID: ana.ID, QueueIDs: queues, Skills: []string{spanish.ID},
		Room: routing.Occupancy{routing.Voice: 2}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != voice || got[1].ID != manualCall {
		t.Errorf("voice with room 2: %+v", got)
	}
	if got, err := store.Waiting(ctx, tid, pgstore.WaitingFilter{AgentID: ana.ID, QueueIDs: queues}); err != nil || len(got) != 0 {
		t.Errorf("no room: %v, %v", got, err)
	}
}

// The sticky agent is the last one who took an interaction of the customer.
func TestLastContact(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	tid := newTenant(t).Tenant.ID
	ana := newUser(t, tid, pgstore.RoleAgent)
	bo := newUser(t, tid, pgstore.RoleAgent)
	q := defaultQueue(t, tid)
	t0 := time.Now().UTC().Truncate(time.Millisecond).Add(-time.Hour)
	connect := func(agent string, at time.Time) string {
		in := enqueue(t, newInteraction(tid, q.ID, routing.Voice, routing.PriorityNormal, at))
		record(t, pgstore.InteractionUpdate{TenantID: tid, InteractionID: in.ID, State: pgstore.InteractionState{
			Status: pgstore.InteractionEnded, AgentID: agent, QueuedAt: at, ConnectedAt: &at, EndedAt: &at, Version: 5}})
		return in.ID
	}
	if _, _, ok, err := store.LastContact(ctx, tid, "+385100", ""); ok || err != nil {
		t.Fatalf("no contact yet: %v, %v", ok, err)
	}
	connect(ana.ID, t0)
	last := connect(bo.ID, t0.Add(time.Minute))
	if a, at, ok, err := store.LastContact(ctx, tid, "+385100", ""); !ok || err != nil || a != bo.ID || !at.Equal(t0.Add(time.Minute)) {
		t.Errorf("last contact %s %v %v %v", a, at, ok, err)
	}
	if a, _, ok, _ := store.LastContact(ctx, tid, "+385100", last); !ok || a != ana.ID {
		t.Errorf("last contact before %s: %s", last, a)
	}
	if _, _, ok, _ := store.LastContact(ctx, tid, "+385999", ""); ok {
		t.Error("another customer has a contact")
	}
}

// A queue with active interactions is not deleted; once they are over it is. An
// interaction enqueued while its queue is being deleted either keeps the queue or
// lands in the Default queue: it never refers to a deleted queue while active.
func TestDeleteQueueWithInteractions(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	tid := newTenant(t).Tenant.ID
	ana := newUser(t, tid, pgstore.RoleAgent)
	q := newQueue(t, tid, "Busy")
	t0 := time.Now().UTC()
	in := enqueue(t, newInteraction(tid, q.ID, routing.LiveChat, routing.PriorityNormal, t0))
	before := snapshot(t, tid)
	wantErr(t, store.DeleteQueue(ctx, tid, pgstore.Actor{}, q.ID), pgstore.ErrConflict)
	if after := snapshot(t, tid); after != before {
		t.Error("a refused delete changed something")
	}
	record(t, pgstore.InteractionUpdate{TenantID: tid, InteractionID: in.ID, State: pgstore.InteractionState{
		Status: pgstore.InteractionConnected, AgentID: ana.ID, QueuedAt: t0, ConnectedAt: &t0, Version: 1}})
	wantErr(t, store.DeleteQueue(ctx, tid, pgstore.Actor{}, q.ID), pgstore.ErrConflict)
	record(t, pgstore.InteractionUpdate{TenantID: tid, InteractionID: in.ID, State: pgstore.InteractionState{
		Status: pgstore.InteractionEnded, AgentID: ana.ID, QueuedAt: t0, ConnectedAt: &t0, EndedAt: &t0, Version: 2}})
	if err := store.DeleteQueue(ctx, tid, pgstore.Actor{}, q.ID); err != nil {
		t.Fatalf("delete with only ended interactions: %v", err)
	}
	// History keeps the queue's ID.
	if got := getInteraction(t, tid, in.ID); got.QueueID != q.ID {
		t.Errorf("ended interaction's queue %s", got.QueueID)
	}

	def := defaultQueue(t, tid)
	for i := range 10 {
		racy := newQueue(t, tid, "Racy "+pgtest.RandomHex(3))
		var (
			wg     sync.WaitGroup
			start  = make(chan struct{})
			delErr error
			queue  string
			enqErr error
		)
		wg.Add(2)
		go func() {
			defer wg.Done()
			<-start
			delErr = store.DeleteQueue(ctx, tid, pgstore.Actor{}, racy.ID)
		}()
		go func() {
			defer wg.Done()
			<-start
			queue, enqErr = store.EnqueueInteraction(ctx, newInteraction(tid, racy.ID, routing.Voice, routing.PriorityNormal, t0))
		}()
		close(start)
		wg.Wait()
		switch {
		case enqErr != nil:
			t.Fatalf("round %d: enqueue failed: %v", i, enqErr)
		case delErr == nil && queue != def.ID:
			t.Fatalf("round %d: the queue was deleted under an interaction enqueued in it", i)
		case delErr != nil:
			wantErr(t, delErr, pgstore.ErrConflict)
			if queue != racy.ID {
				t.Fatalf("round %d: delete refused but the interaction went to %s", i, queue)
			}
		}
	}
	var dangling int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM interactions i WHERE tenant_id = $1 AND status IN ('queued', 'offered', 'connected')
		AND NOT EXISTS (SELECT 1 FROM queues q WHERE q.tenant_id = i.tenant_id AND q.id = i.queue_id)`, tid).Scan(&dangling); err != nil || dangling != 0 {
		t.Errorf("%d active interactions in deleted queues, %v", dangling, err)
	}
}

// Assignment reads the queue's agents with their skills and effective capacity.
func TestAssignmentAgents(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	tid := newTenant(t).Tenant.ID
	ana := newUser(t, tid, pgstore.RoleAgent)
	bo := newUser(t, tid, pgstore.RoleAgent)
	cy := newUser(t, tid, pgstore.RoleAgent)
	spanish := newSkill(t, tid, "Spanish")
	q := newQueue(t, tid, "Sales", ana.ID, bo.ID)
	three := routing.Capacity{routing.LiveChat: 3}
	skills := []string{spanish.ID}
	if _, err := store.UpdateAgent(ctx, tid, pgstore.Actor{}, ana.ID, pgstore.AgentUpdate{Capacity: &three, SkillIDs: &skills}); err != nil {
		t.Fatal(err)
	}
	disabled := false
	if _, err := store.UpdateAgent(ctx, tid, pgstore.Actor{}, bo.ID, pgstore.AgentUpdate{Enabled: &disabled}); err != nil {
		t.Fatal(err)
	}
	ring := 7
	if _, err := store.UpdateACDSettings(ctx, tid, pgstore.Actor{}, pgstore.ACDSettingsUpdate{DefaultCapacity: &routing.Capacity{routing.LiveMessaging: 2}, RingTimeoutSeconds: &ring}); err != nil {
		t.Fatal(err)
	}
	aq, err := store.GetAssignmentQueue(ctx, tid, q.ID)
	if err != nil || aq.IsDefault || !aq.AutoAssign || aq.RingTimeout != 7*time.Second || aq.Sticky != routing.StickyOff {
		t.Fatalf("assignment queue %+v, %v", aq, err)
	}
	all := []string{ana.ID, bo.ID, cy.ID}
	cands, err := store.AssignmentAgents(ctx, tid, aq, all)
	if err != nil {
		t.Fatal(err)
	}
	if len(cands) != 1 || cands[0].AgentID != ana.ID || !slices.Equal(cands[0].Skills, skills) ||
		cands[0].Capacity[routing.LiveChat] != 3 || cands[0].Capacity[routing.LiveMessaging] != 2 || cands[0].Capacity[routing.Voice] != 1 ||
		!slices.Equal(cands[0].Queues, []string{q.ID}) {
		t.Errorf("Sales candidates %+v (Bo is disabled, Cy not a member)", cands)
	}
	def, err := store.GetAssignmentQueue(ctx, tid, defaultQueue(t, tid).ID)
	if err != nil || !def.IsDefault {
		t.Fatalf("Default queue %+v, %v", def, err)
	}
	if cands, err := store.AssignmentAgents(ctx, tid, def, all); err != nil || len(cands) != 2 {
		t.Errorf("Default queue candidates %+v, %v", cands, err)
	}
	if cands, err := store.AssignmentAgents(ctx, tid, def, []string{cy.ID}); err != nil || len(cands) != 1 || cands[0].AgentID != cy.ID {
		t.Errorf("only online agents %+v, %v", cands, err)
	}
}

// A queue change writes the kept state when the agent works the new queue (every agent
// works the Default queue) or there is no agent, the unassigned state otherwise, with
// the new queue; an unknown queue writes nothing. A retry changes nothing, and a
// queue being deleted meanwhile never ends up holding the moved interaction.
func TestMoveInteraction(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	tid := newTenant(t).Tenant.ID
	ana := newUser(t, tid, pgstore.RoleAgent)
	bo := newUser(t, tid, pgstore.RoleAgent)
	sales := newQueue(t, tid, "Sales", ana.ID)
	billing := newQueue(t, tid, "Billing", bo.ID)
	def := defaultQueue(t, tid)
	t0 := time.Now().UTC().Truncate(time.Millisecond)
	in := enqueue(t, newInteraction(tid, sales.ID, routing.Voice, routing.PriorityNormal, t0))
	connected := pgstore.InteractionState{Status: pgstore.InteractionConnected, AgentID: ana.ID, Offers: 1, QueuedAt: t0, ConnectedAt: &t0, Version: 2}
	record(t, pgstore.InteractionUpdate{TenantID: tid, InteractionID: in.ID, State: connected})

	change := func(queue, agent string, version int64) pgstore.QueueChange {
		kept := connected
		kept.Version = version
		unassigned := kept
		unassigned.Status, unassigned.AgentID, unassigned.ConnectedAt = pgstore.InteractionQueued, "", nil
		unassigned.ExcludedAgents = []string{agent}
		return pgstore.QueueChange{QueueID: queue, AgentID: agent,
			Kept:       pgstore.InteractionUpdate{TenantID: tid, InteractionID: in.ID, State: kept},
			Unassigned: &pgstore.InteractionUpdate{TenantID: tid, InteractionID: in.ID, State: unassigned}}
	}

	// Unknown, malformed, or another tenant's queue: nothing written.
	other := newQueue(t, newTenant(t).Tenant.ID, "Elsewhere")
	for _, q := range []string{uuid.NewString(), "sales", other.ID} {
		if _, err := store.MoveInteraction(ctx, change(q, ana.ID, 3)); !errors.Is(err, pgstore.ErrUnknownQueue) {
			t.Errorf("move to %s: %v", q, err)
		}
	}
	if got := getInteraction(t, tid, in.ID); got.Version != 2 || got.QueueID != sales.ID {
		t.Fatalf("a refused move wrote %+v", got)
	}
	// The Default queue keeps Ana.
	if member, err := store.MoveInteraction(ctx, change(def.ID, ana.ID, 3)); err != nil || !member {
		t.Fatalf("move to the Default queue: %v, %v", member, err)
	}
	if got := getInteraction(t, tid, in.ID); got.QueueID != def.ID || got.Status != pgstore.InteractionConnected || got.AgentID != ana.ID || got.Version != 3 {
		t.Errorf("after the move to the Default queue %+v", got)
	}
	// Billing is Bo's: Ana is unassigned and excluded; a retry writes the same.
	for range 2 {
		if member, err := store.MoveInteraction(ctx, change(billing.ID, ana.ID, 4)); err != nil || member {
			t.Fatalf("move to Billing: %v, %v", member, err)
		}
	}
	got := getInteraction(t, tid, in.ID)
	if got.QueueID != billing.ID || got.Status != pgstore.InteractionQueued || got.AgentID != "" || got.ConnectedAt != nil ||
		!slices.Equal(got.ExcludedAgents, []string{ana.ID}) || got.Version != 4 {
		t.Errorf("after the move to Billing %+v", got)
	}
	// An older move retried late changes nothing.
	if _, err := store.MoveInteraction(ctx, change(sales.ID, ana.ID, 3)); err != nil {
		t.Fatal(err)
	}
	if got := getInteraction(t, tid, in.ID); got.QueueID != billing.ID || got.Version != 4 {
		t.Errorf("a late retry rolled the row back: %+v", got)
	}
	// Queued, with no agent: moved as it is.
	queued := got.InteractionState
	queued.Version = 5
	if member, err := store.MoveInteraction(ctx, pgstore.QueueChange{QueueID: sales.ID,
		Kept: pgstore.InteractionUpdate{TenantID: tid, InteractionID: in.ID, State: queued}}); err != nil || !member {
		t.Fatalf("move while queued: %v, %v", member, err)
	}
	if got := getInteraction(t, tid, in.ID); got.QueueID != sales.ID || got.Status != pgstore.InteractionQueued {
		t.Errorf("after the queued move %+v", got)
	}
	// An agent without the unassigned state is refused.
	bad := change(billing.ID, ana.ID, 9)
	bad.Unassigned = nil
	_, err := store.MoveInteraction(ctx, bad)
	wantInvalid(t, err, "unassigned")

	// Moves racing the deletion of their queue: either the move is refused, or the
	// queue is kept (it has an active interaction).
	for i := range 10 {
		racy := newQueue(t, tid, "Racy "+pgtest.RandomHex(3))
		version := int64(10 + i)
		var (
			wg             sync.WaitGroup
			start          = make(chan struct{})
			delErr, movErr error
		)
		wg.Add(2)
		go func() {
			defer wg.Done()
			<-start
			delErr = store.DeleteQueue(ctx, tid, pgstore.Actor{}, racy.ID)
		}()
		go func() {
			defer wg.Done()
			<-start
			_, movErr = store.MoveInteraction(ctx, pgstore.QueueChange{QueueID: racy.ID,
				Kept: pgstore.InteractionUpdate{TenantID: tid, InteractionID: in.ID, State: pgstore.InteractionState{
					Status: pgstore.InteractionQueued, QueuedAt: t0, Version: version}}})
		}()
		close(start)
		wg.Wait()
		switch {
		case movErr == nil && delErr == nil:
			t.Fatalf("round %d: the queue was deleted under an interaction moved into it", i)
		case movErr != nil && !errors.Is(movErr, pgstore.ErrUnknownQueue):
			t.Fatalf("round %d: move: %v", i, movErr)
		case delErr != nil:
			wantErr(t, delErr, pgstore.ErrConflict)
		}
	}
}

// A call's agent wraps up for their own wrap-up time, else the tenant's; the latest
// other call they ended tells whether they are still wrapping up.
func TestAgentWrapUp(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	tid := newTenant(t).Tenant.ID
	ana := newUser(t, tid, pgstore.RoleAgent)
	q := defaultQueue(t, tid)
	wrap, last, err := store.AgentWrapUp(ctx, tid, ana.ID, "")
	if err != nil || wrap != pgstore.DefaultWrapUpSeconds*time.Second || !last.IsZero() {
		t.Fatalf("defaults: %v, %v, %v", wrap, last, err)
	}
	ten := 10
	if _, err := store.UpdateACDSettings(ctx, tid, pgstore.Actor{}, pgstore.ACDSettingsUpdate{WrapUpSeconds: &ten}); err != nil {
		t.Fatal(err)
	}
	if wrap, _, _ := store.AgentWrapUp(ctx, tid, ana.ID, ""); wrap != 10*time.Second {
		t.Errorf("tenant wrap-up %v", wrap)
	}
	if _, err := store.UpdateAgent(ctx, tid, pgstore.Actor{}, ana.ID, pgstore.AgentUpdate{WrapUpSeconds: pgstore.Nullable[int]{Set: true, Value: new(int)}}); err != nil {
		t.Fatal(err)
	}
	if wrap, _, _ := store.AgentWrapUp(ctx, tid, ana.ID, ""); wrap != 0 {
		t.Errorf("agent's own wrap-up %v, want 0", wrap)
	}
	t0 := time.Now().UTC().Truncate(time.Millisecond).Add(-time.Minute)
	end := func(ch routing.Channel, at time.Time) string {
		in := enqueue(t, newInteraction(tid, q.ID, ch, routing.PriorityNormal, t0))
		record(t, pgstore.InteractionUpdate{TenantID: tid, InteractionID: in.ID, State: pgstore.InteractionState{
			Status: pgstore.InteractionEnded, AgentID: ana.ID, QueuedAt: t0, ConnectedAt: &t0, EndedAt: &at, Version: 3}})
		return in.ID
	}
	end(routing.Voice, t0)
	latest := end(routing.Voice, t0.Add(10*time.Second))
	end(routing.LiveChat, t0.Add(20*time.Second))
	if _, last, _ := store.AgentWrapUp(ctx, tid, ana.ID, ""); !last.Equal(t0.Add(10 * time.Second)) {
		t.Errorf("latest call ended %v", last)
	}
	if _, last, _ := store.AgentWrapUp(ctx, tid, ana.ID, latest); !last.Equal(t0) {
		t.Errorf("latest other than %s ended %v", latest, last)
	}
}
