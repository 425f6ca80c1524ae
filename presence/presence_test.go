package presence_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"switchboard/presence"
	"switchboard/routing"
)

func TestLoginStatusLogout(t *testing.T) {
	e := newEnv(t, 0)
	s, ctx := e.store, ctxT(t)

	r, err := s.Login(ctx, tenant, "a1", presence.LoginInput{Campaign: "winter-sale"})
	if err != nil {
		t.Fatal(err)
	}
	p := r.Presence
	if !p.LoggedIn || p.Expired || r.Resumed || r.Lapsed != nil {
		t.Fatalf("after login: %+v", r)
	}
	if p.Status.Name != routing.StatusAvailable || p.Status.Group != routing.GroupAvailable {
		t.Fatalf("default login status = %+v, want Available", p.Status)
	}
	if p.Campaign != "winter-sale" || p.Session == 0 || p.LoginAt.IsZero() || !p.ChangedAt.Equal(p.LoginAt) {
		t.Fatalf("after login: %+v", p)
	}
	if got := p.ExpiresAt.Sub(p.HeartbeatAt); got != presence.DefaultHeartbeatTTL {
		t.Fatalf("expires %v after heartbeat, want %v", got, presence.DefaultHeartbeatTTL)
	}
	if got := get(t, s, "a1"); got.Session != p.Session || got.Status != p.Status || !got.LoggedIn {
		t.Fatalf("Get = %+v, want %+v", got, p)
	}

	time.Sleep(5 * time.Millisecond) // so a status change gets a later millisecond
	p2, err := s.SetStatus(ctx, tenant, "a1", away)
	if err != nil {
		t.Fatal(err)
	}
	if p2.Status != away || !p2.ChangedAt.After(p.ChangedAt) || p2.Session != p.Session {
		t.Fatalf("after SetStatus: %+v", p2)
	}
	time.Sleep(5 * time.Millisecond)
	p3, err := s.SetStatus(ctx, tenant, "a1", away)
	if err != nil {
		t.Fatal(err)
	}
	if !p3.ChangedAt.Equal(p2.ChangedAt) {
		t.Fatalf("repeating a status moved ChangedAt from %v to %v", p2.ChangedAt, p3.ChangedAt)
	}

	pv, err := s.SetVoiceState(ctx, tenant, "a1", routing.VoiceWrapping)
	if err != nil || pv.Voice != routing.VoiceWrapping {
		t.Fatalf("SetVoiceState: %+v, %v", pv, err)
	}

	time.Sleep(5 * time.Millisecond)
	hb, err := s.Heartbeat(ctx, tenant, "a1")
	if err != nil {
		t.Fatal(err)
	}
	if !hb.HeartbeatAt.After(p.HeartbeatAt) || !hb.ExpiresAt.After(p.ExpiresAt) {
		t.Fatalf("heartbeat did not extend: before %+v after %+v", p, hb)
	}

	out, err := s.Logout(ctx, tenant, "a1")
	if err != nil {
		t.Fatal(err)
	}
	if out.LoggedIn || out.Status.Group != routing.GroupUnavailable || out.Status.Name != routing.StatusOffline {
		t.Fatalf("after logout: %+v", out)
	}
	if _, err := s.Logout(ctx, tenant, "a1"); err != nil {
		t.Fatalf("second logout: %v", err)
	}
	_, err = s.Heartbeat(ctx, tenant, "a1")
	wantErr(t, err, presence.ErrNotLoggedIn)
	_, err = s.SetStatus(ctx, tenant, "a1", available)
	wantErr(t, err, presence.ErrNotLoggedIn)
	if reserve(t, s, "a1", "i1", routing.LiveChat, 5, time.Minute) {
		t.Fatal("reserved a logged-out agent")
	}

	// An agent nobody has seen reads as logged out.
	if g := get(t, s, "ghost"); g.LoggedIn || g.Session != 0 || g.Status.Group != routing.GroupUnavailable {
		t.Fatalf("unknown agent: %+v", g)
	}
}

func TestLoginResumesLiveSessionAndStartsNewAfterLogout(t *testing.T) {
	e := newEnv(t, 0)
	s, ctx := e.store, ctxT(t)
	first := login(t, s, "a1", available)
	again, err := s.Login(ctx, tenant, "a1", presence.LoginInput{Status: busy, Campaign: "c2"})
	if err != nil {
		t.Fatal(err)
	}
	if !again.Resumed || again.Presence.Session != first.Presence.Session ||
		again.Presence.Status != busy || again.Presence.Campaign != "c2" ||
		!again.Presence.LoginAt.Equal(first.Presence.LoginAt) {
		t.Fatalf("relogin of a live session: %+v (first %+v)", again, first)
	}
	if _, err := s.Logout(ctx, tenant, "a1"); err != nil {
		t.Fatal(err)
	}
	next := login(t, s, "a1", available)
	if next.Resumed || next.Lapsed != nil || next.Presence.Session <= first.Presence.Session {
		t.Fatalf("login after logout: %+v (first session %d)", next, first.Presence.Session)
	}
}

func TestHeartbeatExpiryMakesAgentUnavailable(t *testing.T) {
	// The TTL leaves room for a loaded machine: a beat every fifth of it may run late
	// by hundreds of milliseconds without the session lapsing.
	const ttl = 1500 * time.Millisecond
	e := newEnv(t, ttl)
	s, ctx := e.store, ctxT(t)
	r := login(t, s, "a1", available)
	login(t, s, "a2", available)

	// Beating faster than the TTL keeps the agent present well past one TTL.
	for range 6 {
		time.Sleep(ttl / 5)
		if _, err := s.Heartbeat(ctx, tenant, "a1"); err != nil {
			t.Fatalf("heartbeat within TTL: %v", err)
		}
	}
	if p := get(t, s, "a1"); !p.LoggedIn {
		t.Fatalf("agent who kept beating: %+v", p)
	}

	// a2 never beat: it lapses first, and only it is listed.
	eventually(t, 4*ttl, "a2 reads as expired", func() bool { return get(t, s, "a2").Expired })
	lapses, err := s.Expired(ctx, tenant, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(lapses) != 1 || lapses[0].Agent != "a2" {
		t.Fatalf("expired = %+v, want only a2", lapses)
	}

	// a1 stops beating: it reads Unavailable with no sweeper involved.
	eventually(t, 4*ttl, "a1 reads as expired", func() bool { return get(t, s, "a1").Expired })
	p := get(t, s, "a1")
	if p.LoggedIn || p.Status.Group != routing.GroupUnavailable || p.Status.Group.ReceivesNew() {
		t.Fatalf("expired agent: %+v", p)
	}
	st, err := s.Snapshot(ctx, tenant, []string{"a1"})
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := routing.Eligible(st[0].Candidate(routing.Candidate{Capacity: routing.DefaultCapacity()}),
		routing.Request{Channel: routing.LiveChat, QueueID: routing.DefaultQueue}); ok {
		t.Fatal("routing finds an expired agent eligible")
	}
	if reserve(t, s, "a1", "i1", routing.LiveChat, 5, time.Minute) {
		t.Fatal("reserved an agent whose heartbeat expired")
	}
	_, err = s.Heartbeat(ctx, tenant, "a1")
	wantErr(t, err, presence.ErrExpired)
	_, err = s.SetStatus(ctx, tenant, "a1", available)
	wantErr(t, err, presence.ErrExpired)

	// The sweeper's view: both lapsed, each closed exactly once.
	lapses, err = s.Expired(ctx, tenant, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(lapses) != 2 {
		t.Fatalf("expired = %+v, want a1 and a2", lapses)
	}
	for _, l := range lapses {
		if l.Agent == "a1" && (l.Session != r.Presence.Session || !l.ExpiredAt.Equal(p.ExpiresAt)) {
			t.Fatalf("lapse of a1 = %+v, want session %d expired at %v", l, r.Presence.Session, p.ExpiresAt)
		}
		ok, err := s.LogoutExpired(ctx, tenant, l.Agent, l.Session)
		if err != nil || !ok {
			t.Fatalf("LogoutExpired(%+v) = %v, %v", l, ok, err)
		}
		ok, err = s.LogoutExpired(ctx, tenant, l.Agent, l.Session)
		if err != nil || ok {
			t.Fatalf("second LogoutExpired(%+v) = %v, %v", l, ok, err)
		}
	}
	if l, _ := s.Expired(ctx, tenant, 10); len(l) != 0 {
		t.Fatalf("expired after logout = %+v", l)
	}
	out := get(t, s, "a1")
	if out.Expired || out.LoggedIn || !out.ChangedAt.Equal(p.ExpiresAt) {
		t.Fatalf("after LogoutExpired: %+v (logout should be dated at the deadline %v)", out, p.ExpiresAt)
	}
	if _, err := s.Heartbeat(ctx, tenant, "a1"); !errors.Is(err, presence.ErrNotLoggedIn) {
		t.Fatalf("heartbeat after logout: %v", err)
	}
}

func TestLoginAfterLapseReportsTheLapsedSession(t *testing.T) {
	e := newEnv(t, 200*time.Millisecond)
	s, ctx := e.store, ctxT(t)
	first := login(t, s, "a1", available)
	eventually(t, 2*time.Second, "a1 expires", func() bool { return get(t, s, "a1").Expired })
	lapses, err := s.Expired(ctx, tenant, 10)
	if err != nil || len(lapses) != 1 {
		t.Fatalf("expired = %+v, %v", lapses, err)
	}

	next := login(t, s, "a1", available)
	if next.Lapsed == nil || next.Lapsed.Session != first.Presence.Session ||
		!next.Lapsed.ExpiredAt.Equal(first.Presence.ExpiresAt) || next.Presence.Session <= first.Presence.Session {
		t.Fatalf("login after lapse: %+v, first %+v", next, first.Presence)
	}
	// A sweeper holding the old listing must not end the new session.
	ok, err := s.LogoutExpired(ctx, tenant, "a1", lapses[0].Session)
	if err != nil || ok {
		t.Fatalf("LogoutExpired of the replaced session = %v, %v", ok, err)
	}
	if p := get(t, s, "a1"); !p.LoggedIn || p.Session != next.Presence.Session {
		t.Fatalf("new session after stale LogoutExpired: %+v", p)
	}
	// Nor may it log out a live session with the current ID.
	ok, err = s.LogoutExpired(ctx, tenant, "a1", next.Presence.Session)
	if err != nil || ok {
		t.Fatalf("LogoutExpired of a live session = %v, %v", ok, err)
	}
	if l, _ := s.Expired(ctx, tenant, 10); len(l) != 0 {
		t.Fatalf("expired after relogin = %+v", l)
	}
}

func TestLogoutRefusedWhileActiveForceLogoutKeepsSlots(t *testing.T) {
	e := newEnv(t, 0)
	s, ctx := e.store, ctxT(t)
	login(t, s, "a1", available)
	if !reserve(t, s, "a1", "i1", routing.LiveChat, 5, time.Minute) {
		t.Fatal("reserve failed")
	}
	_, err := s.Logout(ctx, tenant, "a1")
	wantErr(t, err, presence.ErrActiveInteractions)
	if !get(t, s, "a1").LoggedIn {
		t.Fatal("refused logout logged the agent out")
	}
	if !confirm(t, s, "a1", "i1") {
		t.Fatal("confirm failed")
	}
	_, err = s.Logout(ctx, tenant, "a1")
	wantErr(t, err, presence.ErrActiveInteractions)

	p, err := s.ForceLogout(ctx, tenant, "a1")
	if err != nil || p.LoggedIn {
		t.Fatalf("ForceLogout = %+v, %v", p, err)
	}
	if o := occupancy(t, s, "a1"); o[routing.LiveChat] != 1 {
		t.Fatalf("occupancy after force logout = %v, want the held chat kept", o)
	}
	release(t, s, "a1", "i1")
	login(t, s, "a1", available)
	if _, err := s.Logout(ctx, tenant, "a1"); err != nil {
		t.Fatalf("logout with nothing held: %v", err)
	}
}

func TestTenantsAreIsolated(t *testing.T) {
	e := newEnv(t, 0)
	s, ctx := e.store, ctxT(t)
	login(t, s, "a1", available)
	if p, err := s.Get(ctx, "t2", "a1"); err != nil || p.LoggedIn {
		t.Fatalf("a1 in another tenant = %+v, %v", p, err)
	}
	if ok, err := s.Reserve(ctx, "t2", "a1", "i1", routing.LiveChat, 5, time.Minute); err != nil || ok {
		t.Fatalf("reserve in another tenant = %v, %v", ok, err)
	}
	if _, err := s.Login(ctx, "t2", "a1", presence.LoginInput{}); err != nil {
		t.Fatal(err)
	}
	if !reserve(t, s, "a1", "i1", routing.LiveChat, 5, time.Minute) {
		t.Fatal("reserve in t1")
	}
	if ok, err := s.Reserve(ctx, "t2", "a1", "i1", routing.LiveChat, 5, time.Minute); err != nil || !ok {
		t.Fatalf("same interaction ID in t2 = %v, %v", ok, err)
	}
	keys, err := e.rdb.Keys(ctx, e.prefix+":*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, e.prefix+":{t1}:") && !strings.HasPrefix(k, e.prefix+":{t2}:") {
			t.Errorf("key %q is outside the tenant hash tags", k)
		}
	}
}

func TestInvalidInput(t *testing.T) {
	e := newEnv(t, 0)
	s, ctx := e.store, ctxT(t)
	login(t, s, "a1", available)
	cases := []struct {
		name string
		call func() error
	}{
		{"empty tenant", func() error { _, err := s.Login(ctx, "", "a1", presence.LoginInput{}); return err }},
		{"brace in tenant", func() error { _, err := s.Get(ctx, "t}1", "a1"); return err }},
		{"empty agent", func() error { _, err := s.Heartbeat(ctx, tenant, ""); return err }},
		{"pipe in agent", func() error { _, err := s.Login(ctx, tenant, "a|1", presence.LoginInput{}); return err }},
		{"space in agent", func() error { _, err := s.Snapshot(ctx, tenant, []string{"a 1"}); return err }},
		{"long agent", func() error { _, err := s.Get(ctx, tenant, strings.Repeat("a", 300)); return err }},
		{"bad status group", func() error {
			_, err := s.SetStatus(ctx, tenant, "a1", routing.Status{Name: "X", Group: "sleepy"})
			return err
		}},
		{"empty status name", func() error {
			_, err := s.SetStatus(ctx, tenant, "a1", routing.Status{Group: routing.GroupAway})
			return err
		}},
		{"bad voice state", func() error { _, err := s.SetVoiceState(ctx, tenant, "a1", "humming"); return err }},
		{"bad channel", func() error {
			_, err := s.Reserve(ctx, tenant, "a1", "i1", "fax", 1, time.Minute)
			return err
		}},
		{"negative capacity", func() error {
			_, err := s.Reserve(ctx, tenant, "a1", "i1", routing.Email, -1, time.Minute)
			return err
		}},
		{"zero ttl", func() error {
			_, err := s.Reserve(ctx, tenant, "a1", "i1", routing.Email, 1, 0)
			return err
		}},
		{"empty interaction", func() error { _, err := s.Confirm(ctx, tenant, "a1", ""); return err }},
		{"pipe in interaction", func() error { _, err := s.Release(ctx, tenant, "a1", "i|1"); return err }},
		{"expired limit", func() error { _, err := s.Expired(ctx, tenant, 0); return err }},
		{"rebuild duplicate", func() error {
			_, err := s.Rebuild(ctx, tenant, []presence.Holding{
				{Agent: "a1", Interaction: "i1", Channel: routing.Email},
				{Agent: "a2", Interaction: "i1", Channel: routing.Email},
			}, time.Time{})
			return err
		}},
		{"rebuild channel", func() error {
			_, err := s.Rebuild(ctx, tenant, []presence.Holding{{Agent: "a1", Interaction: "i1", Channel: "fax"}}, time.Time{})
			return err
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { wantErr(t, c.call(), presence.ErrInvalid) })
	}
	if _, err := presence.New(e.rdb, presence.Options{Prefix: "a{b}"}); !errors.Is(err, presence.ErrInvalid) {
		t.Errorf("prefix with braces: %v", err)
	}
	if _, err := presence.New(nil, presence.Options{}); !errors.Is(err, presence.ErrInvalid) {
		t.Errorf("nil client: %v", err)
	}
	// Nothing above may have written a slot.
	if sl, err := s.Audit(ctx, tenant); err != nil || len(sl) != 0 {
		t.Fatalf("audit after invalid calls = %v, %v", sl, err)
	}
}

func TestRedisDown(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	defer c.Close()
	s, err := presence.New(c, presence.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Reserve(ctxT(t), tenant, "a1", "i1", routing.Email, 1, time.Second); err == nil {
		t.Fatal("reserve against no Redis succeeded")
	}
	if _, err := s.Snapshot(ctxT(t), tenant, []string{"a1"}); err == nil {
		t.Fatal("snapshot against no Redis succeeded")
	}
}

func TestOnlineListsLiveSessions(t *testing.T) {
	const ttl = 1500 * time.Millisecond
	e := newEnv(t, ttl)
	s, ctx := e.store, ctxT(t)
	if got, err := s.Online(ctx, tenant); err != nil || len(got) != 0 {
		t.Fatalf("nobody logged in: %v, %v", got, err)
	}
	login(t, s, "a2", available)
	login(t, s, "a1", away)
	login(t, s, "a3", available)
	if _, err := s.Logout(ctx, tenant, "a3"); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Online(ctx, tenant); err != nil || strings.Join(got, ",") != "a1,a2" {
		t.Fatalf("online %v, %v; want a1 and a2 (any status, sorted)", got, err)
	}
	// Only a1 keeps beating; a2 lapses without anyone sweeping it.
	eventually(t, 4*ttl, "a2 drops out", func() bool {
		if _, err := s.Heartbeat(ctx, tenant, "a1"); err != nil {
			t.Fatal(err)
		}
		got, err := s.Online(ctx, tenant)
		return err == nil && strings.Join(got, ",") == "a1"
	})
	if _, err := s.Online(ctx, ""); !errors.Is(err, presence.ErrInvalid) {
		t.Errorf("empty tenant: %v", err)
	}
}
