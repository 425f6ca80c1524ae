package presence_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"switchboard/presence"
	"switchboard/routing"
)

// readModel is the authoritative list of holdings, as the PostgreSQL read model
// keeps it: an interaction ends there first and is then released in presence.
type readModel struct {
	mu    sync.Mutex
	held  map[string]presence.Holding
	reads atomic.Int64
	// afterRead, when set, runs after each read (outside the lock): a change
	// that lands between a read and the Rebuild that applies it.
	afterRead func(n int64)
}

func newReadModel(hs ...presence.Holding) *readModel {
	m := &readModel{held: map[string]presence.Holding{}}
	for _, h := range hs {
		m.held[h.Interaction] = h
	}
	return m
}

func (m *readModel) source(ctx context.Context, _ string) ([]presence.Holding, error) {
	m.mu.Lock()
	out := slices.Collect(maps.Values(m.held))
	m.mu.Unlock()
	n := m.reads.Add(1)
	if m.afterRead != nil {
		m.afterRead(n)
	}
	return out, ctx.Err()
}

// end ends an interaction the way the product does: read model, then presence.
func (m *readModel) end(t testing.TB, s *presence.Store, ix string) {
	m.mu.Lock()
	h, ok := m.held[ix]
	delete(m.held, ix)
	m.mu.Unlock()
	if ok {
		if _, err := s.Release(context.Background(), tenant, h.Agent, ix); err != nil {
			t.Errorf("release %s: %v", ix, err)
		}
	}
}

// move gives an interaction to another agent in the read model.
func (m *readModel) move(ix, agent string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	h := m.held[ix]
	h.Agent = agent
	m.held[ix] = h
}

// wantSlots requires presence to hold exactly what the read model lists.
func (m *readModel) wantSlots(t testing.TB, s *presence.Store) {
	t.Helper()
	slots, err := s.Audit(ctxT(t), tenant)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]presence.Holding{}
	for _, sl := range slots {
		if !sl.Held {
			t.Errorf("reservation %+v after recovery", sl)
		}
		got[sl.Interaction] = presence.Holding{Agent: sl.Agent, Interaction: sl.Interaction, Channel: sl.Channel}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	want := map[string]presence.Holding{}
	for ix, h := range m.held {
		want[ix] = presence.Holding{Agent: h.Agent, Interaction: h.Interaction, Channel: h.Channel}
	}
	if !maps.Equal(got, want) {
		t.Fatalf("presence holds %v, the read model %v", got, want)
	}
}

func recoverT(t testing.TB, s *presence.Store, m *readModel) presence.Recovery {
	t.Helper()
	r, err := s.Recover(ctxT(t), tenant, m.source)
	if err != nil {
		t.Fatalf("recover: %v", err)
	}
	return r
}

func needs(t testing.TB, s *presence.Store) bool {
	t.Helper()
	lost, err := s.NeedRecovery(ctxT(t), []string{"other", tenant})
	if err != nil {
		t.Fatal(err)
	}
	return slices.Contains(lost, tenant)
}

func TestRecoverAfterFlush(t *testing.T) {
	e := newEnv(t, 0)
	s := e.store
	login(t, s, "a1", available)
	login(t, s, "a2", available)
	for _, h := range [][3]string{{"a1", "c1", "live_chat"}, {"a1", "m1", "live_messaging"}, {"a2", "v1", "voice"}} {
		if !reserve(t, s, h[0], h[1], routing.Channel(h[2]), 5, time.Minute) || !confirm(t, s, h[0], h[1]) {
			t.Fatalf("hold %v", h)
		}
	}
	m := newReadModel(
		presence.Holding{Agent: "a1", Interaction: "c1", Channel: routing.LiveChat},
		presence.Holding{Agent: "a1", Interaction: "m1", Channel: routing.LiveMessaging},
		presence.Holding{Agent: "a2", Interaction: "v1", Channel: routing.Voice},
	)

	// A tenant never seen is checked once against the read model; nothing is
	// missing, and then it is known.
	if !needs(t, s) {
		t.Fatal("a tenant without a marker is not reported")
	}
	if r := recoverT(t, s, m); !r.Rebuilt || r.Restored != 0 || r.Stale != 0 {
		t.Fatalf("first recovery %+v", r)
	}
	if needs(t, s) {
		t.Fatal("recovered tenant still reported")
	}
	reads := m.reads.Load()
	if r := recoverT(t, s, m); r.Rebuilt || m.reads.Load() != reads {
		t.Fatalf("a recovered tenant was rebuilt again: %+v", r)
	}
	m.wantSlots(t, s)

	e.deleteKeys(t) // Redis lost everything of ours
	if !needs(t, s) {
		t.Fatal("a flushed tenant is not reported")
	}
	if r := recoverT(t, s, m); !r.Rebuilt || r.Restored != 3 {
		t.Fatalf("recovery after the flush %+v", r)
	}
	m.wantSlots(t, s)
	// The desktops log in again; capacity counts what was restored.
	login(t, s, "a1", available)
	login(t, s, "a2", available)
	if reserve(t, s, "a2", "v2", routing.Voice, 1, time.Minute) {
		t.Fatal("a restored call did not count")
	}
	if reserve(t, s, "a1", "c2", routing.LiveChat, 1, time.Minute) {
		t.Fatal("a restored chat did not count")
	}
}

// An interaction that ends, or goes to another agent, between the read of the
// list and the Rebuild is not left on the agent who no longer has it; one that
// the read model takes meanwhile (accepted just before the flush, written just
// after the read) is restored too.
func TestRecoverCorrectsAListThatChanged(t *testing.T) {
	e := newEnv(t, 0)
	s := e.store
	m := newReadModel(
		presence.Holding{Agent: "a1", Interaction: "ended", Channel: routing.LiveChat},
		presence.Holding{Agent: "a1", Interaction: "moved", Channel: routing.Email},
		presence.Holding{Agent: "a2", Interaction: "kept", Channel: routing.LiveChat},
	)
	m.afterRead = func(n int64) {
		if n == 1 {
			m.end(t, s, "ended")
			m.move("moved", "a2")
			m.mu.Lock()
			m.held["appeared"] = presence.Holding{Agent: "a3", Interaction: "appeared", Channel: routing.LiveMessaging}
			m.mu.Unlock()
		}
	}
	r := recoverT(t, s, m)
	if !r.Rebuilt || r.Stale != 2 || r.Restored != 5 {
		t.Fatalf("recovery %+v", r)
	}
	m.wantSlots(t, s)
}

func TestRecoverFailureLeavesTheTenantToRecover(t *testing.T) {
	e := newEnv(t, 0)
	s := e.store
	boom := errors.New("read model down")
	if _, err := s.Recover(ctxT(t), tenant, func(context.Context, string) ([]presence.Holding, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Fatalf("recover = %v, want %v", err, boom)
	}
	if !needs(t, s) {
		t.Fatal("a failed recovery marked the tenant recovered")
	}
	m := newReadModel(presence.Holding{Agent: "a1", Interaction: "c1", Channel: routing.LiveChat})
	if r := recoverT(t, s, m); !r.Rebuilt || r.Restored != 1 {
		t.Fatalf("retry %+v", r)
	}
	m.wantSlots(t, s)
}

// Several processes recover the same flushed tenant at once while interactions
// end: one rebuilds, the others wait for it, and presence ends up holding
// exactly what the read model lists — nothing lost, nothing left behind.
func TestRecoverConcurrently(t *testing.T) {
	e := newEnv(t, 0)
	var hs []presence.Holding
	for a := range 10 {
		for i := range 4 {
			ch := []routing.Channel{routing.LiveChat, routing.LiveMessaging, routing.Email, routing.Voice}[i]
			hs = append(hs, presence.Holding{Agent: fmt.Sprintf("a%d", a), Interaction: fmt.Sprintf("ix-%d-%d", a, i), Channel: ch})
		}
	}
	m := newReadModel(hs...)
	if r := recoverT(t, e.store, m); r.Restored != len(hs) {
		t.Fatalf("initial %+v", r)
	}
	e.deleteKeys(t)

	const racers = 6
	var (
		wg      sync.WaitGroup
		rebuilt atomic.Int64
		start   = make(chan struct{})
	)
	for range racers {
		s := e.separateStore(t)
		wg.Go(func() {
			<-start
			r, err := s.Recover(ctxT(t), tenant, m.source)
			if err != nil {
				t.Errorf("recover: %v", err)
			}
			if r.Rebuilt {
				rebuilt.Add(1)
			}
		})
	}
	ender := e.separateStore(t)
	wg.Go(func() {
		<-start
		for i, h := range hs {
			if i%3 == 0 {
				m.end(t, ender, h.Interaction)
			}
		}
	})
	close(start)
	wg.Wait()
	if n := rebuilt.Load(); n != 1 {
		t.Errorf("%d processes rebuilt the tenant, want 1", n)
	}
	m.wantSlots(t, e.store)
	if needs(t, e.store) {
		t.Fatal("tenant still reported after the recovery")
	}
}
