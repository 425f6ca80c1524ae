package workflows

import (
	"errors"
	"maps"
	"slices"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"switchboard/activities"
	"switchboard/automation"
	"switchboard/pgstore"
)

// automationBookkeeping retries the log's own writes (PostgreSQL) until they succeed.
var automationBookkeeping = workflow.ActivityOptions{
	StartToCloseTimeout: 15 * time.Second,
	RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute},
}

// automationLocal marks runs whose bookkeeping — beginning, failing and finishing a
// rule's run, short PostgreSQL writes — runs as local activities in the workflow task
// that needs it: a period's end costs two workflow tasks and one activity task instead
// of four and three. Runs started before used the task queue, and replay the same.
const automationLocal = "automation-local-bookkeeping"

// automationLocalOptions retry the log's writes until they succeed, each attempt short.
var automationLocalOptions = workflow.LocalActivityOptions{
	StartToCloseTimeout: 15 * time.Second,
	RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 200 * time.Millisecond, BackoffCoefficient: 2, MaximumInterval: time.Minute},
}

// bookkeeping runs the log's activities, locally in runs that do so.
type bookkeeping struct{ local bool }

func newBookkeeping(ctx workflow.Context) bookkeeping {
	return bookkeeping{local: workflow.GetVersion(ctx, automationLocal, workflow.DefaultVersion, 1) >= 1}
}

// call runs the activity of the registered name.
func (b bookkeeping) call(ctx workflow.Context, name string, arg any) workflow.Future {
	if b.local {
		return workflow.ExecuteLocalActivity(workflow.WithLocalActivityOptions(ctx, automationLocalOptions), name, arg)
	}
	return workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, automationBookkeeping), name, arg)
}

// AutomationActionAttempts is how often an action that could not be done now (a
// server that did not answer, a 5xx) is tried before it is recorded as failed.
const AutomationActionAttempts = 5

// automationAction runs one action: an attempt is bounded, a few are made.
var automationAction = workflow.ActivityOptions{
	StartToCloseTimeout: 45 * time.Second,
	RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second,
		MaximumAttempts: AutomationActionAttempts, NonRetryableErrorTypes: []string{activities.ErrTypeActionFailed}},
}

// MaxTimerEvents bounds the signals and runs one timer run handles before it
// continues as new.
const MaxTimerEvents = 500

// AutomationRun runs the rules an event triggered on a conversation, in list order:
// every action of one rule before the next (runRule). Its ID is
// activities.AutomationRunWorkflowID, one per event.
func AutomationRun(ctx workflow.Context, in activities.AutomationRunInput) error {
	event := map[string]any{"type": in.EventType, "key": in.EventKey}
	if in.Event.StatusTo != "" {
		event["statusFrom"], event["statusTo"] = in.Event.StatusFrom, in.Event.StatusTo
	}
	if in.Event.ChannelTo != "" {
		event["channelFrom"], event["channelTo"] = in.Event.ChannelFrom, in.Event.ChannelTo
	}
	if in.Event.Score != "" {
		event["score"] = in.Event.Score
	}
	book := newBookkeeping(ctx)
	for _, id := range in.RuleIDs {
		_, err := runRule(ctx, book, activities.RuleRunRequest{TenantID: in.TenantID, InteractionID: in.InteractionID, RuleID: id,
			Key: "event/" + in.EventKey, Trigger: in.Event.Type, Event: event, Depth: in.Depth}, in.Data)
		if err != nil {
			return err
		}
	}
	return nil
}

// runRule runs one rule: it begins the run (which checks that the rule and its
// conditions still apply), does each action not done yet in order, recording each
// result (an action whose tries ran out is recorded as failed, and the next one
// runs), and ends the run. It answers the run's status.
func runRule(ctx workflow.Context, book bookkeeping, req activities.RuleRunRequest, data map[string]string) (string, error) {
	var a *activities.Activities
	var plan activities.RuleRunPlan
	if err := book.call(ctx, "BeginAutomationRun", req).Get(ctx, &plan); err != nil {
		return "", err
	}
	if !plan.Proceed {
		return plan.Status, nil
	}
	act := workflow.WithActivityOptions(ctx, automationAction)
	for i, action := range plan.Actions {
		if slices.Contains(plan.Done, i) {
			continue
		}
		in := activities.ActionRequest{TenantID: req.TenantID, InteractionID: req.InteractionID, RuleID: req.RuleID, RunID: plan.RunID,
			Position: i, Action: action, Depth: req.Depth, Data: data}
		var out activities.ActionOutcome
		err := workflow.ExecuteActivity(act, a.RunAutomationAction, in).Get(ctx, &out)
		if err == nil {
			continue
		}
		msg := err.Error()
		var app *temporal.ApplicationError
		if errors.As(err, &app) {
			msg = app.Message()
		}
		workflow.GetLogger(ctx).Warn("automation action failed", "rule", req.RuleID, "position", i, "type", action.Type, "error", msg)
		if err := book.call(ctx, "FailAutomationAction", activities.ActionFailure{RunID: plan.RunID, Position: i,
			Type: action.Type, Error: msg}).Get(ctx, &out); err != nil {
			return "", err
		}
	}
	if err := book.call(ctx, "FinishAutomationRun", activities.FinishRunRequest{TenantID: req.TenantID, RunID: plan.RunID,
		Status: pgstore.RunCompleted}).Get(ctx, nil); err != nil {
		return "", err
	}
	return pgstore.RunCompleted, nil
}

// AutomationTimer is the durable timer of one rule's time-based triggers on one
// conversation (activities.AutomationTimerWorkflowID). Signals arm a trigger's
// period (unless it already runs), re-arm it (from the change that re-armed it) or
// cancel it; a signal about a change older than one already applied to the trigger
// is ignored. When a period ends the rule runs once for that arming (the run's key
// is the arming), with its conditions evaluated then. The run ends when no period is
// running, and continues as new after many signals.
func AutomationTimer(ctx workflow.Context, in activities.AutomationTimerInput) error {
	armed := map[string]activities.ArmedTrigger{}
	for _, t := range in.Armed {
		armed[t.Trigger] = t
	}
	seen := maps.Clone(in.Seen)
	if seen == nil {
		seen = map[string]int64{}
	}
	signals := workflow.GetSignalChannel(ctx, activities.AutomationTimerSignal)
	book := newBookkeeping(ctx)
	handled := 0
	apply := func(s activities.TimerSignal) {
		handled++
		if v, ok := seen[s.Trigger]; ok && s.Version < v {
			return // about an older change than one already applied
		}
		seen[s.Trigger] = s.Version
		t := activities.ArmedTrigger{Trigger: s.Trigger, ArmedAt: s.At, Due: s.Due, Version: s.Version, Depth: s.Depth}
		switch s.Effect {
		case automation.Arm:
			if _, running := armed[s.Trigger]; !running {
				armed[s.Trigger] = t
			}
		case automation.Rearm:
			armed[s.Trigger] = t
		case automation.Cancel:
			delete(armed, s.Trigger)
		}
	}
	drain := func() {
		for {
			var s activities.TimerSignal
			if !signals.ReceiveAsync(&s) {
				return
			}
			apply(s)
		}
	}
	for {
		drain()
		if len(armed) == 0 {
			return nil
		}
		if handled >= MaxTimerEvents || workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			next := in
			next.Armed, next.Seen = nil, seen
			for _, k := range workflow.DeterministicKeys(armed) {
				next.Armed = append(next.Armed, armed[k])
			}
			return workflow.NewContinueAsNewError(ctx, AutomationTimer, next)
		}
		first := earliest(armed)
		if wait := first.Due.Sub(workflow.Now(ctx)); wait > 0 {
			tctx, cancel := workflow.WithCancel(ctx)
			fired := false
			s := workflow.NewSelector(ctx)
			s.AddFuture(workflow.NewTimer(tctx, wait), func(f workflow.Future) { fired = f.Get(ctx, nil) == nil })
			s.AddReceive(signals, func(c workflow.ReceiveChannel, _ bool) {
				var sig activities.TimerSignal
				c.Receive(ctx, &sig)
				apply(sig)
			})
			s.Select(ctx)
			cancel()
			if !fired {
				continue
			}
		}
		now := workflow.Now(ctx)
		for _, k := range workflow.DeterministicKeys(armed) {
			t := armed[k]
			if t.Due.After(now) {
				continue
			}
			delete(armed, k)
			handled++
			_, err := runRule(ctx, book, activities.RuleRunRequest{TenantID: in.TenantID, InteractionID: in.InteractionID, RuleID: in.RuleID,
				Key: t.Key(in.InteractionID), Trigger: t.Trigger, Depth: t.Depth, TimeTrigger: true,
				Event: map[string]any{"type": t.Trigger, "armedAt": t.ArmedAt, "due": t.Due, "firedAt": now}}, nil)
			if err != nil {
				return err
			}
		}
	}
}

func earliest(armed map[string]activities.ArmedTrigger) activities.ArmedTrigger {
	var out activities.ArmedTrigger
	for _, k := range workflow.DeterministicKeys(armed) {
		if t := armed[k]; out.Trigger == "" || t.Due.Before(out.Due) {
			out = t
		}
	}
	return out
}

// Survey sends a solved conversation's CSAT survey after the tenant's delay
// (activities.SurveyWorkflowID), unless the conversation was reopened meanwhile.
func Survey(ctx workflow.Context, in activities.SurveyInput) (*activities.SurveyResult, error) {
	if in.Delay > 0 {
		if err := workflow.Sleep(ctx, in.Delay); err != nil {
			return nil, err
		}
	}
	var a *activities.Activities
	var out activities.SurveyResult
	err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, automationAction), a.SendSurvey, activities.SurveyRequest{
		TenantID: in.TenantID, InteractionID: in.InteractionID, SendKey: in.SendKey, AfterSolve: true}).Get(ctx, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// SurveyFeedback tells the rules a survey's answer is complete
// (activities.SurveyFeedbackWorkflowID): it publishes surveyFeedbackReceived.
func SurveyFeedback(ctx workflow.Context, in activities.SurveyFeedbackInput) error {
	var a *activities.Activities
	return workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, automationBookkeeping), a.PublishSurveyFeedback, in).Get(ctx, nil)
}
