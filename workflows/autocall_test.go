package workflows_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/testsuite"

	"switchboard/activities"
	"switchboard/pgstore"
	"switchboard/presence"
	"switchboard/workflows"
)

func (s *session) autoCall(d time.Duration, session int64, enabled bool, cause presence.AutoCallCause, actor string) {
	s.signal(d, workflows.AgentAutoCallSignal, func(now time.Time) any {
		return workflows.AgentAutoCallChange{Session: session, Enabled: enabled, Cause: cause, At: now, ActorID: actor}
	})
}

func TestAgentSessionAutoCall(t *testing.T) {
	s := newSession(t)
	const sid, next = 1_700_000_000_000, 1_700_000_900_000
	s.login(0, sid, available)
	atLogin := s.query(time.Second)
	s.autoCall(5*time.Minute, sid, false, presence.AutoCallAgentSet, agentID)
	s.status(6*time.Minute, sid, lunch, agentID)
	s.autoCall(7*time.Minute, sid, false, presence.AutoCallSupervisorSet, supID) // already off: nothing
	s.autoCall(8*time.Minute, sid-1, true, presence.AutoCallAgentSet, agentID)   // another session's
	s.status(9*time.Minute, sid, available, agentID)
	afterStatus := s.query(10 * time.Minute)
	s.autoCall(11*time.Minute, sid, true, presence.AutoCallSupervisorSet, supID)
	s.autoCall(12*time.Minute, sid, false, presence.AutoCallAgentSet, agentID)
	// A new session starts on again, whatever the last one ended with.
	s.login(15*time.Minute, next, available)
	newSession := s.query(16 * time.Minute)
	s.logout(20*time.Minute, next, pgstore.LogoutByAgent, agentID)

	got := s.run(input())

	if !atLogin.AutoCall.Enabled || atLogin.AutoCall.Cause != presence.AutoCallLogin || !atLogin.AutoCall.At.Equal(s.at(0)) {
		t.Errorf("at login: %+v", atLogin.AutoCall)
	}
	if afterStatus.AutoCall.Enabled || afterStatus.AutoCall.Cause != presence.AutoCallAgentSet || !afterStatus.AutoCall.At.Equal(s.at(5*time.Minute)) {
		t.Errorf("after status changes the mode is %+v, want off since 5m by the agent", afterStatus.AutoCall)
	}
	if n := len(afterStatus.AutoCallHistory); n != 2 {
		t.Errorf("history after two changes of which one real: %+v", afterStatus.AutoCallHistory)
	}
	if !newSession.AutoCall.Enabled || newSession.AutoCall.Cause != presence.AutoCallLogin || len(newSession.AutoCallHistory) != 1 {
		t.Errorf("new session: %+v %+v", newSession.AutoCall, newSession.AutoCallHistory)
	}
	if got.Session != next || !got.AutoCall.Enabled {
		t.Errorf("ended session: %+v", got.AutoCall)
	}
	// No session event is written for the mode: durations do not depend on it.
	s.wantEvents(pgstore.SessionLogin, pgstore.SessionStatus, pgstore.SessionStatus,
		pgstore.SessionLogout, pgstore.SessionLogin, pgstore.SessionLogout)
}

func TestAgentSessionAutoCallHistory(t *testing.T) {
	s := newSession(t)
	const sid = 1_700_000_000_000
	s.login(0, sid, available)
	s.autoCall(time.Minute, sid, false, presence.AutoCallAgentSet, agentID)
	s.autoCall(2*time.Minute, sid, true, presence.AutoCallSupervisorSet, supID)
	s.autoCall(3*time.Minute, sid, false, presence.AutoCallSupervisorSet, supID)
	h := s.query(4 * time.Minute)
	s.logout(5*time.Minute, sid, pgstore.LogoutByAgent, agentID)
	s.run(input())
	want := []workflows.AutoCallEntry{
		{At: s.at(0), Enabled: true, Cause: presence.AutoCallLogin, ActorID: agentID},
		{At: s.at(time.Minute), Enabled: false, Cause: presence.AutoCallAgentSet, ActorID: agentID},
		{At: s.at(2 * time.Minute), Enabled: true, Cause: presence.AutoCallSupervisorSet, ActorID: supID},
		{At: s.at(3 * time.Minute), Enabled: false, Cause: presence.AutoCallSupervisorSet, ActorID: supID},
	}
	if len(h.AutoCallHistory) != len(want) {
		t.Fatalf("history %+v, want %+v", h.AutoCallHistory, want)
	}
	for i, g := range h.AutoCallHistory {
		if !g.At.Equal(want[i].At) || g.Enabled != want[i].Enabled || g.Cause != want[i].Cause || g.ActorID != want[i].ActorID {
			t.Errorf("history[%d] = %+v, want %+v", i, g, want[i])
		}
	}
	if last := h.AutoCall; last.Enabled || last.Cause != presence.AutoCallSupervisorSet || last.ActorID != supID {
		t.Errorf("mode %+v", last)
	}
}

// A login that arrives while the previous session's logout is still being recorded
// opens the next session in the same run, and what follows it is kept, instead of
// going with a run that ends.
func TestAgentSessionLoginWhileLogoutIsRecorded(t *testing.T) {
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	var a *activities.Activities
	var (
		mu     sync.Mutex
		events []pgstore.SessionEvent
	)
	// Each write takes a while, as PostgreSQL under load would.
	env.OnActivity(a.RecordAgentSessionEvent, mock.Anything, mock.Anything).After(10 * time.Second).Return(func(_ context.Context, ev pgstore.SessionEvent) error {
		mu.Lock()
		defer mu.Unlock()
		events = append(events, ev)
		return nil
	})
	env.OnActivity(a.CheckAgentPresence, mock.Anything, mock.Anything).Return(activities.PresenceVerdict{}, nil)
	start := env.Now()
	const first, second = 1_700_000_000_000, 1_700_000_100_000
	send := func(d time.Duration, name string, payload func(time.Time) any) {
		env.RegisterDelayedCallback(func() { env.SignalWorkflow(name, payload(env.Now())) }, d)
	}
	send(0, workflows.AgentLoginSignal, func(now time.Time) any {
		return workflows.AgentLogin{Session: first, Status: available, At: now, HeartbeatTTL: ttl, ActorID: agentID}
	})
	send(time.Minute, workflows.AgentLogoutSignal, func(now time.Time) any {
		return workflows.AgentLogout{Session: first, At: now, Reason: pgstore.LogoutByAgent, ActorID: agentID}
	})
	send(time.Minute+2*time.Second, workflows.AgentLoginSignal, func(now time.Time) any {
		return workflows.AgentLogin{Session: second, Status: available, At: now, HeartbeatTTL: ttl, ActorID: agentID}
	})
	send(time.Minute+3*time.Second, workflows.AgentAutoCallSignal, func(now time.Time) any {
		return workflows.AgentAutoCallChange{Session: second, Enabled: false, Cause: presence.AutoCallAgentSet, At: now, ActorID: agentID}
	})
	send(5*time.Minute, workflows.AgentLogoutSignal, func(now time.Time) any {
		return workflows.AgentLogout{Session: second, At: now, Reason: pgstore.LogoutByAgent, ActorID: agentID}
	})
	env.ExecuteWorkflow(workflows.AgentSession, workflows.AgentSessionInput{TenantID: tenantID, AgentID: agentID, HeartbeatTTL: ttl})
	if !env.IsWorkflowCompleted() || env.GetWorkflowError() != nil {
		t.Fatalf("workflow: completed %v, %v", env.IsWorkflowCompleted(), env.GetWorkflowError())
	}
	var got workflows.AgentSessionState
	if err := env.GetWorkflowResult(&got); err != nil {
		t.Fatal(err)
	}
	if got.Session != second || !got.LoginAt.Equal(start.Add(time.Minute+2*time.Second)) || got.LogoutAt == nil {
		t.Fatalf("the run ended with session %d (login %v), want %d", got.Session, got.LoginAt, second)
	}
	if len(got.AutoCallHistory) != 2 || got.AutoCall.Enabled {
		t.Errorf("the second session's auto call: %+v", got.AutoCallHistory)
	}
	mu.Lock()
	defer mu.Unlock()
	var kinds []pgstore.SessionEventKind
	for _, ev := range events {
		kinds = append(kinds, ev.Kind)
	}
	if want := []pgstore.SessionEventKind{pgstore.SessionLogin, pgstore.SessionLogout, pgstore.SessionLogin, pgstore.SessionLogout}; !slices.Equal(kinds, want) {
		t.Errorf("recorded %v, want %v", kinds, want)
	}
}
