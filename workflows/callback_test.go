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
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"switchboard/activities"
	"switchboard/pgstore"
	"switchboard/routing"
	"switchboard/workflows"
)

const (
	callbackID    = "6f1c2c3e-0000-4000-8000-000000000301"
	callbackPhone = "+385915550101"
	callbackQueue = "6f1c2c3e-0000-4000-8000-0000000000e3"
)

// callbackDesk drives one Callback run with mocked activities and a mocked
// Interaction child: it records the writes, the checks and the calls started.
type callbackDesk struct {
	t     *testing.T
	env   *testsuite.TestWorkflowEnvironment
	start time.Time
	input workflows.CallbackInput

	mu      sync.Mutex
	writes  []activities.CallbackWrite
	checks  []activities.CallbackCheck
	checkAt []time.Duration
	calls   []workflows.InteractionInput
	callAt  []time.Duration
	updates int
	// readyFrom is when the agent can take the call (zero: at once); never keeps
	// them unable to.
	readyFrom time.Duration
	never     bool
	dnc       bool
	gone      bool
}

func newCallbackDesk(t *testing.T, due time.Duration, agent string) *callbackDesk {
	var suite testsuite.WorkflowTestSuite
	d := &callbackDesk{t: t, env: suite.NewTestWorkflowEnvironment()}
	d.start = d.env.Now()
	d.input = workflows.CallbackInput{Callback: pgstore.Callback{
		ID: callbackID, TenantID: tenantID, DueAt: d.start.Add(due), SelfCallback: agent != "", AgentID: agent,
		Phone: callbackPhone, Customer: callbackPhone, CustomerName: "Ivo", Notes: "quote for the renewal",
		CreatedBy: ana, CreatedAt: d.start,
	}}
	d.env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: workflows.CallbackWorkflowID(callbackID)})
	var a *activities.Activities
	d.env.OnActivity(a.RecordCallback, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.CallbackWrite) error {
		d.mu.Lock()
		defer d.mu.Unlock()
		if n := len(d.writes); n > 0 && d.writes[n-1].State.Version+1 != in.State.Version {
			t.Errorf("write v%d after v%d", in.State.Version, d.writes[n-1].State.Version)
		}
		if in.Event.Version != in.State.Version {
			t.Errorf("event v%d with state v%d", in.Event.Version, in.State.Version)
		}
		d.writes = append(d.writes, in)
		return nil
	})
	d.env.OnActivity(a.CheckCallback, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.CallbackCheck) (activities.CallbackVerdict, error) {
		d.mu.Lock()
		defer d.mu.Unlock()
		d.checks = append(d.checks, in)
		elapsed := d.env.Now().Sub(d.start)
		d.checkAt = append(d.checkAt, elapsed)
		v := activities.CallbackVerdict{CampaignID: campaignID, QueueID: callbackQueue}
		switch {
		case d.dnc:
			return activities.CallbackVerdict{DoNotCall: true}, nil
		case d.gone && in.AgentID != "":
			v.AgentGone = true
		case in.AgentID == "" || in.AnyStatus:
			v.Ready = true
		default:
			v.Ready = !d.never && elapsed >= d.readyFrom
		}
		return v, nil
	})
	d.env.RegisterWorkflow(workflows.Interaction)
	d.env.OnWorkflow(workflows.Interaction, mock.Anything, mock.Anything).Return(func(_ workflow.Context, in workflows.InteractionInput) (*workflows.InteractionState, error) {
		d.mu.Lock()
		defer d.mu.Unlock()
		d.calls = append(d.calls, in)
		d.callAt = append(d.callAt, d.env.Now().Sub(d.start))
		return &workflows.InteractionState{}, nil
	})
	return d
}

type callbackOutcome struct {
	rejected error
	done     bool
	err      error
	state    *pgstore.Callback
}

func (d *callbackDesk) update(at time.Duration, name string, arg any) *callbackOutcome {
	o := &callbackOutcome{}
	d.env.RegisterDelayedCallback(func() {
		d.updates++
		d.env.UpdateWorkflow(name, fmt.Sprintf("u%d", d.updates), &testsuite.TestUpdateCallback{
			OnReject: func(err error) { o.rejected = err },
			OnComplete: func(v any, err error) {
				o.done, o.err = true, err
				if st, ok := v.(*pgstore.Callback); ok {
					o.state = st
				}
			},
		}, arg)
	}, at)
	return o
}

func (d *callbackDesk) query(at time.Duration, out *pgstore.Callback) {
	d.env.RegisterDelayedCallback(func() {
		v, err := d.env.QueryWorkflow(workflows.CallbackQuery)
		if err != nil {
			d.t.Errorf("query: %v", err)
			return
		}
		if err := v.Get(out); err != nil {
			d.t.Errorf("query result: %v", err)
		}
	}, at)
}

func (d *callbackDesk) run() *pgstore.Callback {
	d.t.Helper()
	d.env.ExecuteWorkflow(workflows.Callback, d.input)
	if !d.env.IsWorkflowCompleted() {
		d.t.Fatal("workflow did not complete")
	}
	if err := d.env.GetWorkflowError(); err != nil {
		d.t.Fatalf("workflow error: %v", err)
	}
	var out pgstore.Callback
	if err := d.env.GetWorkflowResult(&out); err != nil {
		d.t.Fatal(err)
	}
	return &out
}

// events lists the types of the history entries written, in order.
func (d *callbackDesk) events() []pgstore.CallbackEventType {
	var out []pgstore.CallbackEventType
	for _, w := range d.writes {
		out = append(out, w.Event.Type)
	}
	return out
}

func wantEventTypes(t *testing.T, got []pgstore.CallbackEventType, want ...pgstore.CallbackEventType) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("history %v, want %v", got, want)
	}
}

func wantCallbackRefused(t *testing.T, what string, o *callbackOutcome, errType string) *temporal.ApplicationError {
	t.Helper()
	err := o.rejected
	if err == nil {
		err = o.err
	}
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || app.Type() != errType {
		t.Errorf("%s: got %v (done %v), want an error of type %s", what, err, o.done, errType)
	}
	return app
}

// A callback to a queue fires once, at its time: one outbound call, queued in the
// campaign's queue with no agent, with the ID derived from the callback; the read
// model goes scheduled → dialing → completed.
func TestCallbackFiresOnceAtItsTime(t *testing.T) {
	d := newCallbackDesk(t, time.Hour, "")
	var before pgstore.Callback
	d.query(30*time.Minute, &before)
	st := d.run()
	if before.Status != pgstore.CallbackScheduled || before.Version != 1 {
		t.Errorf("before its time %+v", before)
	}
	if len(d.calls) != 1 || d.callAt[0] != time.Hour {
		t.Fatalf("calls %d at %v", len(d.calls), d.callAt)
	}
	ix := workflows.CallbackInteractionID(callbackID, 1)
	c := d.calls[0]
	if c.ID != ix || c.Direction != pgstore.Outbound || c.AgentID != "" || c.QueueID != callbackQueue || c.CampaignID != campaignID ||
		c.Channel != routing.Voice || c.To != callbackPhone || c.CustomerPhone != callbackPhone || c.Metadata["callbackId"] != callbackID {
		t.Errorf("call %+v", c)
	}
	if st.Status != pgstore.CallbackCompleted || st.InteractionID != ix || st.Generation != 1 || st.FiredAt == nil || st.Version != 3 {
		t.Errorf("final %+v", st)
	}
	wantEventTypes(t, d.events(), pgstore.CallbackEventScheduled, pgstore.CallbackEventDialing, pgstore.CallbackEventCompleted)
	if len(d.checks) != 1 || d.checks[0].InteractionID != ix || d.checks[0].AgentID != "" {
		t.Errorf("checks %+v", d.checks)
	}
}

// A reschedule moves the timer: the callback fires at the new time only, and its
// history keeps the old time and the reason. A time in the past or no reason is
// refused with nothing changed.
func TestCallbackRescheduleMovesIt(t *testing.T) {
	d := newCallbackDesk(t, time.Hour, "")
	past := d.update(5*time.Minute, workflows.RescheduleCallbackUpdate, workflows.RescheduleCallbackInput{
		Actor: as(ana), DueAt: d.start, Reason: "earlier"})
	noReason := d.update(6*time.Minute, workflows.RescheduleCallbackUpdate, workflows.RescheduleCallbackInput{
		Actor: as(ana), DueAt: d.start.Add(2 * time.Hour)})
	moved := d.update(10*time.Minute, workflows.RescheduleCallbackUpdate, workflows.RescheduleCallbackInput{
		Actor: as(ana), DueAt: d.start.Add(3 * time.Hour), Reason: "customer is in a meeting"})
	st := d.run()
	if app := wantCallbackRefused(t, "a time in the past", past, workflows.ErrTypeInvalidCallback); app != nil {
		var field string
		if app.HasDetails() {
			_ = app.Details(&field)
		}
		if field != "at" {
			t.Errorf("refusal names %q", field)
		}
	}
	wantCallbackRefused(t, "no reason", noReason, workflows.ErrTypeInvalidCallback)
	if !moved.done || moved.err != nil || moved.state == nil || !moved.state.DueAt.Equal(d.start.Add(3*time.Hour)) || moved.state.Reschedules != 1 {
		t.Fatalf("reschedule %+v", moved)
	}
	if len(d.calls) != 1 || d.callAt[0] != 3*time.Hour {
		t.Errorf("calls at %v, want one at 3h", d.callAt)
	}
	wantEventTypes(t, d.events(), pgstore.CallbackEventScheduled, pgstore.CallbackEventRescheduled, pgstore.CallbackEventDialing, pgstore.CallbackEventCompleted)
	e := d.writes[1].Event
	if e.PreviousDueAt == nil || !e.PreviousDueAt.Equal(d.start.Add(time.Hour)) || !e.DueAt.Equal(d.start.Add(3*time.Hour)) ||
		e.Reason != "customer is in a meeting" || e.ActorID != ana {
		t.Errorf("reschedule entry %+v", e)
	}
	if st.Status != pgstore.CallbackCompleted {
		t.Errorf("final %+v", st)
	}
}

// A cancel stops the callback for good: no call, its reason and who kept; an action
// after it is refused, and a cancel without a reason is refused.
func TestCallbackCancelStopsIt(t *testing.T) {
	d := newCallbackDesk(t, time.Hour, "")
	noReason := d.update(time.Minute, workflows.CancelCallbackUpdate, workflows.CancelCallbackInput{Actor: as(ana)})
	cancelled := d.update(10*time.Minute, workflows.CancelCallbackUpdate, workflows.CancelCallbackInput{Actor: sup(), Reason: "customer bought elsewhere"})
	st := d.run()
	wantCallbackRefused(t, "no reason", noReason, workflows.ErrTypeInvalidCallback)
	if !cancelled.done || cancelled.err != nil {
		t.Fatalf("cancel %+v", cancelled)
	}
	if len(d.calls) != 0 || len(d.checks) != 0 {
		t.Errorf("a cancelled callback fired: %d checks, %d calls", len(d.checks), len(d.calls))
	}
	if st.Status != pgstore.CallbackCancelled || st.Reason != "customer bought elsewhere" || st.ClosedBy != supID || st.ClosedAt == nil {
		t.Errorf("final %+v", st)
	}
	wantEventTypes(t, d.events(), pgstore.CallbackEventScheduled, pgstore.CallbackEventCancelled)
	if d.env.Now().Sub(d.start) >= time.Hour {
		t.Errorf("the run lasted until %v", d.env.Now().Sub(d.start))
	}
}

// Dial-now starts the call at once for the agent who dials it (whatever their
// status) and completes the callback, which then never fires at its time. Agents
// act only on their own callbacks, and another tenant finds none.
func TestCallbackDialNow(t *testing.T) {
	d := newCallbackDesk(t, time.Hour, bo)
	d.never = true // Bo is not available: only his own dial reaches him
	stranger := d.update(time.Minute, workflows.DialCallbackUpdate, workflows.DialCallbackInput{Actor: as(cy)})
	otherTenant := d.update(time.Minute, workflows.DialCallbackUpdate, workflows.DialCallbackInput{Actor: workflows.Actor{TenantID: "6f1c2c3e-0000-4000-8000-0000000000ff", ActorID: supID}})
	dial := d.update(5*time.Minute, workflows.DialCallbackUpdate, workflows.DialCallbackInput{Actor: as(bo)})
	after := d.update(5*time.Minute, workflows.CancelCallbackUpdate, workflows.CancelCallbackInput{Actor: as(bo), Reason: "late"})
	st := d.run()
	wantCallbackRefused(t, "another agent", stranger, workflows.ErrTypeNotYourCallback)
	wantCallbackRefused(t, "another tenant", otherTenant, workflows.ErrTypeCallbackNotFound)
	if !dial.done || dial.err != nil || dial.state == nil || dial.state.Status != pgstore.CallbackCompleted {
		t.Fatalf("dial %+v", dial)
	}
	wantCallbackRefused(t, "cancel after the dial", after, workflows.ErrTypeCallbackClosed)
	if len(d.calls) != 1 || d.callAt[0] != 5*time.Minute || d.calls[0].AgentID != bo {
		t.Fatalf("calls %+v at %v", d.calls, d.callAt)
	}
	if len(d.checks) != 1 || !d.checks[0].AnyStatus || d.checks[0].AgentID != bo {
		t.Errorf("checks %+v", d.checks)
	}
	if st.Status != pgstore.CallbackCompleted || st.InteractionID != d.calls[0].ID {
		t.Errorf("final %+v", st)
	}
	if d.env.Now().Sub(d.start) >= time.Hour {
		t.Errorf("the run lasted until %v", d.env.Now().Sub(d.start))
	}
}

// A supervisor's dial of a self-callback goes to its agent, who must be able to take
// it: refused while they cannot, with the callback left scheduled; it fires later.
func TestCallbackDialNowWhenTheAgentCannot(t *testing.T) {
	d := newCallbackDesk(t, time.Hour, bo)
	d.readyFrom = 90 * time.Minute
	dial := d.update(5*time.Minute, workflows.DialCallbackUpdate, workflows.DialCallbackInput{Actor: sup()})
	st := d.run()
	wantCallbackRefused(t, "dial while Bo cannot take it", dial, workflows.ErrTypeAgentUnavailable)
	if d.checks[0].AnyStatus || d.checks[0].AgentID != bo {
		t.Errorf("the supervisor's dial checked %+v", d.checks[0])
	}
	if len(d.calls) != 1 || d.callAt[0] != 90*time.Minute || d.calls[0].AgentID != bo {
		t.Errorf("calls %+v at %v", d.calls, d.callAt)
	}
	if st.Status != pgstore.CallbackCompleted {
		t.Errorf("final %+v", st)
	}
}

// A self-callback waits for its agent: past its time it looks again every recheck
// until the agent can take the call, then starts it as theirs; it stays scheduled
// meanwhile, and each look reserves for the same interaction.
func TestSelfCallbackWaitsForItsAgent(t *testing.T) {
	d := newCallbackDesk(t, time.Hour, bo)
	d.input.AgentRecheck = 30 * time.Second
	d.readyFrom = time.Hour + 2*time.Minute
	var waiting pgstore.Callback
	d.query(time.Hour+time.Minute, &waiting)
	st := d.run()
	if waiting.Status != pgstore.CallbackScheduled {
		t.Errorf("while waiting for Bo %+v", waiting)
	}
	if len(d.calls) != 1 || d.callAt[0] != time.Hour+2*time.Minute || d.calls[0].AgentID != bo {
		t.Fatalf("calls %+v at %v", d.calls, d.callAt)
	}
	if len(d.checks) != 5 {
		t.Errorf("looked %d times at %v, want 5 (every 30s from 1h)", len(d.checks), d.checkAt)
	}
	for _, c := range d.checks {
		if c.AgentID != bo || c.AnyStatus || c.InteractionID != workflows.CallbackInteractionID(callbackID, 1) {
			t.Errorf("check %+v", c)
		}
	}
	if st.Status != pgstore.CallbackCompleted || st.Generation != 1 {
		t.Errorf("final %+v", st)
	}
}

// A self-callback past its time waits for its agent without polling: bulk assignment
// wakes it when the agent can take the call (here at 1h07m), and it fires at once;
// it looked only at its time and at the wake-up, long before its safety recheck.
func TestSelfCallbackWokenWhenItsAgentIsReady(t *testing.T) {
	d := newCallbackDesk(t, time.Hour, bo)
	d.readyFrom = time.Hour + 7*time.Minute
	d.env.RegisterDelayedCallback(func() {
		d.env.SignalWorkflow(workflows.CallbackAgentReadySignal, workflows.AgentAvailable{AgentID: bo})
	}, time.Hour+7*time.Minute)
	st := d.run()
	if len(d.calls) != 1 || d.callAt[0] != time.Hour+7*time.Minute || d.calls[0].AgentID != bo {
		t.Fatalf("calls %+v at %v", d.calls, d.callAt)
	}
	if !slices.Equal(d.checkAt, []time.Duration{time.Hour, time.Hour + 7*time.Minute}) {
		t.Errorf("looked at %v, want at its time and at the wake-up", d.checkAt)
	}
	if st.Status != pgstore.CallbackCompleted {
		t.Errorf("final %+v", st)
	}
}

// Without a wake-up, the safety recheck looks again after DefaultAgentRecheck.
func TestSelfCallbackSafetyRecheck(t *testing.T) {
	d := newCallbackDesk(t, time.Hour, bo)
	d.readyFrom = time.Hour + time.Minute
	d.run()
	if !slices.Equal(d.checkAt, []time.Duration{time.Hour, time.Hour + workflows.DefaultAgentRecheck}) {
		t.Errorf("looked at %v", d.checkAt)
	}
}

// A number on the do-not-call list is refused before dialling: the callback fails
// with do_not_call and no call starts.
func TestCallbackRefusedByDoNotCall(t *testing.T) {
	d := newCallbackDesk(t, time.Hour, "")
	d.dnc = true
	st := d.run()
	if len(d.calls) != 0 {
		t.Errorf("a do-not-call number was dialled: %+v", d.calls)
	}
	if st.Status != pgstore.CallbackFailed || st.Reason != pgstore.CallbackReasonDoNotCall || st.InteractionID != "" {
		t.Errorf("final %+v", st)
	}
	wantEventTypes(t, d.events(), pgstore.CallbackEventScheduled, pgstore.CallbackEventFailed)
}

// A self-callback whose agent is no longer an active agent fails instead of waiting
// forever.
func TestSelfCallbackFailsWhenTheAgentIsGone(t *testing.T) {
	d := newCallbackDesk(t, time.Hour, bo)
	d.gone = true
	st := d.run()
	if len(d.calls) != 0 || st.Status != pgstore.CallbackFailed || st.Reason != pgstore.CallbackReasonAgentGone {
		t.Errorf("calls %d, final %+v", len(d.calls), st)
	}
}

// A self-callback that waits long for its agent continues as new with its state,
// before its history grows large.
func TestSelfCallbackWaitingLongContinuesAsNew(t *testing.T) {
	d := newCallbackDesk(t, time.Minute, bo)
	d.input.AgentRecheck = time.Second
	d.never = true
	d.env.ExecuteWorkflow(workflows.Callback, d.input)
	var cont *workflow.ContinueAsNewError
	if err := d.env.GetWorkflowError(); !errors.As(err, &cont) {
		t.Fatalf("workflow error %v, want continue-as-new", err)
	}
	var next workflows.CallbackInput
	if err := converter.GetDefaultDataConverter().FromPayloads(cont.Input, &next); err != nil {
		t.Fatal(err)
	}
	if next.Carried == nil || next.Carried.Status != pgstore.CallbackScheduled || next.Carried.Version != 1 || next.AgentRecheck != time.Second {
		t.Errorf("carried %+v", next)
	}
	if len(d.writes) != 1 || len(d.calls) != 0 {
		t.Errorf("%d writes, %d calls", len(d.writes), len(d.calls))
	}
}

// A disposal with a callback code schedules the callback as a child workflow, with
// the ID derived from the interaction, the interaction's agent for a self-callback
// and its customer number by default; the callback's fields are checked first.
func TestDisposalSchedulesACallback(t *testing.T) {
	d := newDesk(t, bo)
	d.input.Direction, d.input.AgentID, d.input.CustomerPhone = pgstore.Outbound, ana, "+385 91 555 0101"
	var a *activities.Activities
	d.env.OnActivity(a.StartOutbound, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.OutboundRequest) (activities.OutboundResult, error) {
		return activities.OutboundResult{OK: true, QueueID: in.Interaction.QueueID}, nil
	})
	var scheduled []workflows.CallbackInput
	var childIDs []string
	d.env.RegisterWorkflow(workflows.Callback)
	d.env.OnWorkflow(workflows.Callback, mock.Anything, mock.Anything).Return(func(ctx workflow.Context, in workflows.CallbackInput) (*pgstore.Callback, error) {
		scheduled = append(scheduled, in)
		childIDs = append(childIDs, workflow.GetInfo(ctx).WorkflowExecution.ID)
		return &in.Callback, nil
	})
	due := d.start.Add(2 * time.Hour)
	d.endBy(10*time.Second, ana)
	badPhone := d.update(11*time.Second, workflows.DisposeUpdate, workflows.DisposeInput{Actor: as(ana), Class: "Closed", Code: "Resolved",
		Callback: &workflows.DisposalCallback{DueAt: due, Phone: "call me"}})
	noTime := d.update(12*time.Second, workflows.DisposeUpdate, workflows.DisposeInput{Actor: as(ana), Class: "Closed", Code: "Resolved",
		Callback: &workflows.DisposalCallback{SelfCallback: true}})
	ok := d.update(13*time.Second, workflows.DisposeUpdate, workflows.DisposeInput{Actor: as(ana), Class: "Closed", Code: "Resolved",
		Callback: &workflows.DisposalCallback{DueAt: due, SelfCallback: true, Notes: "call after lunch"}})
	st := d.run()
	wantRefused(t, "a bad phone", badPhone, workflows.ErrTypeInvalidAction)
	wantRefused(t, "no time", noTime, workflows.ErrTypeInvalidAction)
	wantOK(t, "dispose with a callback", ok)
	if st.Status != pgstore.InteractionDisposed {
		t.Errorf("final %+v", st)
	}
	id := workflows.DisposalCallbackID(interactionID)
	if len(scheduled) != 1 || childIDs[0] != workflows.CallbackWorkflowID(id) {
		t.Fatalf("scheduled %+v as %v", scheduled, childIDs)
	}
	c := scheduled[0].Callback
	if c.ID != id || c.TenantID != tenantID || !c.DueAt.Equal(due) || !c.SelfCallback || c.AgentID != ana ||
		c.Phone != callbackPhone || c.Notes != "call after lunch" || c.CreatedBy != ana || c.SourceInteractionID != interactionID {
		t.Errorf("callback %+v", c)
	}
	if !d.env.IsWorkflowCompleted() {
		t.Error("the interaction did not complete")
	}
}

// A fire's interaction ID is derived from the callback and its generation, and a
// disposal's callback ID from the interaction: a retry finds the same ones.
func TestCallbackIDsAreDerived(t *testing.T) {
	a, b := workflows.CallbackInteractionID(callbackID, 1), workflows.CallbackInteractionID(callbackID, 2)
	if a == b || a != workflows.CallbackInteractionID(callbackID, 1) {
		t.Errorf("generation IDs %s %s", a, b)
	}
	if workflows.DisposalCallbackID(interactionID) != workflows.DisposalCallbackID(interactionID) ||
		workflows.DisposalCallbackID(interactionID) == workflows.DisposalCallbackID(callbackID) {
		t.Error("disposal callback IDs are not derived from the interaction")
	}
}

// An outbound interaction without an agent (a callback to a queue) is routed like an
// inbound one: offered, accepted, ended; it stays outbound and never starts as an
// agent's own.
func TestOutboundWithoutAnAgentIsOffered(t *testing.T) {
	d := newDesk(t, bo)
	d.input.Direction, d.input.To, d.input.CustomerPhone = pgstore.Outbound, callbackPhone, callbackPhone
	started := 0
	var a *activities.Activities
	d.env.OnActivity(a.StartOutbound, mock.Anything, mock.Anything).Return(func(context.Context, activities.OutboundRequest) (activities.OutboundResult, error) {
		started++
		return activities.OutboundResult{}, nil
	})
	d.accept(5*time.Second, bo)
	d.endBy(10*time.Second, bo)
	d.dispose(11*time.Second, as(bo), "Closed", "Resolved")
	st := d.run()
	if started != 0 {
		t.Errorf("started as an agent's own %d times", started)
	}
	if len(d.offers) != 1 || d.offers[0].Interaction.Direction != pgstore.Outbound {
		t.Errorf("offers %+v", d.offers)
	}
	if st.Status != pgstore.InteractionDisposed || st.AgentID != bo || st.Direction != pgstore.Outbound || st.Outcome != pgstore.OutcomeCompleted {
		t.Errorf("final %+v", st)
	}
}
