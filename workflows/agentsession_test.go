package workflows_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"switchboard/activities"
	"switchboard/pgstore"
	"switchboard/routing"
	"switchboard/timesheet"
	"switchboard/workflows"
)

const (
	tenantID = "6f1c2c3e-0000-4000-8000-0000000000aa"
	agentID  = "6f1c2c3e-0000-4000-8000-0000000000bb"
	supID    = "6f1c2c3e-0000-4000-8000-0000000000cc"
	ttl      = 30 * time.Second
)

var (
	available = timesheet.Status{ID: "available", Name: "Available", Group: routing.GroupAvailable}
	busy      = timesheet.Status{ID: "busy", Name: "Busy", Group: routing.GroupBusy}
	lunch     = timesheet.Status{ID: "6f1c2c3e-0000-4000-8000-000000000001", Name: "Lunch", Group: routing.GroupAway, BreakReason: true}
	training  = timesheet.Status{ID: "6f1c2c3e-0000-4000-8000-000000000002", Name: "Training", Group: routing.GroupAway, BreakReason: true}
)

// session drives one AgentSession run in the test environment: signals are
// scheduled at offsets from the start and dated with the environment's
// clock, as the API dates them with the presence clock.
type session struct {
	t     *testing.T
	env   *testsuite.TestWorkflowEnvironment
	start time.Time

	mu     sync.Mutex
	events []pgstore.SessionEvent
	checks int
	// verdict answers each presence check; nil means the session is live.
	verdict func(now time.Time, in activities.PresenceCheck) activities.PresenceVerdict
}

func newSession(t *testing.T) *session {
	var suite testsuite.WorkflowTestSuite
	s := &session{t: t, env: suite.NewTestWorkflowEnvironment()}
	s.start = s.env.Now()
	var a *activities.Activities
	s.env.OnActivity(a.RecordAgentSessionEvent, mock.Anything, mock.Anything).Return(func(_ context.Context, ev pgstore.SessionEvent) error {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.events = append(s.events, ev)
		return nil
	})
	s.env.OnActivity(a.CheckAgentPresence, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.PresenceCheck) (activities.PresenceVerdict, error) {
		s.mu.Lock()
		s.checks++
		s.mu.Unlock()
		if s.verdict == nil {
			return activities.PresenceVerdict{}, nil
		}
		return s.verdict(s.env.Now(), in), nil
	})
	return s
}

func (s *session) at(d time.Duration) time.Time { return s.start.Add(d) }

// signal sends name with the payload made at offset d (made then, so it can
// carry the environment's clock).
func (s *session) signal(d time.Duration, name string, payload func(now time.Time) any) {
	s.env.RegisterDelayedCallback(func() { s.env.SignalWorkflow(name, payload(s.env.Now())) }, d)
}

func (s *session) login(d time.Duration, session int64, st timesheet.Status) {
	s.signal(d, workflows.AgentLoginSignal, func(now time.Time) any {
		return workflows.AgentLogin{Session: session, Status: st, Campaign: "winter", At: now, HeartbeatTTL: ttl, ActorID: agentID}
	})
}

func (s *session) status(d time.Duration, session int64, st timesheet.Status, actor string) {
	s.signal(d, workflows.AgentStatusSignal, func(now time.Time) any {
		return workflows.AgentStatusChange{Session: session, Status: st, At: now, ActorID: actor}
	})
}

func (s *session) voice(d time.Duration, v routing.VoiceState) {
	s.signal(d, workflows.AgentVoiceSignal, func(now time.Time) any { return workflows.AgentVoiceChange{State: v, At: now} })
}

func (s *session) logout(d time.Duration, session int64, reason, actor string) {
	s.signal(d, workflows.AgentLogoutSignal, func(now time.Time) any {
		return workflows.AgentLogout{Session: session, At: now, Reason: reason, ActorID: actor}
	})
}

// query schedules a query at offset d and returns where its answer will be.
func (s *session) query(d time.Duration) *workflows.AgentSessionState {
	var out workflows.AgentSessionState
	s.env.RegisterDelayedCallback(func() {
		v, err := s.env.QueryWorkflow(workflows.AgentSessionQuery)
		if err != nil {
			s.t.Errorf("query at %v: %v", d, err)
			return
		}
		if err := v.Get(&out); err != nil {
			s.t.Errorf("query at %v: %v", d, err)
		}
	}, d)
	return &out
}

func (s *session) run(in workflows.AgentSessionInput) *workflows.AgentSessionState {
	s.t.Helper()
	s.env.ExecuteWorkflow(workflows.AgentSession, in)
	if !s.env.IsWorkflowCompleted() {
		s.t.Fatal("workflow did not complete")
	}
	if err := s.env.GetWorkflowError(); err != nil {
		s.t.Fatalf("workflow error: %v", err)
	}
	var out workflows.AgentSessionState
	if err := s.env.GetWorkflowResult(&out); err != nil {
		s.t.Fatal(err)
	}
	return &out
}

func input() workflows.AgentSessionInput {
	return workflows.AgentSessionInput{TenantID: tenantID, AgentID: agentID, HeartbeatTTL: ttl}
}

// wantEvents checks the recorded events: kinds in order, numbered from 1 in
// each session, each dated no earlier than the one before in its session.
func (s *session) wantEvents(kinds ...pgstore.SessionEventKind) []pgstore.SessionEvent {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.events) != len(kinds) {
		s.t.Fatalf("%d events recorded, want %d: %+v", len(s.events), len(kinds), s.events)
	}
	for i, e := range s.events {
		seq := int64(1)
		if i > 0 && s.events[i-1].Session == e.Session {
			seq = s.events[i-1].Seq + 1
			if e.At.Before(s.events[i-1].At) {
				s.t.Errorf("event %d dated %v, before the one before it", i, e.At)
			}
		}
		if e.Kind != kinds[i] || e.Seq != seq || e.WorkflowID == "" || e.TenantID != tenantID || e.AgentID != agentID {
			s.t.Errorf("event %d: %+v, want kind %s seq %d", i, e, kinds[i], seq)
		}
	}
	return append([]pgstore.SessionEvent(nil), s.events...)
}

func ms(d time.Duration) int64 { return d.Milliseconds() }

func TestAgentSessionDurations(t *testing.T) {
	s := newSession(t)
	const sid = 1_700_000_000_000
	s.login(0, sid, available)
	s.status(10*time.Minute, sid, lunch, agentID)
	mid := s.query(25 * time.Minute)
	s.status(40*time.Minute, sid, available, agentID)
	s.voice(45*time.Minute, routing.VoiceRinging)
	s.voice(45*time.Minute+10*time.Second, routing.VoiceInCall)
	s.voice(50*time.Minute+10*time.Second, routing.VoiceWrapping)
	s.voice(50*time.Minute+40*time.Second, routing.VoiceIdle)
	s.status(52*time.Minute, sid, training, supID)
	s.logout(60*time.Minute, sid, pgstore.LogoutByAgent, agentID)

	got := s.run(input())

	// Mid-session, the query's sheet plus the caller's clock gives the totals so far.
	if !mid.Open || mid.Session != sid || mid.Sheet.Status != lunch {
		t.Errorf("query at 25m: %+v", mid)
	}
	if tot := mid.TotalsAt(s.at(25 * time.Minute)); tot.LoggedInMs != ms(25*time.Minute) || tot.BreakMs["Lunch"] != ms(15*time.Minute) {
		t.Errorf("totals at 25m: %+v", tot)
	}

	if got.Open || got.LogoutAt == nil || !got.LogoutAt.Equal(s.at(time.Hour)) || got.LogoutReason != pgstore.LogoutByAgent {
		t.Fatalf("ended session: %+v", got)
	}
	tot := got.TotalsAt(s.at(5 * time.Hour)) // an ended session's totals are final
	want := map[string]int64{
		"loggedIn":  ms(time.Hour),
		"Available": ms(10*time.Minute + 12*time.Minute),
		"Lunch":     ms(30 * time.Minute),
		"Training":  ms(8 * time.Minute),
		"talk":      ms(5 * time.Minute),
		"ringing":   ms(10 * time.Second),
		"wrapping":  ms(30 * time.Second),
		"idle":      ms(10*time.Minute + 5*time.Minute + 80*time.Second),
		"away":      ms(38 * time.Minute),
	}
	have := map[string]int64{
		"loggedIn": tot.LoggedInMs, "Available": tot.StatusMs["Available"], "Lunch": tot.BreakMs["Lunch"], "Training": tot.BreakMs["Training"],
		"talk": tot.TalkMs, "ringing": tot.VoiceMs[routing.VoiceRinging], "wrapping": tot.VoiceMs[routing.VoiceWrapping],
		"idle": tot.IdleMs, "away": tot.GroupMs[routing.GroupAway],
	}
	for k, v := range want {
		if have[k] != v {
			t.Errorf("%s = %v, want %v", k, time.Duration(have[k])*time.Millisecond, time.Duration(v)*time.Millisecond)
		}
	}
	if len(got.History) != 5 || got.History[1].Status != lunch || got.History[3].ActorID != supID || got.History[4].Status.Name != "Offline" {
		t.Errorf("history %+v", got.History)
	}

	evs := s.wantEvents(pgstore.SessionLogin, pgstore.SessionStatus, pgstore.SessionStatus,
		pgstore.SessionVoice, pgstore.SessionVoice, pgstore.SessionVoice, pgstore.SessionVoice,
		pgstore.SessionStatus, pgstore.SessionLogout)
	last := evs[len(evs)-1]
	if last.LogoutReason != pgstore.LogoutByAgent || last.Status.Name != "Offline" || last.Totals.LoggedInMs != ms(time.Hour) ||
		!last.At.Equal(s.at(time.Hour)) || last.ActorID != agentID || last.Campaign != "winter" {
		t.Errorf("logout event %+v", last)
	}
	if evs[1].Status != lunch || evs[1].Totals.StatusMs["Available"] != ms(10*time.Minute) || !evs[1].At.Equal(s.at(10*time.Minute)) {
		t.Errorf("lunch event %+v", evs[1])
	}
	if s.checks < 100 {
		t.Errorf("%d presence checks in an hour at a 30s heartbeat", s.checks)
	}
}

func TestAgentSessionHeartbeatLapse(t *testing.T) {
	s := newSession(t)
	const sid = 1_700_000_000_000
	lapse := s.at(95 * time.Second)
	s.verdict = func(now time.Time, in activities.PresenceCheck) activities.PresenceVerdict {
		if in.Session != sid || in.Status != lunch {
			t.Errorf("check of %+v", in)
		}
		if now.Before(lapse) {
			return activities.PresenceVerdict{}
		}
		return activities.PresenceVerdict{Ended: true, EndedAt: lapse, Reason: pgstore.LogoutHeartbeatLapsed}
	}
	s.login(0, sid, lunch)
	got := s.run(input())
	if got.Open || got.LogoutReason != pgstore.LogoutHeartbeatLapsed || !got.LogoutAt.Equal(lapse) ||
		got.Sheet.Totals.LoggedInMs != ms(95*time.Second) || got.Sheet.Totals.BreakMs["Lunch"] != ms(95*time.Second) {
		t.Errorf("lapsed session: %+v", got)
	}
	if s.checks != 4 {
		t.Errorf("%d checks, want 4 (at 30, 60, 90 and 120 s)", s.checks)
	}
	evs := s.wantEvents(pgstore.SessionLogin, pgstore.SessionLogout)
	if evs[1].ActorID != "" || evs[1].LogoutReason != pgstore.LogoutHeartbeatLapsed {
		t.Errorf("logout event %+v", evs[1])
	}
}

// A status change the workflow never heard of (its signal was lost) is caught
// up at the next presence check, dated when presence changed.
func TestAgentSessionCatchesUpWithPresence(t *testing.T) {
	s := newSession(t)
	const sid = 1_700_000_000_000
	s.verdict = func(now time.Time, in activities.PresenceCheck) activities.PresenceVerdict {
		if in.Status.Same(available) {
			return activities.PresenceVerdict{Status: &busy, StatusAt: s.at(20 * time.Second)}
		}
		return activities.PresenceVerdict{}
	}
	s.login(0, sid, available)
	s.logout(2*time.Minute, sid, "", supID) // an unknown reason is recorded as a plain logout
	got := s.run(input())
	if got.Sheet.Totals.StatusMs["Available"] != ms(20*time.Second) || got.Sheet.Totals.StatusMs["Busy"] != ms(100*time.Second) ||
		got.LogoutReason != pgstore.LogoutUnrecorded {
		t.Errorf("session %+v", got)
	}
	evs := s.wantEvents(pgstore.SessionLogin, pgstore.SessionStatus, pgstore.SessionLogout)
	if evs[1].Status != busy || evs[1].ActorID != "" || !evs[1].At.Equal(s.at(20*time.Second)) {
		t.Errorf("caught-up event %+v", evs[1])
	}
}

// Signals from another session, or older than what the workflow knows, change
// nothing; a new login replaces an open session, which ends when it lapsed.
func TestAgentSessionIgnoresStaleSignalsAndFollowsNewLogins(t *testing.T) {
	s := newSession(t)
	const first, second = 1_700_000_000_000, 1_700_000_900_000
	s.login(0, first, available)
	s.logout(time.Minute, first-1, pgstore.LogoutByAgent, agentID) // an older session
	s.status(2*time.Minute, second, lunch, agentID)                // a session not open yet
	s.signal(3*time.Minute, workflows.AgentStatusSignal, func(now time.Time) any {
		// Dated before the current status began: a reordered, superseded change.
		return workflows.AgentStatusChange{Session: first, Status: busy, At: s.at(-time.Minute)}
	})
	s.login(4*time.Minute, first, available) // a resumed session, same status and campaign: nothing to record
	s.signal(15*time.Minute, workflows.AgentLoginSignal, func(now time.Time) any {
		return workflows.AgentLogin{Session: second, Status: busy, At: now, HeartbeatTTL: ttl,
			Lapsed: &workflows.AgentLapse{Session: first, ExpiredAt: s.at(10 * time.Minute)}}
	})
	s.login(16*time.Minute, first, lunch) // the first session is over
	s.logout(20*time.Minute, second, pgstore.LogoutForced, supID)
	got := s.run(input())
	if got.Session != second || got.LogoutReason != pgstore.LogoutForced || got.Sheet.Totals.StatusMs["Busy"] != ms(5*time.Minute) ||
		!got.LoginAt.Equal(s.at(15*time.Minute)) || got.Campaign != "" {
		t.Errorf("second session %+v", got)
	}
	evs := s.wantEvents(pgstore.SessionLogin, pgstore.SessionLogout, pgstore.SessionLogin, pgstore.SessionLogout)
	if evs[1].Session != first || evs[1].LogoutReason != pgstore.LogoutHeartbeatLapsed || !evs[1].At.Equal(s.at(10*time.Minute)) ||
		evs[1].Totals.StatusMs["Available"] != ms(10*time.Minute) {
		t.Errorf("first session's end %+v", evs[1])
	}
	if evs[2].Session != second || evs[2].Status != busy {
		t.Errorf("second login %+v", evs[2])
	}
}

func TestAgentSessionContinuesAsNewWithItsTotals(t *testing.T) {
	const sid = 1_700_000_000_000
	s := newSession(t)
	s.login(0, sid, available)
	s.status(5*time.Minute, sid, lunch, agentID)
	s.env.RegisterDelayedCallback(func() { s.env.SetContinueAsNewSuggested(true) }, 10*time.Minute)
	// Delivered together with the suggestion's wake-up: applied before handing over.
	s.status(10*time.Minute, sid, training, agentID)
	s.env.ExecuteWorkflow(workflows.AgentSession, input())
	var can *workflow.ContinueAsNewError
	if err := s.env.GetWorkflowError(); !errors.As(err, &can) {
		t.Fatalf("workflow error %v, want continue-as-new", err)
	}
	var next workflows.AgentSessionInput
	if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &next); err != nil {
		t.Fatal(err)
	}
	c := next.Carried
	if c == nil || !c.Open || c.Session != sid || c.Seq != 3 || c.Sheet.Status != training || next.HeartbeatTTL != ttl ||
		c.Sheet.Totals.BreakMs["Lunch"] != ms(5*time.Minute) || c.Sheet.Totals.LoggedInMs != ms(10*time.Minute) || len(c.History) != 3 {
		t.Fatalf("carried %+v", next)
	}

	// The next run picks up where this one stopped: same session, same numbering.
	s2 := newSession(t)
	s2.env.SetStartTime(s.at(10 * time.Minute))
	s2.start = s.at(10 * time.Minute)
	s2.logout(20*time.Minute, sid, pgstore.LogoutByAgent, agentID)
	got := s2.run(next)
	tot := got.Sheet.Totals
	if tot.LoggedInMs != ms(30*time.Minute) || tot.BreakMs["Lunch"] != ms(5*time.Minute) || tot.BreakMs["Training"] != ms(20*time.Minute) ||
		tot.StatusMs["Available"] != ms(5*time.Minute) || !got.LoginAt.Equal(s.at(0)) {
		t.Errorf("totals across runs %+v", tot)
	}
	s2.mu.Lock()
	defer s2.mu.Unlock()
	if len(s2.events) != 1 || s2.events[0].Seq != 4 || s2.events[0].Kind != pgstore.SessionLogout {
		t.Errorf("second run events %+v", s2.events)
	}
}

func TestAgentSessionWithoutLoginEnds(t *testing.T) {
	s := newSession(t)
	got := s.run(input())
	if got.Open || got.Session != 0 || len(s.events) != 0 || s.checks != 0 {
		t.Errorf("run without login: %+v, %d events, %d checks", got, len(s.events), s.checks)
	}
	if s.env.Now().Sub(s.start) < time.Minute {
		t.Errorf("gave up after %v", s.env.Now().Sub(s.start))
	}
}

func TestAgentSessionWorkflowID(t *testing.T) {
	if got := workflows.AgentSessionWorkflowID("t1", "a1"); got != "agent/t1/a1" {
		t.Errorf("ID %q", got)
	}
}
