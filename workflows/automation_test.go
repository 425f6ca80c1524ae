package workflows_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"switchboard/activities"
	"switchboard/automation"
	"switchboard/pgstore"
	"switchboard/workflows"
)

const (
	autoRule  = "6f1c2c3e-0000-4000-8000-00000000a001"
	autoRule2 = "6f1c2c3e-0000-4000-8000-00000000a002"
	autoConv  = "6f1c2c3e-0000-4000-8000-00000000a0c1"
)

// automationDesk drives automation workflows with mocked activities, recording the
// runs begun (when, which key) and the actions done.
type automationDesk struct {
	t     *testing.T
	env   *testsuite.TestWorkflowEnvironment
	start time.Time

	mu      sync.Mutex
	runs    []activities.RuleRunRequest
	runAt   []time.Duration
	actions []string
	failed  []activities.ActionFailure
	// actionErr, when set, answers an action's attempt.
	actionErr func(in activities.ActionRequest, attempt int) error
	attempts  map[string]int
	// plan answers a run's plan (default: two actions, proceed).
	plan func(in activities.RuleRunRequest) activities.RuleRunPlan
}

func newAutomationDesk(t *testing.T) *automationDesk {
	var suite testsuite.WorkflowTestSuite
	d := &automationDesk{t: t, env: suite.NewTestWorkflowEnvironment(), attempts: map[string]int{}}
	d.start = d.env.Now()
	var a *activities.Activities
	d.env.OnActivity(a.BeginAutomationRun, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.RuleRunRequest) (activities.RuleRunPlan, error) {
		d.mu.Lock()
		defer d.mu.Unlock()
		d.runs = append(d.runs, in)
		d.runAt = append(d.runAt, d.env.Now().Sub(d.start))
		if d.plan != nil {
			return d.plan(in), nil
		}
		return activities.RuleRunPlan{RunID: fmt.Sprintf("run-%d", len(d.runs)), Proceed: true, Actions: []automation.Action{
			{Type: automation.ActionApplyTags, Tags: []string{"x"}}, {Type: automation.ActionSendSurvey}}}, nil
	})
	d.env.OnActivity(a.RunAutomationAction, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.ActionRequest) (activities.ActionOutcome, error) {
		d.mu.Lock()
		defer d.mu.Unlock()
		key := fmt.Sprintf("%s/%d", in.RunID, in.Position)
		d.attempts[key]++
		if d.actionErr != nil {
			if err := d.actionErr(in, d.attempts[key]); err != nil {
				return activities.ActionOutcome{}, err
			}
		}
		d.actions = append(d.actions, fmt.Sprintf("%s:%s:%s", in.RuleID[len(in.RuleID)-4:], in.RunID, in.Action.Type))
		return activities.ActionOutcome{Status: pgstore.ActionDone}, nil
	})
	d.env.OnActivity(a.FailAutomationAction, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.ActionFailure) (activities.ActionOutcome, error) {
		d.mu.Lock()
		defer d.mu.Unlock()
		d.failed = append(d.failed, in)
		return activities.ActionOutcome{Status: pgstore.ActionFailed, Error: in.Error}, nil
	})
	d.env.OnActivity(a.FinishAutomationRun, mock.Anything, mock.Anything).Return(nil)
	return d
}

// change is a conversation change at a moment of the test, turned into the timer's
// signal the way the dispatch does (automation.TimerEffect).
type change struct {
	at time.Duration
	c  automation.Change
}

func status(from, to string) automation.Change {
	return automation.Change{Kind: automation.ChangeStatus, StatusFrom: from, StatusTo: to, Status: to}
}

func agentMessage(prev, st string) automation.Change {
	return automation.Change{Kind: automation.ChangeAgentMessage, Previous: prev, Status: st}
}

func customerMessage(prev, st string) automation.Change {
	return automation.Change{Kind: automation.ChangeCustomerMessage, Previous: prev, Status: st}
}

func modified(st string) automation.Change {
	return automation.Change{Kind: automation.ChangeOther, Status: st}
}

var ended = automation.Change{Kind: automation.ChangeEnded}

// runTimer runs one rule's timer with a trigger of typ and period, fed the changes
// as the dispatch sends them: a change whose effect is a signal signals the running
// timer, or starts a new one when the last ended (signal-with-start). It answers
// the runs with their moments from the first change.
func runTimer(t *testing.T, typ string, period automation.Duration, changes []change) ([]activities.RuleRunRequest, []time.Duration, int) {
	type signal struct {
		at  time.Duration
		sig activities.TimerSignal
	}
	var sigs []signal
	for i, ch := range changes {
		effect := automation.TimerEffect(typ, ch.c)
		if effect == automation.None {
			continue
		}
		sigs = append(sigs, signal{ch.at, activities.TimerSignal{Trigger: typ, Effect: effect, Version: int64(i + 1)}})
	}
	var runs []activities.RuleRunRequest
	var runAt []time.Duration
	actions := 0
	for len(sigs) > 0 {
		if sigs[0].sig.Effect == automation.Cancel {
			sigs = sigs[1:] // no timer runs: a cancel finds nothing
			continue
		}
		d := newAutomationDesk(t)
		base := sigs[0].at
		d.env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: activities.AutomationTimerWorkflowID(autoRule, autoConv)})
		for _, s := range sigs {
			sig := s.sig
			sig.At = d.start.Add(s.at - base)
			if sig.Effect != automation.Cancel {
				sig.Due = automation.Due(sig.At, period)
			}
			d.env.RegisterDelayedCallback(func() { d.env.SignalWorkflow(activities.AutomationTimerSignal, sig) }, s.at-base)
		}
		d.env.ExecuteWorkflow(workflows.AutomationTimer, activities.AutomationTimerInput{TenantID: tenantID, RuleID: autoRule, InteractionID: autoConv})
		if !d.env.IsWorkflowCompleted() {
			t.Fatal("the timer did not complete")
		}
		if err := d.env.GetWorkflowError(); err != nil {
			t.Fatalf("timer: %v", err)
		}
		runs = append(runs, d.runs...)
		for _, at := range d.runAt {
			runAt = append(runAt, base+at)
		}
		actions += len(d.actions)
		// The signals after the run ended start the next one.
		ended := base + d.env.Now().Sub(d.start)
		for len(sigs) > 0 && sigs[0].at <= ended {
			sigs = sigs[1:]
		}
	}
	return runs, runAt, actions
}

// Every time trigger, armed by the changes the dispatch turns into signals: when its
// period fires (once per arming), is restarted by a change, or is cancelled; the
// 90-day limit included. The timer workflow ends once nothing is armed.
func TestAutomationTimerTriggers(t *testing.T) {
	min := func(n int) time.Duration { return time.Duration(n) * time.Minute }
	hour := automation.Duration{Hours: 1}
	cases := []struct {
		name    string
		typ     string
		period  automation.Duration
		changes []change
		// fires are the moments the rule runs, with the arming's version.
		fires []time.Duration
		keys  []string
	}{
		{"solved for", automation.TriggerSolvedFor, hour,
			[]change{{0, status("open", "solved")}, {min(20), modified("solved")}, {min(40), agentMessage("customer", "solved")}},
			[]time.Duration{min(60)}, []string{"timer/" + autoConv + "/solvedFor/1"}},
		{"solved for, reopened", automation.TriggerSolvedFor, hour,
			[]change{{0, status("open", "solved")}, {min(30), status("solved", "open")}}, nil, nil},
		{"solved for, solved again restarts", automation.TriggerSolvedFor, hour,
			[]change{{0, status("open", "solved")}, {min(30), status("solved", "open")}, {min(45), status("open", "solved")}},
			[]time.Duration{min(105)}, []string{"timer/" + autoConv + "/solvedFor/3"}},
		{"solved for 10 seconds", automation.TriggerSolvedFor, automation.Duration{Seconds: 10},
			[]change{{0, status("waiting", "solved")}}, []time.Duration{10 * time.Second}, []string{"timer/" + autoConv + "/solvedFor/1"}},
		{"solved and unmodified", automation.TriggerSolvedUnmodified, hour,
			[]change{{0, status("open", "solved")}, {min(20), modified("solved")}, {min(50), modified("solved")}},
			[]time.Duration{min(110)}, []string{"timer/" + autoConv + "/solvedUnmodified/3"}},
		{"solved and unmodified, untouched", automation.TriggerSolvedUnmodified, hour,
			[]change{{0, status("open", "solved")}}, []time.Duration{min(60)}, []string{"timer/" + autoConv + "/solvedUnmodified/1"}},
		{"solved and unmodified, closed", automation.TriggerSolvedUnmodified, hour,
			[]change{{0, status("open", "solved")}, {min(59), ended}}, nil, nil},
		{"waiting for", automation.TriggerWaitingFor, automation.Duration{Days: 2},
			[]change{{0, status("open", "waiting")}, {min(30), modified("waiting")}},
			[]time.Duration{48 * time.Hour}, []string{"timer/" + autoConv + "/waitingFor/1"}},
		{"waiting for, answered", automation.TriggerWaitingFor, automation.Duration{Days: 2},
			[]change{{0, status("open", "waiting")}, {47 * time.Hour, status("waiting", "open")}}, nil, nil},
		{"waiting for 90 days", automation.TriggerWaitingFor, automation.Duration{Days: 90},
			[]change{{0, status("open", "waiting")}}, []time.Duration{90 * 24 * time.Hour}, []string{"timer/" + autoConv + "/waitingFor/1"}},
		{"customer has not replied", automation.TriggerCustomerNotReplied, hour,
			[]change{{0, agentMessage("customer", "open")}, {min(30), agentMessage("agent", "open")}},
			[]time.Duration{min(60)}, []string{"timer/" + autoConv + "/customerNotReplied/1"}},
		{"customer replied", automation.TriggerCustomerNotReplied, hour,
			[]change{{0, agentMessage("customer", "open")}, {min(30), customerMessage("agent", "open")}}, nil, nil},
		{"customer replied, agent wrote again", automation.TriggerCustomerNotReplied, hour,
			[]change{{0, agentMessage("customer", "open")}, {min(30), customerMessage("agent", "open")}, {min(40), agentMessage("customer", "open")}},
			[]time.Duration{min(100)}, []string{"timer/" + autoConv + "/customerNotReplied/3"}},
		{"agent has not replied", automation.TriggerAgentNotReplied, automation.Duration{Minutes: 15},
			[]change{{0, customerMessage("", "open")}, {min(5), customerMessage("customer", "open")}},
			[]time.Duration{min(15)}, []string{"timer/" + autoConv + "/agentNotReplied/1"}},
		{"agent replied", automation.TriggerAgentNotReplied, automation.Duration{Minutes: 15},
			[]change{{0, customerMessage("agent", "open")}, {min(14), agentMessage("customer", "open")}}, nil, nil},
		{"agent has not replied, 90 days", automation.TriggerAgentNotReplied, automation.Duration{Hours: 2160},
			[]change{{0, customerMessage("", "open")}}, []time.Duration{90 * 24 * time.Hour}, []string{"timer/" + autoConv + "/agentNotReplied/1"}},
		{"fires once, then is armed again", automation.TriggerSolvedFor, hour,
			[]change{{0, status("open", "solved")}, {min(70), status("solved", "open")}, {min(80), status("open", "solved")}},
			[]time.Duration{min(60), min(140)}, []string{"timer/" + autoConv + "/solvedFor/1", "timer/" + autoConv + "/solvedFor/3"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			runs, runAt, actions := runTimer(t, c.typ, c.period, c.changes)
			if !slices.Equal(runAt, c.fires) {
				t.Fatalf("fired at %v, want %v", runAt, c.fires)
			}
			for i, r := range runs {
				if r.Key != c.keys[i] || !r.TimeTrigger || r.Trigger != c.typ || r.RuleID != autoRule || r.InteractionID != autoConv {
					t.Errorf("run %d: %+v, want key %s", i, r, c.keys[i])
				}
			}
			if actions != 2*len(c.fires) {
				t.Errorf("%d actions", actions)
			}
		})
	}
}

// A signal about an older change than one already applied (an activity's late
// retry) changes nothing; two triggers of one rule run in their own time.
func TestAutomationTimerOrdering(t *testing.T) {
	d := newAutomationDesk(t)
	d.env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: activities.AutomationTimerWorkflowID(autoRule, autoConv)})
	at := func(m int) time.Time { return d.start.Add(time.Duration(m) * time.Minute) }
	signals := []struct {
		after time.Duration
		sig   activities.TimerSignal
	}{
		{0, activities.TimerSignal{Trigger: automation.TriggerSolvedFor, Effect: automation.Rearm, At: at(0), Due: at(60), Version: 5}},
		{time.Minute, activities.TimerSignal{Trigger: automation.TriggerWaitingFor, Effect: automation.Rearm, At: at(1), Due: at(31), Version: 6}},
		// A cancel of an older change arrives late: ignored.
		{2 * time.Minute, activities.TimerSignal{Trigger: automation.TriggerSolvedFor, Effect: automation.Cancel, At: at(0), Version: 4}},
	}
	for _, s := range signals {
		d.env.RegisterDelayedCallback(func() { d.env.SignalWorkflow(activities.AutomationTimerSignal, s.sig) }, s.after)
	}
	d.env.ExecuteWorkflow(workflows.AutomationTimer, activities.AutomationTimerInput{TenantID: tenantID, RuleID: autoRule, InteractionID: autoConv})
	if err := d.env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if want := []time.Duration{31 * time.Minute, time.Hour}; !slices.Equal(d.runAt, want) {
		t.Fatalf("fired at %v, want %v", d.runAt, want)
	}
	if d.runs[0].Key != "timer/"+autoConv+"/waitingFor/6" || d.runs[1].Key != "timer/"+autoConv+"/solvedFor/5" {
		t.Errorf("runs %+v", d.runs)
	}
}

// A long-lived timer continues as new with its running periods.
func TestAutomationTimerContinuesAsNew(t *testing.T) {
	d := newAutomationDesk(t)
	due := d.start.Add(time.Hour)
	d.env.ExecuteWorkflow(workflows.AutomationTimer, activities.AutomationTimerInput{TenantID: tenantID, RuleID: autoRule, InteractionID: autoConv,
		Armed: []activities.ArmedTrigger{{Trigger: automation.TriggerSolvedFor, ArmedAt: d.start, Due: due, Version: 9}},
		Seen:  map[string]int64{automation.TriggerSolvedFor: 9}})
	if err := d.env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if len(d.runs) != 1 || d.runs[0].Key != "timer/"+autoConv+"/solvedFor/9" || d.runAt[0] != time.Hour {
		t.Errorf("carried period: %+v at %v", d.runs, d.runAt)
	}
	// Past the signal budget it hands its state to the next run.
	d2 := newAutomationDesk(t)
	d2.env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: activities.AutomationTimerWorkflowID(autoRule, autoConv)})
	for i := range workflows.MaxTimerEvents + 1 {
		v := int64(i + 1)
		d2.env.RegisterDelayedCallback(func() {
			d2.env.SignalWorkflow(activities.AutomationTimerSignal, activities.TimerSignal{Trigger: automation.TriggerSolvedUnmodified,
				Effect: automation.Rearm, At: d2.env.Now(), Due: d2.env.Now().Add(time.Hour), Version: v})
		}, time.Duration(i)*time.Second)
	}
	d2.env.ExecuteWorkflow(workflows.AutomationTimer, activities.AutomationTimerInput{TenantID: tenantID, RuleID: autoRule, InteractionID: autoConv})
	var can *workflow.ContinueAsNewError
	if err := d2.env.GetWorkflowError(); !errors.As(err, &can) {
		t.Fatalf("want continue-as-new, got %v", err)
	}
}

// The rules an event triggered run in list order, every action of one before the
// next; an action whose tries run out is recorded as failed and the next one runs.
func TestAutomationRunOrderAndFailures(t *testing.T) {
	d := newAutomationDesk(t)
	d.actionErr = func(in activities.ActionRequest, attempt int) error {
		if in.RuleID == autoRule && in.Position == 0 {
			return temporal.NewApplicationError("the receiver answered 503", activities.ErrTypeActionRetry)
		}
		return nil
	}
	d.env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: activities.AutomationRunWorkflowID(autoConv, "interaction/x/3/noteAdded")})
	d.env.ExecuteWorkflow(workflows.AutomationRun, activities.AutomationRunInput{TenantID: tenantID, InteractionID: autoConv,
		EventKey: "interaction/x/3/noteAdded", EventType: "noteAdded", Event: automation.Event{Type: automation.TriggerNoteCreated},
		RuleIDs: []string{autoRule2, autoRule}, Depth: 1})
	if err := d.env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	want := []string{"a002:run-1:applyTags", "a002:run-1:sendSurvey", "a001:run-2:sendSurvey"}
	if !slices.Equal(d.actions, want) {
		t.Errorf("actions %v, want %v", d.actions, want)
	}
	if len(d.failed) != 1 || d.failed[0].RunID != "run-2" || d.failed[0].Position != 0 || d.failed[0].Error != "the receiver answered 503" {
		t.Errorf("failed %+v", d.failed)
	}
	if got := d.attempts["run-2/0"]; got != workflows.AutomationActionAttempts {
		t.Errorf("%d attempts, want %d", got, workflows.AutomationActionAttempts)
	}
	if d.runs[0].Key != "event/interaction/x/3/noteAdded" || d.runs[0].Depth != 1 || d.runs[1].RuleID != autoRule {
		t.Errorf("runs %+v", d.runs)
	}
}

// A run that stops (conditions not met, rule disabled) or resumes after a crash does
// only the actions not done yet.
func TestAutomationRunSkipsDoneActions(t *testing.T) {
	d := newAutomationDesk(t)
	d.plan = func(in activities.RuleRunRequest) activities.RuleRunPlan {
		if in.RuleID == autoRule {
			return activities.RuleRunPlan{Status: pgstore.RunConditionsNotMet}
		}
		return activities.RuleRunPlan{RunID: "resumed", Proceed: true, Done: []int{0}, Actions: []automation.Action{
			{Type: automation.ActionSendSurvey}, {Type: automation.ActionCallAPI}, {Type: automation.ActionApplyTags}}}
	}
	d.env.ExecuteWorkflow(workflows.AutomationRun, activities.AutomationRunInput{TenantID: tenantID, InteractionID: autoConv,
		EventKey: "k", Event: automation.Event{Type: automation.TriggerSurveyFeedback, Score: "notHappy"}, RuleIDs: []string{autoRule, autoRule2}})
	if err := d.env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if want := []string{"a002:resumed:callApi", "a002:resumed:applyTags"}; !slices.Equal(d.actions, want) {
		t.Errorf("actions %v, want %v", d.actions, want)
	}
}
