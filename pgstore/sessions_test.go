package pgstore_test

import (
	"sync"
	"testing"
	"time"

	"switchboard/pgstore"
	"switchboard/routing"
	"switchboard/timesheet"
)

func TestFindStatus(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	tid := newTenant(t).Tenant.ID
	cat, err := store.StatusCatalog(ctx, tid)
	if err != nil {
		t.Fatal(err)
	}
	lunch := cat[4]
	for ref, want := range map[string]string{"available": "available", "BUSY": "busy", "Offline": "offline",
		"lunch": lunch.ID, lunch.ID: lunch.ID, " Training ": cat[5].ID} {
		st, err := store.FindStatus(ctx, tid, ref)
		if err != nil || st.ID != want {
			t.Errorf("FindStatus(%q) = %+v, %v; want ID %s", ref, st, err, want)
		}
	}
	if st, _ := store.FindStatus(ctx, tid, "lunch"); !st.Sheet().BreakReason || st.Sheet().Group != routing.GroupAway {
		t.Errorf("Lunch as a sheet status: %+v", st.Sheet())
	}
	for _, ref := range []string{"", "Nap", "00000000-0000-4000-8000-000000000000"} {
		_, err := store.FindStatus(ctx, tid, ref)
		wantErr(t, err, pgstore.ErrNotFound)
	}
	// Another tenant's custom status is not in this catalogue.
	other := newTenant(t).Tenant.ID
	_, err = store.FindStatus(ctx, other, lunch.ID)
	wantErr(t, err, pgstore.ErrNotFound)
}

func TestRecordSessionEventIsIdempotent(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	tid := newTenant(t).Tenant.ID
	agent := newUser(t, tid, pgstore.RoleAgent)
	sup := newUser(t, tid, pgstore.RoleSupervisor)
	login := time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC)
	session := login.UnixMilli()
	available := timesheet.Status{ID: "available", Name: "Available", Group: routing.GroupAvailable}
	lunch := timesheet.Status{ID: "6f1c2c3e-0000-4000-8000-000000000001", Name: "Lunch", Group: routing.GroupAway, BreakReason: true}
	offline := timesheet.Status{ID: "offline", Name: "Offline", Group: routing.GroupUnavailable}

	sheet := timesheet.Start(login, available)
	base := pgstore.SessionEvent{TenantID: tid, AgentID: agent.ID, Session: session, WorkflowID: "agent/" + tid + "/" + agent.ID,
		LoginAt: login, Campaign: "winter"}
	ev := func(seq int64, kind pgstore.SessionEventKind, at time.Time, st timesheet.Status) pgstore.SessionEvent {
		e := base
		e.Seq, e.Kind, e.At, e.Status, e.ActorID = seq, kind, at, st, agent.ID
		return e
	}
	events := []pgstore.SessionEvent{ev(1, pgstore.SessionLogin, login, available)}
	sheet.SetStatus(login.Add(10*time.Minute), lunch)
	e := ev(2, pgstore.SessionStatus, login.Add(10*time.Minute), lunch)
	e.Totals = sheet.Totals.Clone()
	events = append(events, e)
	sheet.Advance(login.Add(40 * time.Minute))
	e = ev(3, pgstore.SessionLogout, login.Add(40*time.Minute), offline)
	e.LogoutReason, e.ActorID, e.Totals = pgstore.LogoutForced, sup.ID, sheet.Totals.Clone()
	events = append(events, e)

	// Each event written by several retries at once, then all of them again.
	for _, e := range events {
		var wg sync.WaitGroup
		inserted := make([]bool, 4)
		for i := range inserted {
			wg.Go(func() {
				var err error
				if inserted[i], err = store.RecordSessionEvent(ctx, e); err != nil {
					t.Errorf("event %d: %v", e.Seq, err)
				}
			})
		}
		wg.Wait()
		n := 0
		for _, ok := range inserted {
			if ok {
				n++
			}
		}
		if n != 1 {
			t.Errorf("event %d: %d of 4 concurrent writes inserted, want 1", e.Seq, n)
		}
	}
	for _, e := range events {
		if ok, err := store.RecordSessionEvent(ctx, e); err != nil || ok {
			t.Errorf("retrying event %d: inserted=%v, %v", e.Seq, ok, err)
		}
	}

	got, err := store.AgentSessionEvents(ctx, tid, agent.ID, session)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].Kind != pgstore.SessionLogin || got[1].Status != lunch || got[2].LogoutReason != pgstore.LogoutForced ||
		got[2].ActorID != sup.ID || !got[1].At.Equal(login.Add(10*time.Minute)) || got[0].Campaign != "winter" {
		t.Fatalf("history %+v", got)
	}
	s, err := store.GetAgentSession(ctx, tid, agent.ID, session)
	if err != nil {
		t.Fatal(err)
	}
	if s.LogoutAt == nil || !s.LogoutAt.Equal(login.Add(40*time.Minute)) || s.LogoutReason != pgstore.LogoutForced || s.LastSeq != 3 ||
		s.StatusName != "Offline" || s.Totals.LoggedInMs != (40*time.Minute).Milliseconds() ||
		s.Totals.BreakMs["Lunch"] != (30*time.Minute).Milliseconds() || s.Campaign != "winter" {
		t.Errorf("session %+v", s)
	}

	// An older event retried late does not roll the session back.
	if _, err := store.RecordSessionEvent(ctx, events[1]); err != nil {
		t.Fatal(err)
	}
	if again, _ := store.GetAgentSession(ctx, tid, agent.ID, session); again.LogoutAt == nil || again.LastSeq != 3 {
		t.Errorf("late retry rolled the session back: %+v", again)
	}

	// Another tenant cannot read it.
	other := newTenant(t).Tenant.ID
	if _, err := store.GetAgentSession(ctx, other, agent.ID, session); err == nil {
		t.Error("another tenant read the session")
	}
	if evs, err := store.AgentSessionEvents(ctx, other, agent.ID, session); err != nil || len(evs) != 0 {
		t.Errorf("another tenant read %d events, %v", len(evs), err)
	}
}

func TestRecordSessionEventRefusesBadEvents(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	tid := newTenant(t).Tenant.ID
	agent := newUser(t, tid, pgstore.RoleAgent)
	now := time.Now()
	good := pgstore.SessionEvent{TenantID: tid, AgentID: agent.ID, Session: now.UnixMilli(), Seq: 1, Kind: pgstore.SessionLogin,
		At: now, LoginAt: now, WorkflowID: "agent/x", Status: timesheet.Status{Name: "Available", Group: routing.GroupAvailable}}
	cases := map[string]func(*pgstore.SessionEvent){
		"no session":           func(e *pgstore.SessionEvent) { e.Session = 0 },
		"seq 0":                func(e *pgstore.SessionEvent) { e.Seq = 0 },
		"unknown kind":         func(e *pgstore.SessionEvent) { e.Kind = "nap" },
		"logout without cause": func(e *pgstore.SessionEvent) { e.Kind = pgstore.SessionLogout },
		"login with a cause":   func(e *pgstore.SessionEvent) { e.LogoutReason = pgstore.LogoutForced },
		"bad group":            func(e *pgstore.SessionEvent) { e.Status.Group = "sleepy" },
		"bad voice":            func(e *pgstore.SessionEvent) { e.Voice = "humming" },
		"no time":              func(e *pgstore.SessionEvent) { e.At = time.Time{} },
		"actor not an ID":      func(e *pgstore.SessionEvent) { e.ActorID = "sue" },
	}
	for name, mutate := range cases {
		e := good
		mutate(&e)
		if _, err := store.RecordSessionEvent(ctx, e); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// A user that does not exist (an agent deleted meanwhile) is not found.
	e := good
	e.AgentID = "00000000-0000-4000-8000-000000000000"
	_, err := store.RecordSessionEvent(ctx, e)
	wantErr(t, err, pgstore.ErrNotFound)
	if n, err := store.AgentSessionEvents(ctx, tid, agent.ID, good.Session); err != nil || len(n) != 0 {
		t.Errorf("refused events were written: %v, %v", n, err)
	}
}
