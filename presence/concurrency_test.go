package presence_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"switchboard/presence"
	"switchboard/routing"
)

// auditor checks the tenant's slots atomically (one Audit script) in a loop
// until stopped: never more slots on a channel than its capacity, never an
// interaction on two agents, never a slot that disagrees with its owner
// record. capacity(agent, channel) gives the limit.
type auditor struct {
	t        *testing.T
	s        *presence.Store
	capacity func(agent string, ch routing.Channel) int
	stop     chan struct{}
	done     chan struct{}
	rounds   atomic.Int64
	mu       sync.Mutex
	failures []string
}

func startAuditor(t *testing.T, s *presence.Store, capacity func(string, routing.Channel) int) *auditor {
	a := &auditor{t: t, s: s, capacity: capacity, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(a.done)
		for {
			select {
			case <-a.stop:
				return
			default:
			}
			a.check()
		}
	}()
	return a
}

func (a *auditor) fail(format string, args ...any) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.failures) < 20 {
		a.failures = append(a.failures, fmt.Sprintf(format, args...))
	}
}

// check audits once and records any violation.
func (a *auditor) check() {
	slots, err := a.s.Audit(context.Background(), tenant)
	if err != nil {
		a.fail("audit: %v", err)
		return
	}
	a.rounds.Add(1)
	load := map[string]map[routing.Channel]int{}
	owner := map[string]string{}
	for _, sl := range slots {
		if load[sl.Agent] == nil {
			load[sl.Agent] = map[routing.Channel]int{}
		}
		load[sl.Agent][sl.Channel]++
		if prev, dup := owner[sl.Interaction]; dup {
			a.fail("interaction %s is with %s and %s at once", sl.Interaction, prev, sl.Agent)
		}
		owner[sl.Interaction] = sl.Agent
	}
	for agent, byCh := range load {
		for ch, n := range byCh {
			if c := a.capacity(agent, ch); n > c {
				a.fail("agent %s holds %d on %s, capacity %d", agent, n, ch, c)
			}
		}
	}
}

// finish stops the loop, runs one last audit and fails the test on any
// violation seen at any point.
func (a *auditor) finish() {
	close(a.stop)
	<-a.done
	a.check()
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, f := range a.failures {
		a.t.Error(f)
	}
	a.t.Logf("auditor: %d atomic audits, %d violations", a.rounds.Load(), len(a.failures))
}

// (a) Fifty processes race to reserve fifty different chats on one agent with
// capacity 3: exactly three win, and no observer ever sees more than three.
func TestConcurrentReserveNeverExceedsCapacity(t *testing.T) {
	e := newEnv(t, 0)
	login(t, e.store, "agent", available)
	const racers, capacity = 50, 3
	aud := startAuditor(t, e.store, func(string, routing.Channel) int { return capacity })

	stores := make([]*presence.Store, racers)
	for i := range stores {
		stores[i] = e.separateStore(t)
	}
	var wins atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, racers)
	for i, s := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			ctx := context.Background()
			ok, err := s.Reserve(ctx, tenant, "agent", fmt.Sprintf("chat-%02d", i), routing.LiveChat, capacity, time.Minute)
			if err != nil {
				errs <- err
				return
			}
			if !ok {
				return
			}
			wins.Add(1)
			// Check right after our own success, from our own connection.
			o, err := s.Occupancy(ctx, tenant, "agent")
			if err != nil {
				errs <- err
				return
			}
			if o[routing.LiveChat] > capacity {
				errs <- fmt.Errorf("after a win occupancy is %d > %d", o[routing.LiveChat], capacity)
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	aud.finish()
	if n := wins.Load(); n != capacity {
		t.Fatalf("%d reservations won, want exactly %d", n, capacity)
	}
	if o := occupancy(t, e.store, "agent"); o[routing.LiveChat] != capacity {
		t.Fatalf("final occupancy %v", o)
	}
}

// (b) Twenty processes race to reserve the same interaction on ten different
// agents (two racers per agent): exactly one reservation succeeds.
func TestConcurrentReserveOneInteractionOneAgent(t *testing.T) {
	e := newEnv(t, 0)
	const agents, racers = 10, 20
	for i := range agents {
		login(t, e.store, fmt.Sprintf("agent-%d", i), available)
	}
	for round := range 20 { // repeat: one race proves little
		ix := fmt.Sprintf("contested-%d", round)
		stores := make([]*presence.Store, racers)
		for i := range stores {
			stores[i] = e.separateStore(t)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		var winners []string
		start := make(chan struct{})
		for i, s := range stores {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				agent := fmt.Sprintf("agent-%d", i%agents)
				ok, err := s.Reserve(context.Background(), tenant, agent, ix, routing.Voice, 1, time.Minute)
				if err != nil {
					t.Error(err)
					return
				}
				if ok {
					mu.Lock()
					winners = append(winners, agent)
					mu.Unlock()
				}
			}()
		}
		close(start)
		wg.Wait()
		if len(winners) != 1 {
			t.Fatalf("round %d: %d reservations succeeded (%v), want exactly 1", round, len(winners), winners)
		}
		sl, ok, err := e.store.Holder(ctxT(t), tenant, ix)
		if err != nil || !ok || sl.Agent != winners[0] {
			t.Fatalf("round %d: holder %+v %v %v, winner %s", round, sl, ok, err, winners[0])
		}
		slots, err := e.store.Audit(ctxT(t), tenant)
		if err != nil {
			t.Fatal(err)
		}
		if len(slots) != 1 || slots[0].Agent != winners[0] {
			t.Fatalf("round %d: slots %+v", round, slots)
		}
		release(t, e.store, winners[0], ix)
	}
}

// (c) Many processes interleave Reserve, Confirm and Release (and status
// flips) at random on a small pool of agents and interactions, with short and
// long reservation TTLs. An atomic auditor watches throughout; at the end
// every view (Audit, Holder, Snapshot) must agree and releasing everything
// must leave nothing behind.
func TestConcurrentRandomInterleaving(t *testing.T) {
	e := newEnv(t, 0)
	const (
		nAgents, nInteractions = 6, 48
		workers, opsPerWorker  = 24, 250
	)
	channels := []routing.Channel{routing.Voice, routing.LiveChat, routing.LiveMessaging, routing.Email}
	agents := make([]string, nAgents)
	caps := map[string]routing.Capacity{}
	for i := range agents {
		agents[i] = fmt.Sprintf("agent-%d", i)
		caps[agents[i]] = routing.Capacity{routing.Voice: 1, routing.LiveChat: 1 + i%3, routing.LiveMessaging: 2, routing.Email: 1 + i%2}
		login(t, e.store, agents[i], available)
	}
	chOf := func(ix int) routing.Channel { return channels[ix%len(channels)] }
	capacity := func(agent string, ch routing.Channel) int { return caps[agent][ch] }
	aud := startAuditor(t, e.store, capacity)

	var reserved, confirmed, released atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		s := e.separateStore(t)
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 42))
			ctx := context.Background()
			for range opsPerWorker {
				agent := agents[r.IntN(nAgents)]
				n := r.IntN(nInteractions)
				ix := fmt.Sprintf("ix-%02d", n)
				var err error
				var ok bool
				switch op := r.IntN(20); {
				case op < 9:
					ttl := 5 * time.Second
					if r.IntN(3) == 0 {
						ttl = time.Duration(5+r.IntN(40)) * time.Millisecond
					}
					ok, err = s.Reserve(ctx, tenant, agent, ix, chOf(n), capacity(agent, chOf(n)), ttl)
					if ok {
						reserved.Add(1)
					}
				case op < 14:
					ok, err = s.Confirm(ctx, tenant, agent, ix)
					if ok {
						confirmed.Add(1)
					}
				case op < 19:
					ok, err = s.Release(ctx, tenant, agent, ix)
					if ok {
						released.Add(1)
					}
				default:
					st := available
					if r.IntN(2) == 0 {
						st = away
					}
					_, err = s.SetStatus(ctx, tenant, agent, st)
				}
				if err != nil {
					t.Errorf("worker %d: %v", w, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	aud.finish()
	t.Logf("%d reservations, %d confirms, %d releases succeeded", reserved.Load(), confirmed.Load(), released.Load())
	if reserved.Load() == 0 || confirmed.Load() == 0 || released.Load() == 0 {
		t.Fatal("the random mix never exercised one of the operations")
	}

	// Quiescent: once the short reservations (< 50ms) have lapsed, the rest
	// live for seconds, so every view must agree exactly.
	time.Sleep(100 * time.Millisecond)
	ctx := ctxT(t)
	slots, err := e.store.Audit(ctx, tenant)
	if err != nil {
		t.Fatal(err)
	}
	byIx := map[string]presence.Slot{}
	load := map[string]routing.Occupancy{}
	for _, sl := range slots {
		byIx[sl.Interaction] = sl
		if load[sl.Agent] == nil {
			load[sl.Agent] = routing.Occupancy{}
		}
		load[sl.Agent][sl.Channel]++
	}
	for n := range nInteractions {
		ix := fmt.Sprintf("ix-%02d", n)
		h, ok, err := e.store.Holder(ctx, tenant, ix)
		if err != nil {
			t.Fatal(err)
		}
		want, inAudit := byIx[ix]
		if ok != inAudit {
			t.Errorf("%s: holder %+v (%v), audit %+v (%v)", ix, h, ok, want, inAudit)
		}
		if ok && inAudit && (h.Agent != want.Agent || h.Channel != want.Channel || h.Channel != chOf(n)) {
			t.Errorf("%s: holder %+v, audit %+v", ix, h, want)
		}
	}
	states, err := e.store.Snapshot(ctx, tenant, agents)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range states {
		for _, ch := range channels {
			if st.Occupancy[ch] > capacity(st.Agent, ch) {
				t.Errorf("%s: %d on %s, capacity %d", st.Agent, st.Occupancy[ch], ch, capacity(st.Agent, ch))
			}
		}
		if !sameOcc(st.Occupancy, load[st.Agent]) {
			t.Errorf("%s: snapshot %v, audit %v", st.Agent, st.Occupancy, load[st.Agent])
		}
	}

	// Releasing everything leaves no slot and no owner behind.
	for n := range nInteractions {
		for _, a := range agents {
			release(t, e.store, a, fmt.Sprintf("ix-%02d", n))
		}
	}
	if slots, err := e.store.Audit(ctx, tenant); err != nil || len(slots) != 0 {
		t.Fatalf("after releasing everything: %v, %v", slots, err)
	}
	for n := range nInteractions {
		if _, ok, _ := e.store.Holder(ctx, tenant, fmt.Sprintf("ix-%02d", n)); ok {
			t.Fatalf("ix-%02d still has a holder", n)
		}
	}
}
