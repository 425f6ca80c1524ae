package presence_test

import (
	"testing"
	"time"

	"switchboard/presence"
	"switchboard/routing"
)

func TestReserveRules(t *testing.T) {
	e := newEnv(t, 0)
	s := e.store
	login(t, s, "free", available)
	login(t, s, "lunch", away)
	login(t, s, "busy", busy)
	login(t, s, "full", available)
	login(t, s, "caller", available)
	login(t, s, "holder", available)
	for _, ix := range []string{"f1", "f2"} {
		if !reserve(t, s, "full", ix, routing.LiveChat, 2, time.Minute) {
			t.Fatalf("setup reserve %s", ix)
		}
	}
	if _, err := s.SetVoiceState(ctxT(t), tenant, "caller", routing.VoiceInCall); err != nil {
		t.Fatal(err)
	}
	if !reserve(t, s, "holder", "taken", routing.LiveChat, 5, time.Minute) {
		t.Fatal("setup reserve taken")
	}

	cases := []struct {
		name, agent, ix string
		ch              routing.Channel
		capacity        int
		want            bool
	}{
		{"available agent with room", "free", "n1", routing.LiveChat, 5, true},
		{"never logged in", "nobody", "n2", routing.LiveChat, 5, false},
		{"away group", "lunch", "n3", routing.LiveChat, 5, false},
		{"busy group", "busy", "n4", routing.LiveChat, 5, false},
		{"at capacity", "full", "n5", routing.LiveChat, 2, false},
		{"capacity lowered below occupancy", "full", "n6", routing.LiveChat, 1, false},
		{"room on another channel", "full", "n7", routing.Email, 1, true},
		{"capacity zero takes nothing", "free", "n8", routing.Email, 0, false},
		{"voice state in_call holds the voice slot", "caller", "n9", routing.Voice, 1, false},
		{"voice state does not block chat", "caller", "n10", routing.LiveChat, 1, true},
		{"first voice call", "free", "v1", routing.Voice, 1, true},
		{"voice capacity is 1 whatever is passed", "free", "v2", routing.Voice, 5, false},
		{"interaction reserved by another agent", "free", "taken", routing.LiveChat, 5, false},
		{"interaction reserved by the same agent", "holder", "taken", routing.LiveChat, 5, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := reserve(t, s, c.agent, c.ix, c.ch, c.capacity, time.Minute); got != c.want {
				t.Fatalf("Reserve(%s, %s, %s, cap %d) = %v, want %v", c.agent, c.ix, c.ch, c.capacity, got, c.want)
			}
		})
	}
	if o := occupancy(t, s, "holder"); o[routing.LiveChat] != 1 {
		t.Fatalf("a refused repeat changed the holder's occupancy: %v", o)
	}
	if o := occupancy(t, s, "caller"); o[routing.Voice] != 1 || o[routing.LiveChat] != 1 {
		t.Fatalf("caller occupancy = %v, want voice 1 (from the voice state) and chat 1", o)
	}
	if _, err := s.Audit(ctxT(t), tenant); err != nil {
		t.Fatal(err)
	}
}

func TestConfirmAndReleaseAreIdempotent(t *testing.T) {
	e := newEnv(t, 0)
	s, ctx := e.store, ctxT(t)
	login(t, s, "a1", available)
	login(t, s, "a2", available)
	if la, _ := s.LastAssignedAt(ctx, tenant, "a1"); !la.IsZero() {
		t.Fatalf("last assigned before any confirm = %v", la)
	}
	if !reserve(t, s, "a1", "i1", routing.LiveChat, 5, time.Minute) {
		t.Fatal("reserve")
	}
	sl, ok, err := s.Holder(ctx, tenant, "i1")
	if err != nil || !ok || sl.Agent != "a1" || sl.Held || sl.Channel != routing.LiveChat || sl.ExpiresAt.IsZero() {
		t.Fatalf("holder of reserved i1 = %+v, %v, %v", sl, ok, err)
	}
	st, err := s.Snapshot(ctx, tenant, []string{"a1"})
	if err != nil {
		t.Fatal(err)
	}
	if st[0].Occupancy[routing.LiveChat] != 1 || st[0].Reserved[routing.LiveChat] != 1 {
		t.Fatalf("reserved slot: occupancy %v reserved %v", st[0].Occupancy, st[0].Reserved)
	}

	if confirm(t, s, "a2", "i1") {
		t.Fatal("another agent confirmed a1's reservation")
	}
	if !confirm(t, s, "a1", "i1") {
		t.Fatal("confirm")
	}
	la1, err := s.LastAssignedAt(ctx, tenant, "a1")
	if err != nil || la1.IsZero() {
		t.Fatalf("last assigned after confirm = %v, %v", la1, err)
	}
	time.Sleep(5 * time.Millisecond)
	if !confirm(t, s, "a1", "i1") {
		t.Fatal("repeated confirm reported false")
	}
	if la2, _ := s.LastAssignedAt(ctx, tenant, "a1"); !la2.Equal(la1) {
		t.Fatalf("repeated confirm moved last assigned from %v to %v", la1, la2)
	}
	if p := get(t, s, "a1"); !p.LastAssignedAt.Equal(la1) {
		t.Fatalf("presence last assigned = %v, want %v", p.LastAssignedAt, la1)
	}
	st, _ = s.Snapshot(ctx, tenant, []string{"a1"})
	if st[0].Occupancy[routing.LiveChat] != 1 || st[0].Reserved[routing.LiveChat] != 0 ||
		len(st[0].Slots) != 1 || !st[0].Slots[0].Held {
		t.Fatalf("held slot: %+v", st[0])
	}
	if sl, ok, _ := s.Holder(ctx, tenant, "i1"); !ok || !sl.Held || sl.Agent != "a1" {
		t.Fatalf("holder of held i1 = %+v, %v", sl, ok)
	}
	if reserve(t, s, "a2", "i1", routing.LiveChat, 5, time.Minute) {
		t.Fatal("reserved an interaction held by another agent")
	}

	if release(t, s, "a2", "i1") {
		t.Fatal("a2 released a1's interaction")
	}
	if o := occupancy(t, s, "a1"); o[routing.LiveChat] != 1 {
		t.Fatalf("a2's release changed a1: %v", o)
	}
	if !release(t, s, "a1", "i1") {
		t.Fatal("release")
	}
	if release(t, s, "a1", "i1") {
		t.Fatal("second release reported true")
	}
	if o := occupancy(t, s, "a1"); !sameOcc(o, routing.Occupancy{}) {
		t.Fatalf("occupancy after release = %v", o)
	}
	if _, ok, _ := s.Holder(ctx, tenant, "i1"); ok {
		t.Fatal("released interaction still has a holder")
	}
	if confirm(t, s, "a1", "i1") {
		t.Fatal("confirmed a released reservation")
	}

	// Release of a reservation (offer rejected) frees it for the next agent.
	if !reserve(t, s, "a1", "i2", routing.Voice, 1, time.Minute) || !release(t, s, "a1", "i2") {
		t.Fatal("reserve+release of a voice offer")
	}
	if !reserve(t, s, "a2", "i2", routing.Voice, 1, time.Minute) {
		t.Fatal("next agent could not reserve a released offer")
	}
	if !reserve(t, s, "a1", "i3", routing.Voice, 1, time.Minute) {
		t.Fatal("released voice slot was not free")
	}
	if _, err := s.Audit(ctx, tenant); err != nil {
		t.Fatal(err)
	}
}

func TestReservationTTLFreesTheSlot(t *testing.T) {
	e := newEnv(t, 0)
	s, ctx := e.store, ctxT(t)
	login(t, s, "a1", available)
	login(t, s, "a2", available)
	const ttl = 300 * time.Millisecond
	start := time.Now()
	if !reserve(t, s, "a1", "i1", routing.LiveChat, 1, ttl) {
		t.Fatal("reserve")
	}
	if reserve(t, s, "a1", "i2", routing.LiveChat, 1, time.Minute) {
		t.Fatal("capacity 1 took a second reservation")
	}
	if reserve(t, s, "a2", "i1", routing.LiveChat, 1, time.Minute) {
		t.Fatal("a live reservation was taken by another agent")
	}
	// The process that reserved "crashes": nobody releases. The slot frees
	// itself at the deadline with no sweeper.
	eventually(t, 2*time.Second, "a1's slot frees itself", func() bool {
		return occupancy(t, s, "a1")[routing.LiveChat] == 0
	})
	if time.Since(start) < ttl-50*time.Millisecond {
		t.Fatalf("slot freed after %v, before the %v TTL", time.Since(start), ttl)
	}
	if confirm(t, s, "a1", "i1") {
		t.Fatal("confirmed a lapsed reservation")
	}
	if !reserve(t, s, "a1", "i2", routing.LiveChat, 1, time.Minute) {
		t.Fatal("expired reservation still blocks capacity")
	}
	if !reserve(t, s, "a2", "i1", routing.LiveChat, 1, time.Minute) {
		t.Fatal("expired reservation still owns the interaction")
	}
	if sl, ok, _ := s.Holder(ctx, tenant, "i1"); !ok || sl.Agent != "a2" {
		t.Fatalf("holder of i1 = %+v, %v", sl, ok)
	}
	// a1's late accept of the lapsed offer must not steal it back.
	if confirm(t, s, "a1", "i1") {
		t.Fatal("late confirm of a lapsed offer succeeded")
	}
	if !confirm(t, s, "a2", "i1") {
		t.Fatal("a2 confirm")
	}
	if _, err := s.Audit(ctx, tenant); err != nil {
		t.Fatal(err)
	}
}

func TestSnapshot(t *testing.T) {
	e := newEnv(t, 0)
	s, ctx := e.store, ctxT(t)
	login(t, s, "a1", available)
	login(t, s, "a2", away)
	login(t, s, "a3", available)
	reserve(t, s, "a1", "c1", routing.LiveChat, 5, time.Minute)
	reserve(t, s, "a1", "c2", routing.LiveChat, 5, time.Minute)
	reserve(t, s, "a1", "m1", routing.LiveMessaging, 5, time.Minute)
	confirm(t, s, "a1", "c1")
	confirm(t, s, "a1", "m1")
	reserve(t, s, "a3", "v1", routing.Voice, 1, time.Minute)
	if _, err := s.SetVoiceState(ctx, tenant, "a3", routing.VoiceRinging); err != nil {
		t.Fatal(err)
	}

	agents := []string{"a3", "nobody", "a1", "a2"}
	st, err := s.Snapshot(ctx, tenant, agents)
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != len(agents) {
		t.Fatalf("%d states for %d agents", len(st), len(agents))
	}
	for i, a := range agents {
		if st[i].Agent != a {
			t.Fatalf("state %d is %s, want %s", i, st[i].Agent, a)
		}
	}
	want := []struct {
		group    routing.StatusGroup
		occ, res routing.Occupancy
		slots    int
	}{
		{routing.GroupAvailable, routing.Occupancy{routing.Voice: 1}, routing.Occupancy{routing.Voice: 1}, 1},
		{routing.GroupUnavailable, routing.Occupancy{}, routing.Occupancy{}, 0},
		{routing.GroupAvailable, routing.Occupancy{routing.LiveChat: 2, routing.LiveMessaging: 1}, routing.Occupancy{routing.LiveChat: 1}, 3},
		{routing.GroupAway, routing.Occupancy{}, routing.Occupancy{}, 0},
	}
	for i, w := range want {
		g := st[i]
		if g.Status.Group != w.group || !sameOcc(g.Occupancy, w.occ) || !sameOcc(g.Reserved, w.res) || len(g.Slots) != w.slots {
			t.Errorf("%s: group %s occ %v reserved %v slots %v; want %s %v %v %d",
				g.Agent, g.Status.Group, g.Occupancy, g.Reserved, g.Slots, w.group, w.occ, w.res, w.slots)
		}
	}
	a1 := st[2]
	if a1.LastAssignedAt.IsZero() {
		t.Fatal("a1 confirmed twice but has no last-assigned time")
	}
	c := a1.Candidate(routing.Candidate{Queues: []string{"q"}, Capacity: routing.Capacity{routing.LiveChat: 2, routing.LiveMessaging: 5}})
	if c.AgentID != "a1" || c.Status.Group != routing.GroupAvailable || !c.LastAssignedAt.Equal(a1.LastAssignedAt) || len(c.Queues) != 1 {
		t.Fatalf("candidate = %+v", c)
	}
	req := routing.Request{Channel: routing.LiveChat, QueueID: "q"}
	if ok, why := routing.Eligible(c, req); ok || why != routing.ReasonNoRoom {
		t.Fatalf("a1 at chat capacity 2 with 2 chats: eligible %v %s", ok, why)
	}
	req.Channel = routing.LiveMessaging
	if ok, why := routing.Eligible(c, req); !ok {
		t.Fatalf("a1 with messaging room: %s", why)
	}

	if empty, err := s.Snapshot(ctx, tenant, nil); err != nil || len(empty) != 0 {
		t.Fatalf("empty snapshot = %v, %v", empty, err)
	}
}

func TestRebuildAfterFlush(t *testing.T) {
	e := newEnv(t, 0)
	s, ctx := e.store, ctxT(t)
	login(t, s, "a1", available)
	login(t, s, "a2", available)
	reserve(t, s, "a1", "c1", routing.LiveChat, 5, time.Minute)
	confirm(t, s, "a1", "c1")
	reserve(t, s, "a1", "m1", routing.LiveMessaging, 5, time.Minute)
	confirm(t, s, "a1", "m1")
	reserve(t, s, "a2", "v1", routing.Voice, 1, time.Minute)
	confirm(t, s, "a2", "v1")
	before, err := s.Audit(ctx, tenant)
	if err != nil {
		t.Fatal(err)
	}
	la, _ := s.LastAssignedAt(ctx, tenant, "a1")

	e.deleteKeys(t) // Redis lost everything of ours

	if p := get(t, s, "a1"); p.LoggedIn {
		t.Fatal("presence survived the flush")
	}
	if _, err := s.Heartbeat(ctx, tenant, "a1"); err == nil {
		t.Fatal("heartbeat after flush succeeded; the desktop must log in again")
	}
	held := []presence.Holding{
		{Agent: "a1", Interaction: "c1", Channel: routing.LiveChat, AssignedAt: la.Add(-time.Minute)},
		{Agent: "a1", Interaction: "m1", Channel: routing.LiveMessaging, AssignedAt: la},
		{Agent: "a2", Interaction: "v1", Channel: routing.Voice},
	}
	res, err := s.Rebuild(ctx, tenant, held, time.Time{})
	if err != nil || res.Restored != 3 || res.Pruned != 0 {
		t.Fatalf("rebuild = %+v, %v", res, err)
	}
	after, err := s.Audit(ctx, tenant)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Fatalf("after rebuild %v, before flush %v", after, before)
	}
	for i := range after {
		if after[i] != before[i] {
			t.Fatalf("slot %d after rebuild %+v, before %+v", i, after[i], before[i])
		}
	}
	if got, _ := s.LastAssignedAt(ctx, tenant, "a1"); !got.Equal(la) {
		t.Fatalf("last assigned after rebuild = %v, want %v", got, la)
	}
	// Desktops log in again; capacity counts the rebuilt holds.
	login(t, s, "a1", available)
	login(t, s, "a2", available)
	if reserve(t, s, "a2", "v2", routing.Voice, 1, time.Minute) {
		t.Fatal("rebuilt voice hold did not block a second call")
	}
	if reserve(t, s, "a1", "c2", routing.LiveChat, 1, time.Minute) {
		t.Fatal("rebuilt chat hold did not count")
	}
	if !confirm(t, s, "a1", "c1") {
		t.Fatal("confirm of a rebuilt hold is not idempotent")
	}
	// Running it again changes nothing.
	res, err = s.Rebuild(ctx, tenant, held, time.Time{})
	if err != nil || res.Restored != 0 || res.Pruned != 0 {
		t.Fatalf("second rebuild = %+v, %v", res, err)
	}
}

func TestRebuildRepairsDrift(t *testing.T) {
	e := newEnv(t, 0)
	s, ctx := e.store, ctxT(t)
	for _, a := range []string{"a1", "a2", "a3"} {
		login(t, s, a, available)
	}
	// Leaked hold: its workflow was terminated and never released it.
	reserve(t, s, "a1", "leak", routing.Email, 10, time.Minute)
	confirm(t, s, "a1", "leak")
	// Transferred while Redis missed the move: PostgreSQL says a3 holds it.
	reserve(t, s, "a2", "moved", routing.LiveChat, 5, time.Minute)
	confirm(t, s, "a2", "moved")
	// A live offer the list does not know about yet: left alone.
	reserve(t, s, "a2", "ringing", routing.Voice, 1, time.Minute)

	// A hold confirmed in the cut's own millisecond is kept (it may have
	// been confirmed after the list was read), so step past it.
	time.Sleep(5 * time.Millisecond)
	cut, err := s.Now(ctx)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)
	// Confirmed while the caller was reading PostgreSQL: not in the list,
	// but newer than the cut, so it must survive.
	reserve(t, s, "a1", "fresh", routing.LiveChat, 5, time.Minute)
	confirm(t, s, "a1", "fresh")

	res, err := s.Rebuild(ctx, tenant, []presence.Holding{{Agent: "a3", Interaction: "moved", Channel: routing.LiveChat}}, cut)
	if err != nil {
		t.Fatal(err)
	}
	if res.Restored != 1 || res.Pruned != 1 {
		t.Fatalf("rebuild = %+v, want 1 restored (moved) and 1 pruned (leak)", res)
	}
	slots, err := s.Audit(ctx, tenant)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]presence.Slot{}
	for _, sl := range slots {
		got[sl.Interaction] = sl
	}
	if len(got) != 3 || got["moved"].Agent != "a3" || !got["moved"].Held ||
		got["fresh"].Agent != "a1" || got["ringing"].Agent != "a2" || got["ringing"].Held {
		t.Fatalf("slots after repair: %+v", slots)
	}
	if !sameOcc(occupancy(t, s, "a2"), routing.Occupancy{routing.Voice: 1}) {
		t.Fatalf("a2 = %v, want only the ringing call", occupancy(t, s, "a2"))
	}
}
