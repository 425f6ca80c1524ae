package presence_test

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"switchboard/presence"
	"switchboard/routing"
)

func handover(t testing.TB, s *presence.Store, from, to, ix string, ch routing.Channel, capacity int, ttl time.Duration) presence.HandoverResult {
	t.Helper()
	r, err := s.Handover(ctxT(t), tenant, from, to, ix, ch, capacity, ttl)
	if err != nil {
		t.Fatalf("hand %s over from %s to %s: %v", ix, from, to, err)
	}
	return r
}

// hold gives the agent a held slot of the interaction, as an accepted offer does.
func hold(t testing.TB, s *presence.Store, agent, ix string, ch routing.Channel) {
	t.Helper()
	if !reserve(t, s, agent, ix, ch, routing.MaxCapacity, time.Minute) || !confirm(t, s, agent, ix) {
		t.Fatalf("setup: %s could not take %s", agent, ix)
	}
}

// world is everything the tests can see of the tenant: every live slot (audited,
// so the slots, their owner records and the ready index agree) and the ready
// agents with their loads.
type world struct {
	slots []presence.Slot
	ready []presence.ReadyAgent
}

func look(t testing.TB, s *presence.Store) world {
	t.Helper()
	slots, err := s.Audit(ctxT(t), tenant)
	if err != nil {
		t.Fatalf("audit: %v", err)
	}
	ready, err := s.Ready(ctxT(t), tenant)
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(ready, func(a, b presence.ReadyAgent) int { return strings.Compare(a.Agent, b.Agent) })
	return world{slots: slots, ready: ready}
}

func readyAgent(w world, agent string) (presence.ReadyAgent, bool) {
	for _, r := range w.ready {
		if r.Agent == agent {
			return r, true
		}
	}
	return presence.ReadyAgent{}, false
}

func holderOf(t testing.TB, s *presence.Store, ix string) (presence.Slot, bool) {
	t.Helper()
	sl, ok, err := s.Holder(ctxT(t), tenant, ix)
	if err != nil {
		t.Fatal(err)
	}
	return sl, ok
}

// A handover moves the source's held slot to a reservation of the target in one
// step: the source is free, the target has a reservation with the deadline
// reported, the owner record and the ready index follow; the target confirms it
// as for an offer. Repeating the handover that went through reports it again,
// with the same deadline, until the target confirms.
func TestHandoverMovesTheSlot(t *testing.T) {
	e := newEnv(t, 0)
	s := e.store
	login(t, s, "ana", available)
	login(t, s, "bo", available)
	hold(t, s, "ana", "ix1", routing.LiveChat)
	hold(t, s, "ana", "ix2", routing.LiveChat)
	before := time.Now()

	r := handover(t, s, "ana", "bo", "ix1", routing.LiveChat, 2, time.Minute)
	if !r.OK || r.Reason != "ok" || r.Deadline.Before(before.Add(time.Minute-time.Second)) || r.Deadline.After(time.Now().Add(time.Minute+time.Second)) {
		t.Fatalf("handover %+v", r)
	}
	sl, ok := holderOf(t, s, "ix1")
	if !ok || sl.Agent != "bo" || sl.Held || sl.Channel != routing.LiveChat || !sl.ExpiresAt.Equal(r.Deadline) {
		t.Fatalf("holder after the handover %+v %v", sl, ok)
	}
	if o := occupancy(t, s, "ana"); o[routing.LiveChat] != 1 {
		t.Errorf("Ana's occupancy %v, want the other chat only", o)
	}
	if o := occupancy(t, s, "bo"); o[routing.LiveChat] != 1 {
		t.Errorf("Bo's occupancy %v", o)
	}
	w := look(t, s)
	if a, _ := readyAgent(w, "ana"); a.Load.Occupancy()[routing.LiveChat] != 1 {
		t.Errorf("Ana in the ready index %+v", a)
	}
	if b, _ := readyAgent(w, "bo"); b.Load.Occupancy()[routing.LiveChat] != 1 {
		t.Errorf("Bo in the ready index %+v", b)
	}
	if len(w.slots) != 2 {
		t.Errorf("slots %+v", w.slots)
	}

	again := handover(t, s, "ana", "bo", "ix1", routing.LiveChat, 2, time.Minute)
	if !again.OK || !again.Deadline.Equal(r.Deadline) {
		t.Errorf("repeat %+v, want ok with the deadline %v", again, r.Deadline)
	}
	if !reflect.DeepEqual(look(t, s), w) {
		t.Errorf("the repeat changed something")
	}
	// Ana no longer holds it: she cannot release Bo's reservation.
	if release(t, s, "ana", "ix1") {
		t.Errorf("Ana released a slot she handed over")
	}
	if !confirm(t, s, "bo", "ix1") {
		t.Fatal("Bo could not confirm the handed-over interaction")
	}
	if sl, ok := holderOf(t, s, "ix1"); !ok || sl.Agent != "bo" || !sl.Held {
		t.Errorf("holder after the confirm %+v", sl)
	}
	// Held by Bo now: a late repeat from Ana is refused, and Bo may hand it back.
	if r := handover(t, s, "ana", "bo", "ix1", routing.LiveChat, 2, time.Minute); r.OK || r.Reason != "not_held" {
		t.Errorf("repeat after the confirm %+v", r)
	}
	if r := handover(t, s, "bo", "ana", "ix1", routing.LiveChat, 2, time.Minute); !r.OK {
		t.Errorf("hand back %+v", r)
	}
	look(t, s)
}

// A handover the target cannot take, or of an interaction the source does not hold,
// is refused with its reason and changes nothing anywhere.
func TestHandoverRefusalsChangeNothing(t *testing.T) {
	e := newEnv(t, 0)
	s := e.store
	login(t, s, "ana", available)
	login(t, s, "free", available)
	login(t, s, "lunch", away)
	login(t, s, "busy", busy)
	login(t, s, "full", available)
	login(t, s, "caller", available)
	login(t, s, "gone", available)
	login(t, s, "other", available)
	if _, err := s.Logout(ctxT(t), tenant, "gone"); err != nil {
		t.Fatal(err)
	}
	hold(t, s, "full", "f1", routing.LiveChat)
	hold(t, s, "full", "f2", routing.LiveChat)
	if _, err := s.SetVoiceState(ctxT(t), tenant, "caller", routing.VoiceInCall); err != nil {
		t.Fatal(err)
	}
	hold(t, s, "ana", "chat", routing.LiveChat)
	hold(t, s, "ana", "call", routing.Voice)
	hold(t, s, "other", "theirs", routing.LiveChat)
	if !reserve(t, s, "ana", "ringing", routing.LiveChat, 5, time.Minute) {
		t.Fatal("setup reserve")
	}
	// The target's session lapsed without a logout: a store with a short
	// heartbeat logs it in.
	short, err := presence.New(e.rdb, presence.Options{Prefix: e.prefix, HeartbeatTTL: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	login(t, short, "lapsed", available)
	time.Sleep(150 * time.Millisecond)

	cases := []struct {
		name, from, to, ix string
		ch                 routing.Channel
		capacity           int
		want               string
	}{
		{"target never logged in", "ana", "nobody", "chat", routing.LiveChat, 5, "not_logged_in"},
		{"target logged out", "ana", "gone", "chat", routing.LiveChat, 5, "not_logged_in"},
		{"target's session lapsed", "ana", "lapsed", "chat", routing.LiveChat, 5, "expired"},
		{"target away", "ana", "lunch", "chat", routing.LiveChat, 5, "not_available"},
		{"target busy", "ana", "busy", "chat", routing.LiveChat, 5, "not_available"},
		{"target full", "ana", "full", "chat", routing.LiveChat, 2, "no_room"},
		{"target capacity zero", "ana", "free", "chat", routing.LiveChat, 0, "no_room"},
		{"target in a call takes no call", "ana", "caller", "call", routing.Voice, 5, "no_room"},
		{"source holds another agent's interaction", "ana", "free", "theirs", routing.LiveChat, 5, "not_held"},
		{"source only has it ringing", "ana", "free", "ringing", routing.LiveChat, 5, "not_held"},
		{"nobody has it", "ana", "free", "unknown", routing.LiveChat, 5, "not_held"},
		{"source is the target of nothing", "free", "other", "chat", routing.LiveChat, 5, "not_held"},
	}
	w := look(t, s)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := handover(t, s, c.from, c.to, c.ix, c.ch, c.capacity, time.Minute)
			if r.OK || r.Reason != c.want || !r.Deadline.IsZero() {
				t.Fatalf("Handover(%s → %s, %s) = %+v, want %s", c.from, c.to, c.ix, r, c.want)
			}
			if now := look(t, s); !reflect.DeepEqual(now, w) {
				t.Fatalf("a refused handover changed\n%+v\ninto\n%+v", w, now)
			}
		})
	}
	if sl, ok := holderOf(t, s, "chat"); !ok || sl.Agent != "ana" || !sl.Held {
		t.Errorf("Ana's chat %+v", sl)
	}
	// Room on a voice call for an idle agent, whatever capacity is passed (one).
	if r := handover(t, s, "ana", "free", "call", routing.Voice, 5, time.Minute); !r.OK {
		t.Errorf("call to a free agent %+v", r)
	}
	look(t, s)
}

func TestHandoverInvalidInput(t *testing.T) {
	e := newEnv(t, 0)
	s := e.store
	cases := []struct {
		name, from, to, ix string
		ch                 routing.Channel
		capacity           int
		ttl                time.Duration
	}{
		{"empty source", "", "bo", "ix", routing.LiveChat, 1, time.Minute},
		{"empty target", "ana", "", "ix", routing.LiveChat, 1, time.Minute},
		{"bad interaction", "ana", "bo", "a|b", routing.LiveChat, 1, time.Minute},
		{"unknown channel", "ana", "bo", "ix", "pigeon", 1, time.Minute},
		{"negative capacity", "ana", "bo", "ix", routing.LiveChat, -1, time.Minute},
		{"capacity too high", "ana", "bo", "ix", routing.LiveChat, routing.MaxCapacity + 1, time.Minute},
		{"no ttl", "ana", "bo", "ix", routing.LiveChat, 1, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := s.Handover(ctxT(t), tenant, c.from, c.to, c.ix, c.ch, c.capacity, c.ttl)
			wantErr(t, err, presence.ErrInvalid)
		})
	}
}

// The reservation a handover made lapses like an offer's when the target never
// accepts: the target's room comes back and anyone may take the interaction.
func TestHandoverReservationLapses(t *testing.T) {
	e := newEnv(t, 0)
	s := e.store
	login(t, s, "ana", available)
	login(t, s, "bo", available)
	login(t, s, "cy", available)
	hold(t, s, "ana", "ix", routing.LiveChat)
	if r := handover(t, s, "ana", "bo", "ix", routing.LiveChat, 1, 150*time.Millisecond); !r.OK {
		t.Fatalf("handover %+v", r)
	}
	if reserve(t, s, "bo", "other", routing.LiveChat, 1, time.Minute) {
		t.Fatal("Bo took another chat beyond his capacity while the handover rang")
	}
	time.Sleep(200 * time.Millisecond)
	if _, ok := holderOf(t, s, "ix"); ok {
		t.Error("the lapsed reservation still holds the interaction")
	}
	if confirm(t, s, "bo", "ix") {
		t.Error("Bo confirmed a lapsed reservation")
	}
	if !reserve(t, s, "cy", "ix", routing.LiveChat, 1, time.Minute) || !reserve(t, s, "bo", "other", routing.LiveChat, 1, time.Minute) {
		t.Error("the interaction or Bo's room did not come back")
	}
	look(t, s)
}

// Many handovers of different interactions to one target race with reservations
// for that target: the target never has more than its capacity (an atomic auditor
// watches throughout), exactly capacity of them win, and every interaction has
// exactly one holder: the target for a handover that won, its source otherwise.
func TestConcurrentHandoversRespectCapacity(t *testing.T) {
	e := newEnv(t, 0)
	const capacity, sources, reservers, rounds = 3, 16, 16, 4
	login(t, e.store, "target", available)
	srcs := make([]string, sources)
	for i := range srcs {
		srcs[i] = fmt.Sprintf("src-%02d", i)
		login(t, e.store, srcs[i], available)
	}
	aud := startAuditor(t, e.store, func(agent string, _ routing.Channel) int {
		if agent == "target" {
			return capacity
		}
		return 1
	})
	stores := make([]*presence.Store, sources+reservers)
	for i := range stores {
		stores[i] = e.separateStore(t)
	}
	for round := range rounds {
		ix := func(i int) string { return fmt.Sprintf("r%d-h%02d", round, i) }
		for i, src := range srcs {
			hold(t, e.store, src, ix(i), routing.LiveChat)
		}
		handedOver := make([]bool, sources)
		var reserved, wins atomic.Int64
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make(chan error, len(stores))
		for i, s := range stores {
			wg.Go(func() {
				<-start
				ctx := context.Background()
				if i < sources {
					r, err := s.Handover(ctx, tenant, srcs[i], "target", ix(i), routing.LiveChat, capacity, time.Minute)
					switch {
					case err != nil:
						errs <- err
					case r.OK:
						handedOver[i] = true
						wins.Add(1)
					case r.Reason != "no_room":
						errs <- fmt.Errorf("handover %s refused for %s", ix(i), r.Reason)
					}
					return
				}
				ok, err := s.Reserve(ctx, tenant, "target", fmt.Sprintf("r%d-new%02d", round, i), routing.LiveChat, capacity, time.Minute)
				if err != nil {
					errs <- err
				} else if ok {
					reserved.Add(1)
					wins.Add(1)
				}
			})
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if wins.Load() != capacity {
			t.Errorf("round %d: %d handovers and %d reservations won, want %d in all", round, wins.Load()-reserved.Load(), reserved.Load(), capacity)
		}
		if o := occupancy(t, e.store, "target"); o[routing.LiveChat] != capacity {
			t.Errorf("round %d: target occupancy %v", round, o)
		}
		for i, src := range srcs {
			sl, ok := holderOf(t, e.store, ix(i))
			want := src
			if handedOver[i] {
				want = "target"
			}
			if !ok || sl.Agent != want || sl.Held == handedOver[i] {
				t.Errorf("round %d: %s is with %+v (%v), want %s", round, ix(i), sl, ok, want)
			}
			if o := occupancy(t, e.store, src); (o[routing.LiveChat] == 1) == handedOver[i] {
				t.Errorf("round %d: %s occupancy %v after handover %v", round, src, o, handedOver[i])
			}
		}
		w := look(t, e.store)
		if a, ok := readyAgent(w, "target"); !ok || a.Load.Occupancy()[routing.LiveChat] != capacity {
			t.Errorf("round %d: target in the ready index %+v", round, a)
		}
		// Free everything for the next round.
		for _, sl := range w.slots {
			release(t, e.store, sl.Agent, sl.Interaction)
		}
	}

	// Many targets race for one interaction: exactly one gets it.
	hold(t, e.store, "src-00", "contested", routing.LiveChat)
	var winners atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, s := range stores[1:sources] {
		wg.Go(func() {
			<-start
			r, err := s.Handover(context.Background(), tenant, "src-00", srcs[i+1], "contested", routing.LiveChat, 1, time.Minute)
			if err != nil {
				t.Error(err)
			} else if r.OK {
				winners.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	if winners.Load() != 1 {
		t.Errorf("%d targets took the contested interaction", winners.Load())
	}
	aud.finish()
	look(t, e.store)
}
