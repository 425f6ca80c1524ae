package presence_test

import (
	"sync"
	"testing"
	"time"

	"switchboard/presence"
)

func autoCall(t testing.TB, s *presence.Store, agent string) presence.AutoCall {
	t.Helper()
	ac, err := s.AutoCall(ctxT(t), tenant, agent)
	if err != nil {
		t.Fatalf("auto call of %s: %v", agent, err)
	}
	return ac
}

func setAutoCall(t testing.TB, s *presence.Store, agent string, on bool, cause presence.AutoCallCause) (presence.AutoCall, bool) {
	t.Helper()
	ac, changed, err := s.SetAutoCall(ctxT(t), tenant, agent, on, cause)
	if err != nil {
		t.Fatalf("set auto call of %s: %v", agent, err)
	}
	return ac, changed
}

func TestAutoCallFollowsTheSession(t *testing.T) {
	e := newEnv(t, 0)
	s := e.store
	if ac := autoCall(t, s, "a1"); ac.Enabled || ac.Cause != "" {
		t.Fatalf("never logged in: %+v", ac)
	}
	_, _, err := s.SetAutoCall(ctxT(t), tenant, "a1", false, presence.AutoCallAgentSet)
	wantErr(t, err, presence.ErrNotLoggedIn)

	first := login(t, s, "a1", available).Presence
	ac := autoCall(t, s, "a1")
	if !ac.Enabled || ac.Cause != presence.AutoCallLogin || !ac.ChangedAt.Equal(first.LoginAt) || ac.Session != first.Session {
		t.Fatalf("after login: %+v (login at %v)", ac, first.LoginAt)
	}
	if _, changed := setAutoCall(t, s, "a1", true, presence.AutoCallAgentSet); changed {
		t.Fatal("switching on what is on changed something")
	}
	if ac := autoCall(t, s, "a1"); ac.Cause != presence.AutoCallLogin {
		t.Fatalf("a repeated setting took the cause: %+v", ac)
	}

	off, changed := setAutoCall(t, s, "a1", false, presence.AutoCallSupervisorSet)
	if !changed || off.Enabled || off.Cause != presence.AutoCallSupervisorSet || off.ChangedAt.Before(first.LoginAt) {
		t.Fatalf("switched off: %+v, changed %v", off, changed)
	}
	// It survives status changes and a resumed login: the same session.
	if _, err := s.SetStatus(ctxT(t), tenant, "a1", away); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetStatus(ctxT(t), tenant, "a1", available); err != nil {
		t.Fatal(err)
	}
	if r := login(t, s, "a1", busy); !r.Resumed {
		t.Fatal("login did not resume")
	}
	if ac := autoCall(t, s, "a1"); ac.Enabled || ac.Cause != presence.AutoCallSupervisorSet || !ac.ChangedAt.Equal(off.ChangedAt) {
		t.Fatalf("after status changes and a resume: %+v, want %+v", ac, off)
	}

	// Logged out it is off; a new session starts on again.
	if _, err := s.Logout(ctxT(t), tenant, "a1"); err != nil {
		t.Fatal(err)
	}
	if ac := autoCall(t, s, "a1"); ac.Enabled {
		t.Fatalf("logged out: %+v", ac)
	}
	_, _, err = s.SetAutoCall(ctxT(t), tenant, "a1", true, presence.AutoCallAgentSet)
	wantErr(t, err, presence.ErrNotLoggedIn)
	second := login(t, s, "a1", available).Presence
	if ac := autoCall(t, s, "a1"); !ac.Enabled || ac.Cause != presence.AutoCallLogin || ac.Session != second.Session {
		t.Fatalf("new session: %+v", ac)
	}

	if _, _, err := s.SetAutoCall(ctxT(t), tenant, "a1", true, presence.AutoCallLogin); err == nil {
		t.Fatal("a change caused by login was accepted")
	}
}

func TestAutoCallOfALapsedSession(t *testing.T) {
	e := newEnv(t, 300*time.Millisecond)
	s := e.store
	login(t, s, "a1", available)
	setAutoCall(t, s, "a1", false, presence.AutoCallAgentSet)
	eventually(t, 5*time.Second, "heartbeat lapse", func() bool { return get(t, s, "a1").Expired })
	if ac := autoCall(t, s, "a1"); ac.Enabled || ac.Cause != "" {
		t.Fatalf("lapsed: %+v", ac)
	}
	_, _, err := s.SetAutoCall(ctxT(t), tenant, "a1", true, presence.AutoCallAgentSet)
	wantErr(t, err, presence.ErrExpired)
}

// Concurrent switches by the agent and a supervisor, with status changes in
// between, from separate processes: exactly the switches that changed the mode
// report a change, they alternate, and the mode read at the end is the one the
// last change left.
func TestAutoCallConcurrentSwitches(t *testing.T) {
	e := newEnv(t, 0)
	login(t, e.store, "a1", available)
	const racers, rounds = 8, 25
	var (
		mu      sync.Mutex
		changes []presence.AutoCall
		wg      sync.WaitGroup
	)
	for r := range racers {
		s := e.separateStore(t)
		wg.Go(func() {
			for i := range rounds {
				cause := presence.AutoCallAgentSet
				if r%2 == 1 {
					cause = presence.AutoCallSupervisorSet
				}
				ac, changed, err := s.SetAutoCall(ctxT(t), tenant, "a1", (r+i)%2 == 0, cause)
				if err != nil {
					t.Errorf("racer %d: %v", r, err)
					return
				}
				if changed {
					mu.Lock()
					changes = append(changes, ac)
					mu.Unlock()
				}
				st := available
				if i%3 == 0 {
					st = away
				}
				if _, err := s.SetStatus(ctxT(t), tenant, "a1", st); err != nil {
					t.Errorf("racer %d: %v", r, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if len(changes) == 0 {
		t.Fatal("no switch changed anything")
	}
	// Every reported change flips the mode, starting from on: so there are as
	// many switches off as on, or one more off, and the count says the end.
	offs, ons := 0, 0
	for _, c := range changes {
		if c.Enabled {
			ons++
		} else {
			offs++
		}
	}
	if offs != ons && offs != ons+1 {
		t.Fatalf("%d switches off and %d on from on: they do not alternate", offs, ons)
	}
	last := autoCall(t, e.store, "a1")
	if want := offs == ons; last.Enabled != want {
		t.Fatalf("final mode %+v after %d offs and %d ons", last, offs, ons)
	}
	if !last.Cause.Valid() || last.Cause == presence.AutoCallLogin {
		t.Fatalf("final cause %q", last.Cause)
	}
}
