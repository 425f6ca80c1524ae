package activities_test

import (
	"errors"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"switchboard/activities"
	"switchboard/pgstore"
	"switchboard/presence"
	"switchboard/routing"
	"switchboard/timesheet"
)

var (
	availableSheet = timesheet.Status{ID: "available", Name: "Available", Group: routing.GroupAvailable}
	offlineSheet   = timesheet.Status{ID: "offline", Name: "Offline", Group: routing.GroupUnavailable}
)

func TestRecordAgentSessionEvent(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	a := newActivities(t, 0)
	tenant, agent := newAgent(t)
	login := time.Now().Truncate(time.Millisecond)
	sheet := timesheet.Start(login, availableSheet)
	ev := pgstore.SessionEvent{TenantID: tenant, AgentID: agent, Session: login.UnixMilli(), Seq: 1, Kind: pgstore.SessionLogin,
		At: login, LoginAt: login, WorkflowID: "agent/" + tenant + "/" + agent, Status: availableSheet, Totals: sheet.Totals}
	// An activity retried after its reply was lost writes the same event again.
	for range 3 {
		if err := a.RecordAgentSessionEvent(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	sheet.Advance(login.Add(time.Minute))
	out := ev
	out.Seq, out.Kind, out.At, out.Status, out.LogoutReason, out.Totals = 2, pgstore.SessionLogout, login.Add(time.Minute), offlineSheet, pgstore.LogoutByAgent, sheet.Totals
	for range 2 {
		if err := a.RecordAgentSessionEvent(ctx, out); err != nil {
			t.Fatal(err)
		}
	}
	evs, err := store.AgentSessionEvents(ctx, tenant, agent, ev.Session)
	if err != nil || len(evs) != 2 {
		t.Fatalf("%d events, %v; want 2", len(evs), err)
	}
	s, err := store.GetAgentSession(ctx, tenant, agent, ev.Session)
	if err != nil || s.Totals.LoggedInMs != 60_000 || s.LogoutReason != pgstore.LogoutByAgent {
		t.Errorf("session %+v, %v", s, err)
	}

	// Errors that no retry can fix stop the retries.
	gone := ev
	gone.AgentID = "00000000-0000-4000-8000-000000000000"
	bad := ev
	bad.Kind = "nap"
	badGroup := ev
	badGroup.Seq, badGroup.Kind = 3, pgstore.SessionStatus
	badGroup.Status.Group = "sleepy"
	for name, c := range map[string]struct {
		ev   pgstore.SessionEvent
		kind string
	}{
		"agent gone": {gone, activities.ErrTypeAgentGone},
		"bad kind":   {bad, activities.ErrTypeInvalidSessionEvent},
		"bad group":  {badGroup, activities.ErrTypeInvalidSessionEvent},
	} {
		err := a.RecordAgentSessionEvent(ctx, c.ev)
		var appErr *temporal.ApplicationError
		if !errors.As(err, &appErr) || !appErr.NonRetryable() || appErr.Type() != c.kind {
			t.Errorf("%s: %v, want a non-retryable %s", name, err, c.kind)
		}
	}
}

func TestCheckAgentPresence(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	const ttl = 300 * time.Millisecond
	a := newActivities(t, ttl)
	tenant, agent := newAgent(t)
	check := func(session int64, st timesheet.Status) activities.PresenceVerdict {
		t.Helper()
		v, err := a.CheckAgentPresence(ctx, activities.PresenceCheck{TenantID: tenant, AgentID: agent, Session: session, Status: st})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}

	// Never logged in, as after a Redis flush: the session is lost.
	if v := check(12345, availableSheet); !v.Ended || v.Reason != pgstore.LogoutPresenceLost || v.EndedAt.IsZero() {
		t.Errorf("unknown session: %+v", v)
	}

	in, err := a.Presence.Login(ctx, tenant, agent, presence.LoginInput{})
	if err != nil {
		t.Fatal(err)
	}
	session := in.Presence.Session
	if v := check(session, availableSheet); v.Ended || v.Status != nil {
		t.Errorf("live session: %+v", v)
	}

	// A status change whose signal never arrived comes back with its catalogue entry.
	lunch, err := store.FindStatus(ctx, tenant, "lunch")
	if err != nil {
		t.Fatal(err)
	}
	changed, err := a.Presence.SetStatus(ctx, tenant, agent, lunch.Status())
	if err != nil {
		t.Fatal(err)
	}
	if v := check(session, availableSheet); v.Ended || v.Status == nil || *v.Status != lunch.Sheet() || !v.StatusAt.Equal(changed.ChangedAt) {
		t.Errorf("missed status change: %+v", v)
	}

	// The heartbeat lapses: the session is logged out in presence, ended when it lapsed.
	deadline := changed.ExpiresAt
	time.Sleep(time.Until(deadline) + 50*time.Millisecond)
	v := check(session, lunch.Sheet())
	if !v.Ended || v.Reason != pgstore.LogoutHeartbeatLapsed || !v.EndedAt.Equal(deadline) {
		t.Errorf("lapsed session: %+v (deadline %v)", v, deadline)
	}
	if p, _ := a.Presence.Get(ctx, tenant, agent); p.LoggedIn || p.Expired || p.Status.Name != routing.StatusOffline {
		t.Errorf("presence after the lapse: %+v", p)
	}
	// Checked again (a retried activity): still over, at the same instant.
	if v := check(session, lunch.Sheet()); !v.Ended || !v.EndedAt.Equal(deadline) {
		t.Errorf("second check of the lapsed session: %+v", v)
	}

	// A newer login replaces the session.
	next, err := a.Presence.Login(ctx, tenant, agent, presence.LoginInput{})
	if err != nil {
		t.Fatal(err)
	}
	if v := check(session, lunch.Sheet()); !v.Ended || v.Reason != pgstore.LogoutReplaced || !v.EndedAt.Equal(next.Presence.LoginAt) {
		t.Errorf("replaced session: %+v", v)
	}
}
