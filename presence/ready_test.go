package presence_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"switchboard/presence"
	"switchboard/routing"
)

// checkReady compares Ready with what Snapshot says of agents (every agent the
// test uses): exactly the logged-in Available-group agents, with the same
// occupancy, voice state and last assignment. It also runs Audit, which checks
// the index against presence atomically.
func checkReady(t *testing.T, s *presence.Store, agents []string) {
	t.Helper()
	ctx := ctxT(t)
	ready, err := s.Ready(ctx, tenant)
	if err != nil {
		t.Fatal(err)
	}
	states, err := s.Snapshot(ctx, tenant, agents)
	if err != nil {
		t.Fatal(err)
	}
	byAgent := map[string]presence.ReadyAgent{}
	for _, r := range ready {
		if _, dup := byAgent[r.Agent]; dup {
			t.Fatalf("%s is listed twice as ready", r.Agent)
		}
		byAgent[r.Agent] = r
	}
	var want []string
	for _, st := range states {
		r, listed := byAgent[st.Agent]
		if st.LoggedIn && st.Status.Group.ReceivesNew() {
			want = append(want, st.Agent)
			if !listed {
				t.Errorf("%s is ready (%+v) but not listed", st.Agent, st)
				continue
			}
			if !sameOcc(r.Load.Occupancy(), st.Occupancy) || r.Voice != st.Voice || !r.LastAssignedAt.Equal(st.LastAssignedAt) {
				t.Errorf("%s: ready %+v, snapshot occupancy %v voice %q last assigned %v", st.Agent, r, st.Occupancy, st.Voice, st.LastAssignedAt)
			}
			for i, ch := range routing.Channels() {
				if r.Load[i] != st.Occupancy[ch] {
					t.Errorf("%s: load %v, snapshot occupancy %v", st.Agent, r.Load, st.Occupancy)
				}
			}
			if (r.Load.Occupancy() == nil) != (r.Load == presence.Load{}) {
				t.Errorf("%s: occupancy of load %v is %v", st.Agent, r.Load, r.Load.Occupancy())
			}
			c := r.Candidate(routing.Candidate{Queues: []string{"q"}}, r.Load.Occupancy())
			if c.AgentID != st.Agent || c.Status.Group != routing.GroupAvailable || !sameOcc(c.Occupancy, st.Occupancy) {
				t.Errorf("%s: candidate %+v", st.Agent, c)
			}
		} else if listed {
			t.Errorf("%s is listed as ready: %+v; snapshot %+v", st.Agent, r, st)
		}
	}
	if len(ready) != len(want) {
		t.Errorf("ready lists %d agents, want %v", len(ready), want)
	}
	if _, err := s.Audit(ctx, tenant); err != nil {
		t.Errorf("audit: %v", err)
	}
}

// The ready index follows every change of presence and occupancy.
func TestReadyFollowsPresence(t *testing.T) {
	e := newEnv(t, 0)
	s, ctx := e.store, ctxT(t)
	agents := []string{"a1", "a2", "a3", "a4"}
	checkReady(t, s, agents)

	login(t, s, "a1", available)
	login(t, s, "a2", away)
	login(t, s, "a3", available)
	checkReady(t, s, agents)

	reserve(t, s, "a1", "c1", routing.LiveChat, 5, time.Minute)
	reserve(t, s, "a1", "c2", routing.LiveChat, 5, time.Minute)
	reserve(t, s, "a1", "m1", routing.LiveMessaging, 5, time.Minute)
	reserve(t, s, "a1", "short", routing.Email, 5, 30*time.Millisecond)
	checkReady(t, s, agents)
	confirm(t, s, "a1", "c1")
	confirm(t, s, "a1", "m1")
	checkReady(t, s, agents)
	time.Sleep(50 * time.Millisecond) // the email reservation lapses without any script
	checkReady(t, s, agents)
	if r := readyOf(t, s, "a1"); r.Load.Occupancy()[routing.Email] != 0 || r.Load.Occupancy()[routing.LiveChat] != 2 || r.LastAssignedAt.IsZero() {
		t.Fatalf("a1 after the lapse: %+v", r)
	}

	// Voice: a ringing or in-call state takes the voice slot; wrap-up does not.
	for _, v := range []routing.VoiceState{routing.VoiceRinging, routing.VoiceInCall, routing.VoiceWrapping, routing.VoiceIdle} {
		if _, err := s.SetVoiceState(ctx, tenant, "a3", v); err != nil {
			t.Fatal(err)
		}
		checkReady(t, s, agents)
		if r := readyOf(t, s, "a3"); r.Voice != v || (r.Load.Occupancy()[routing.Voice] == 1) != v.OccupiesVoice() {
			t.Fatalf("a3 in voice state %q: %+v", v, r)
		}
	}
	// Voice state of an agent who never logged in creates no entry.
	if _, err := s.SetVoiceState(ctx, tenant, "a4", routing.VoiceRinging); err != nil {
		t.Fatal(err)
	}
	checkReady(t, s, agents)

	// Status changes move agents in and out.
	if _, err := s.SetStatus(ctx, tenant, "a1", busy); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetStatus(ctx, tenant, "a2", available); err != nil {
		t.Fatal(err)
	}
	checkReady(t, s, agents)
	if _, err := s.SetStatus(ctx, tenant, "a1", routing.Status{Name: "Back office", Group: routing.GroupAvailable}); err != nil {
		t.Fatal(err)
	}
	checkReady(t, s, agents)

	// Release, heartbeat, resumed login with another status, logouts.
	release(t, s, "a1", "c1")
	release(t, s, "a1", "c2")
	checkReady(t, s, agents)
	if _, err := s.Heartbeat(ctx, tenant, "a3"); err != nil {
		t.Fatal(err)
	}
	checkReady(t, s, agents)
	if r, err := s.Login(ctx, tenant, "a3", presence.LoginInput{Status: away}); err != nil || !r.Resumed {
		t.Fatal(r, err)
	}
	checkReady(t, s, agents)
	if _, err := s.Logout(ctx, tenant, "a1"); !errors.Is(err, presence.ErrActiveInteractions) {
		t.Fatalf("logout with a held chat: %v", err)
	}
	checkReady(t, s, agents)
	if _, err := s.ForceLogout(ctx, tenant, "a1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Logout(ctx, tenant, "a2"); err != nil {
		t.Fatal(err)
	}
	checkReady(t, s, agents)
	// A forced-out agent keeps the held chat: logging in again lists it.
	login(t, s, "a1", available)
	checkReady(t, s, agents)
	if r := readyOf(t, s, "a1"); r.Load.Occupancy()[routing.LiveMessaging] != 1 {
		t.Fatalf("a1 after logging in again: %+v", r)
	}
}

// readyOf returns agent's entry of Ready, failing when it is not listed.
func readyOf(t *testing.T, s *presence.Store, agent string) presence.ReadyAgent {
	t.Helper()
	ready, err := s.Ready(ctxT(t), tenant)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(ready, func(r presence.ReadyAgent) bool { return r.Agent == agent })
	if i < 0 {
		t.Fatalf("%s is not ready: %+v", agent, ready)
	}
	return ready[i]
}

// A lapsed heartbeat takes the agent out of Ready at once, before anything
// sweeps it; closing the lapsed session or logging in again keeps the index
// in step.
func TestReadyHeartbeatLapse(t *testing.T) {
	e := newEnv(t, 150*time.Millisecond)
	s, ctx := e.store, ctxT(t)
	agents := []string{"a1", "a2"}
	login(t, s, "a1", available)
	login(t, s, "a2", available)
	reserve(t, s, "a2", "c1", routing.LiveChat, 5, time.Minute)
	confirm(t, s, "a2", "c1")
	checkReady(t, s, agents)
	time.Sleep(200 * time.Millisecond)
	if ready, err := s.Ready(ctx, tenant); err != nil || len(ready) != 0 {
		t.Fatalf("ready after the heartbeats lapsed: %+v, %v", ready, err)
	}
	checkReady(t, s, agents)
	if _, err := s.Heartbeat(ctx, tenant, "a1"); !errors.Is(err, presence.ErrExpired) {
		t.Fatalf("heartbeat after lapse: %v", err)
	}
	lapses, err := s.Expired(ctx, tenant, 10)
	if err != nil || len(lapses) != 2 {
		t.Fatalf("expired = %+v, %v", lapses, err)
	}
	for _, l := range lapses {
		if l.Agent == "a1" {
			if ok, err := s.LogoutExpired(ctx, tenant, l.Agent, l.Session); err != nil || !ok {
				t.Fatal(ok, err)
			}
		}
	}
	checkReady(t, s, agents)
	if r := login(t, s, "a2", available); r.Lapsed == nil {
		t.Fatalf("login after lapse: %+v", r)
	}
	checkReady(t, s, agents)
	if r := readyOf(t, s, "a2"); r.Load.Occupancy()[routing.LiveChat] != 1 {
		t.Fatalf("a2 logged in again: %+v", r)
	}
}

// Rebuild recomputes the ready index of every agent, repairing entries that
// are missing, wrong or left over; Audit reports such drift until then.
func TestRebuildRepairsReadyIndex(t *testing.T) {
	e := newEnv(t, 0)
	s, ctx := e.store, ctxT(t)
	agents := []string{"a1", "a2", "a3"}
	for _, a := range agents {
		login(t, s, a, available)
	}
	reserve(t, s, "a1", "c1", routing.LiveChat, 5, time.Minute)
	confirm(t, s, "a1", "c1")
	checkReady(t, s, agents)

	key := e.prefix + ":{" + tenant + "}:ready"
	corrupt := []func() error{
		func() error { return e.rdb.HDel(ctx, key, "a1").Err() },                              // missing
		func() error { return e.rdb.HSet(ctx, key, "a2", "a2|1|0||live_chat:3").Err() },       // wrong
		func() error { return e.rdb.HSet(ctx, key, "ghost", "ghost|9999999999999|0|").Err() }, // left over
		func() error { return e.rdb.HSet(ctx, key, "a3", "nonsense").Err() },                  // malformed
	}
	for i, c := range corrupt {
		if err := c(); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Audit(ctx, tenant); !errors.Is(err, presence.ErrInconsistent) {
			t.Fatalf("corruption %d: audit = %v, want ErrInconsistent", i, err)
		}
	}
	res, err := s.Rebuild(ctx, tenant, []presence.Holding{{Agent: "a1", Interaction: "c1", Channel: routing.LiveChat}}, time.Time{})
	if err != nil || res.Restored != 0 || res.Pruned != 0 {
		t.Fatalf("rebuild = %+v, %v", res, err)
	}
	checkReady(t, s, agents)
	if r := readyOf(t, s, "a1"); r.Load.Occupancy()[routing.LiveChat] != 1 {
		t.Fatalf("a1 after rebuild: %+v", r)
	}

	// After a flush the index is gone with presence; held slots come back,
	// agents come back as they log in.
	e.deleteKeys(t)
	if _, err := s.Rebuild(ctx, tenant, []presence.Holding{{Agent: "a1", Interaction: "c1", Channel: routing.LiveChat}}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	checkReady(t, s, agents)
	login(t, s, "a1", available)
	checkReady(t, s, agents)
	if r := readyOf(t, s, "a1"); r.Load.Occupancy()[routing.LiveChat] != 1 {
		t.Fatalf("a1 logged in after the flush: %+v", r)
	}
}

// Many processes change presence and occupancy at random — logins, logouts,
// forced logouts, heartbeats with sessions lapsing, status and voice changes,
// reservations with short and long TTLs, confirms and releases — while an
// auditor checks atomically, over and over, that the ready index matches
// presence and the live slots. At the end Ready and Snapshot agree.
func TestConcurrentReadyIndexNeverDrifts(t *testing.T) {
	e := newEnv(t, 400*time.Millisecond)
	const (
		nAgents, nInteractions = 8, 40
		workers, opsPerWorker  = 16, 300
	)
	channels := []routing.Channel{routing.Voice, routing.LiveChat, routing.LiveMessaging, routing.Email}
	agents := make([]string, nAgents)
	for i := range agents {
		agents[i] = fmt.Sprintf("agent-%d", i)
		login(t, e.store, agents[i], available)
	}
	chOf := func(ix int) routing.Channel { return channels[ix%len(channels)] }
	capacity := func(_ string, ch routing.Channel) int {
		if ch == routing.Voice {
			return 1
		}
		return 3
	}
	aud := startAuditor(t, e.store, capacity)

	var ops [12]atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		s := e.separateStore(t)
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 7))
			ctx := context.Background()
			for range opsPerWorker {
				agent := agents[r.IntN(nAgents)]
				n := r.IntN(nInteractions)
				ix := fmt.Sprintf("ix-%02d", n)
				op := r.IntN(len(ops))
				var err error
				switch op {
				case 0, 1, 2:
					ttl := 5 * time.Second
					if r.IntN(2) == 0 {
						ttl = time.Duration(5+r.IntN(40)) * time.Millisecond
					}
					_, err = s.Reserve(ctx, tenant, agent, ix, chOf(n), capacity(agent, chOf(n)), ttl)
				case 3, 4:
					_, err = s.Confirm(ctx, tenant, agent, ix)
				case 5:
					_, err = s.Release(ctx, tenant, agent, ix)
				case 6:
					st := []routing.Status{available, away, busy}[r.IntN(3)]
					_, err = s.SetStatus(ctx, tenant, agent, st)
				case 7:
					v := []routing.VoiceState{routing.VoiceIdle, routing.VoiceRinging, routing.VoiceInCall, routing.VoiceWrapping}[r.IntN(4)]
					_, err = s.SetVoiceState(ctx, tenant, agent, v)
				case 8:
					_, err = s.Heartbeat(ctx, tenant, agent)
				case 9:
					st := available
					if r.IntN(4) == 0 {
						st = away
					}
					_, err = s.Login(ctx, tenant, agent, presence.LoginInput{Status: st})
				case 10:
					if r.IntN(2) == 0 {
						_, err = s.Logout(ctx, tenant, agent)
					} else {
						_, err = s.ForceLogout(ctx, tenant, agent)
					}
				case 11:
					var lapses []presence.Lapse
					lapses, err = s.Expired(ctx, tenant, 3)
					for _, l := range lapses {
						if err == nil {
							_, err = s.LogoutExpired(ctx, tenant, l.Agent, l.Session)
						}
					}
				}
				if errors.Is(err, presence.ErrNotLoggedIn) || errors.Is(err, presence.ErrExpired) || errors.Is(err, presence.ErrActiveInteractions) {
					err = nil
				}
				if err != nil {
					t.Errorf("worker %d: %v", w, err)
					return
				}
				ops[op].Add(1)
				if r.IntN(50) == 0 {
					time.Sleep(time.Duration(r.IntN(20)) * time.Millisecond) // lets sessions and reservations lapse
				}
			}
		})
	}
	wg.Wait()
	aud.finish()
	for i := range ops {
		if ops[i].Load() == 0 {
			t.Fatalf("operation %d never ran", i)
		}
	}
	// Quiescent once the short reservations have lapsed; keep the sessions
	// that are still live alive while comparing.
	time.Sleep(60 * time.Millisecond)
	checkReady(t, e.store, agents)
}
