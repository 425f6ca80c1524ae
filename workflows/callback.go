package workflows

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"switchboard/activities"
	"switchboard/pgstore"
	"switchboard/routing"
)

// CallbackWorkflowID names the workflow of one scheduled callback.
func CallbackWorkflowID(id string) string { return "callback/" + id }

// DisposalCallbackID is the ID of the callback an interaction's disposal schedules:
// one per interaction, so a retried disposal schedules the same one.
func DisposalCallbackID(interactionID string) string {
	return uuid.NewSHA1(uuid.MustParse(interactionID), []byte("callback")).String()
}

// CallbackInteractionID is the ID of the outbound interaction a callback's fire
// starts: derived from the callback and its fire generation, so a retried fire starts
// the same interaction, never a second one.
func CallbackInteractionID(callbackID string, generation int) string {
	return pgstore.CallbackFireID(callbackID, generation)
}

// Updates and query of the callback workflow.
const (
	// RescheduleCallbackUpdate moves the callback to a new time (RescheduleCallbackInput).
	RescheduleCallbackUpdate = "reschedule"
	// CancelCallbackUpdate deletes the callback, with a reason (CancelCallbackInput).
	CancelCallbackUpdate = "cancel"
	// DialCallbackUpdate fires the callback now (DialCallbackInput).
	DialCallbackUpdate = "dial"
	// CallbackRecordedUpdate answers the callback once its read model holds it; the
	// API creates a callback with it (update-with-start), so a listing right after
	// the creation shows it (Actor: only the tenant is checked).
	CallbackRecordedUpdate = "recorded"
	// CallbackQuery answers the callback as the workflow holds it.
	CallbackQuery = "state"
	// CallbackAgentReadySignal tells a self-callback waiting past its time for its
	// agent that bulk assignment reserved the agent's voice slot for its call
	// (AgentAvailable): it looks again at once.
	CallbackAgentReadySignal = "agent-ready"
)

// Error types of refused callback updates, which the API maps to HTTP answers.
const (
	// ErrTypeCallbackNotFound: the callback is another tenant's.
	ErrTypeCallbackNotFound = "CallbackNotFound"
	// ErrTypeNotYourCallback: an agent acting on a callback that is neither for
	// them nor scheduled by them.
	ErrTypeNotYourCallback = "NotYourCallback"
	// ErrTypeCallbackClosed: the callback already fired, was deleted or failed.
	ErrTypeCallbackClosed = "CallbackClosed"
	// ErrTypeInvalidCallback: the update's input is wrong; the details name the field.
	ErrTypeInvalidCallback = "InvalidCallback"
	// ErrTypeAgentUnavailable: the agent who is to take the call cannot now (not
	// logged in, or no room for a call), or is no longer an active agent.
	ErrTypeAgentUnavailable = "AgentUnavailable"
	// ErrTypeDoNotCall: the number is on the do-not-call list; the callback failed.
	ErrTypeDoNotCall = "DoNotCall"
)

// DefaultAgentRecheck is how long a self-callback past its time waits for its agent
// before it looks again by itself. The agent's becoming able to take the call wakes
// it at once (CallbackAgentReadySignal, sent by bulk assignment at login, on a status
// in the Available group and whenever the agent's slot frees); this safety net only
// covers a wake-up that never came.
const DefaultAgentRecheck = 10 * time.Minute

// maxCallbackRounds bounds the fires and actions of one run: a callback that waits
// long for its agent continues as new before its history grows large.
const maxCallbackRounds = 200

// CallbackInput starts the workflow of a scheduled callback.
type CallbackInput struct {
	// Callback is the callback as scheduled: tenant, ID, due time, target (self
	// with its agent, or the queue or campaign), normalised phone, customer,
	// notes, who scheduled it and when. Its status and counters are the
	// workflow's.
	Callback pgstore.Callback `json:"callback"`
	// AgentRecheck is how long a self-callback past its time waits for its agent
	// without a wake-up before it looks again; 0 is DefaultAgentRecheck.
	AgentRecheck time.Duration `json:"agentRecheck,omitempty"`
	// Carried is the callback as the previous run held it (continue-as-new); a new
	// callback has none.
	Carried *pgstore.Callback `json:"carried,omitempty"`
}

// RescheduleCallbackInput moves a callback to DueAt; Reason is kept in its history.
type RescheduleCallbackInput struct {
	Actor
	DueAt  time.Time `json:"dueAt"`
	Reason string    `json:"reason"`
}

// CancelCallbackInput deletes a callback; Reason is required and kept.
type CancelCallbackInput struct {
	Actor
	Reason string `json:"reason"`
}

// DialCallbackInput fires a callback now. An agent (Actor.AgentID) takes the call
// themselves, whatever their status; a supervisor's dial sends it where it would
// have gone at its time (its agent, or its queue).
type DialCallbackInput struct {
	Actor
}

// DisposalCallback is the callback a disposal with a callback code schedules.
type DisposalCallback struct {
	DueAt time.Time `json:"dueAt"`
	// SelfCallback offers it only to the interaction's agent.
	SelfCallback bool `json:"selfCallback,omitempty"`
	// Phone is the number to call; empty calls the interaction's customer number.
	Phone string `json:"phone,omitempty"`
	Notes string `json:"notes,omitempty"`
}

// Callback is the workflow of one scheduled callback. It writes the callback to the
// read model, waits for its time on a durable timer, then fires once: a number on
// the do-not-call list fails it (do_not_call); otherwise it starts the outbound call
// as an Interaction child workflow (abandoned when the callback completes, so the
// call outlives it) whose ID derives from the callback and its fire generation. A
// self-callback is offered only to its agent: at its time the agent's voice slot is
// reserved for the call when they are logged in, in an Available-group status and
// have room, and the call starts as theirs; until then it waits for the agent, woken
// by bulk assignment (which reserves the agent's voice slot for a waiting
// self-callback before any queued call) when the agent logs in, turns available or
// frees their slot; AgentRecheck is only a safety net. Any other callback is routed
// like an inbound interaction, outbound, to its queue or its campaign's default queue. Updates reschedule it (a new time
// and a reason, kept in its history), cancel it (a required reason) or dial it now;
// they are settled one at a time by the main loop and refused once it fired.
func Callback(ctx workflow.Context, in CallbackInput) (*pgstore.Callback, error) {
	w := &callbackRun{in: in}
	if err := w.setup(ctx); err != nil {
		return nil, err
	}
	return w.run(ctx)
}

type callbackRun struct {
	in CallbackInput
	st pgstore.Callback
	// recorded: the read model holds the callback.
	recorded bool
	// busy: the main loop is firing the callback; an action waits for it.
	busy bool
	// action is an update waiting for the main loop.
	action  *callbackAction
	rounds  int
	recheck time.Duration
	// ready receives the wake-ups of a self-callback's agent (CallbackAgentReadySignal).
	ready workflow.ReceiveChannel
}

// callbackAction is a reschedule, cancel or dial, settled by the main loop.
type callbackAction struct {
	reschedule *RescheduleCallbackInput
	cancel     *CancelCallbackInput
	dial       *DialCallbackInput
	done       bool
	err        error
}

func (w *callbackRun) setup(ctx workflow.Context) error {
	c := w.in.Callback
	if w.in.Carried != nil {
		c = *w.in.Carried
		w.recorded = true
	} else {
		c.Status, c.Version, c.Generation, c.Reschedules = pgstore.CallbackScheduled, 0, 0, 0
		c.InteractionID, c.FiredAt, c.Reason, c.ClosedBy, c.ClosedAt = "", nil, "", "", nil
	}
	c.WorkflowID = workflow.GetInfo(ctx).WorkflowExecution.ID
	if uuid.Validate(c.TenantID) != nil || uuid.Validate(c.ID) != nil || c.DueAt.IsZero() || c.CreatedAt.IsZero() ||
		(c.SelfCallback && c.AgentID == "") || c.Phone == "" {
		return temporal.NewNonRetryableApplicationError("a callback needs a tenant, an ID, its due and creation times, a phone number, and its agent when it is a self-callback", "InvalidInput", nil)
	}
	w.st = c
	w.recheck = w.in.AgentRecheck
	if w.recheck <= 0 {
		w.recheck = DefaultAgentRecheck
	}
	if err := workflow.SetQueryHandler(ctx, CallbackQuery, func() (pgstore.Callback, error) { return w.st, nil }); err != nil {
		return err
	}
	w.ready = workflow.GetSignalChannel(ctx, CallbackAgentReadySignal)
	handlers := []struct {
		name      string
		handler   any
		validator any
	}{
		{RescheduleCallbackUpdate, w.onReschedule, w.validateReschedule},
		{CancelCallbackUpdate, w.onCancel, w.validateCancel},
		{DialCallbackUpdate, w.onDial, func(in DialCallbackInput) error { return w.checkOpen(in.Actor) }},
		{CallbackRecordedUpdate, w.onRecorded, func(in Actor) error { return w.checkTenant(in) }},
	}
	for _, h := range handlers {
		if err := workflow.SetUpdateHandlerWithOptions(ctx, h.name, h.handler, workflow.UpdateHandlerOptions{Validator: h.validator}); err != nil {
			return err
		}
	}
	return nil
}

func (w *callbackRun) run(ctx workflow.Context) (*pgstore.Callback, error) {
	if !w.recorded {
		next := w.st
		next.Version++
		if err := w.write(ctx, next, pgstore.CallbackEvent{Type: pgstore.CallbackEventScheduled, ActorID: next.CreatedBy}); err != nil {
			return nil, err
		}
		w.recorded = true
		w.upsertStatus(ctx)
	}
	for w.st.Status == pgstore.CallbackScheduled {
		if w.action == nil {
			if w.rounds >= maxCallbackRounds || workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
				// Never while an update is being handled: it would be lost with this run.
				if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) || w.action != nil }); err != nil {
					return nil, err
				}
				if w.action == nil {
					in := w.in
					carried := w.st
					in.Carried = &carried
					return nil, workflow.NewContinueAsNewError(ctx, Callback, in)
				}
			}
			if wait := w.st.DueAt.Sub(workflow.Now(ctx)); wait > 0 {
				if _, err := workflow.AwaitWithTimeout(ctx, wait, func() bool { return w.action != nil }); err != nil {
					return nil, err
				}
			}
		}
		w.rounds++
		if a := w.action; a != nil {
			w.settle(ctx, a)
			continue
		}
		w.busy = true
		agent := ""
		if w.st.SelfCallback {
			agent = w.st.AgentID
		}
		for w.ready.ReceiveAsync(nil) {
			// This look covers every wake-up so far.
		}
		res, err := w.fire(ctx, agent, false, "")
		w.busy = false
		if err != nil {
			return nil, err
		}
		if res == fireWaiting {
			// The agent cannot take it yet: wait for the agent's wake-up (or an
			// action); the recheck is only a safety net.
			if _, err := workflow.AwaitWithTimeout(ctx, w.recheck, func() bool { return w.action != nil || w.ready.Len() > 0 }); err != nil {
				return nil, err
			}
		}
	}
	if a := w.action; a != nil && !a.done {
		a.done, a.err = true, w.closedError()
	}
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return nil, err
	}
	return &w.st, nil
}

// settle runs an action in the main loop.
func (w *callbackRun) settle(ctx workflow.Context, a *callbackAction) {
	defer func() { w.action, a.done = nil, true }()
	now := workflow.Now(ctx)
	switch {
	case a.reschedule != nil:
		in := a.reschedule
		if err := pgstore.ValidateCallbackDue("at", in.DueAt, now); err != nil {
			a.err = invalidCallback(err)
			return
		}
		next := w.st
		prev := next.DueAt
		next.DueAt, next.Reschedules = in.DueAt, next.Reschedules+1
		next.Version++
		a.err = w.write(ctx, next, pgstore.CallbackEvent{Type: pgstore.CallbackEventRescheduled, ActorID: in.ActorID,
			PreviousDueAt: &prev, Reason: strings.TrimSpace(in.Reason)})
	case a.cancel != nil:
		a.err = w.close(ctx, pgstore.CallbackCancelled, strings.TrimSpace(a.cancel.Reason), a.cancel.ActorID)
	case a.dial != nil:
		agent, anyStatus := a.dial.AgentID, a.dial.AgentID != ""
		if agent == "" && w.st.SelfCallback {
			agent = w.st.AgentID
		}
		res, err := w.fire(ctx, agent, anyStatus, a.dial.ActorID)
		switch {
		case err != nil:
			a.err = err
		case res == fireWaiting:
			a.err = temporal.NewNonRetryableApplicationError("the agent cannot take a call now (not logged in, not available, or no room for a call)", ErrTypeAgentUnavailable, nil)
		case res == fireDoNotCall:
			a.err = temporal.NewNonRetryableApplicationError("the number is on the do-not-call list: the callback failed", ErrTypeDoNotCall, nil)
		case res == fireAgentGone:
			a.err = temporal.NewNonRetryableApplicationError("the callback's agent is no longer an active agent: the callback failed", ErrTypeAgentUnavailable, nil)
		}
	}
	if a.err != nil {
		workflow.GetLogger(ctx).Info("callback action refused", "error", a.err)
	}
}

// fireResult is how a fire went.
type fireResult int

const (
	fireStarted fireResult = iota
	// fireWaiting: the agent cannot take the call now; nothing changed.
	fireWaiting
	fireDoNotCall
	fireAgentGone
)

// fire starts the callback's call: the number is checked against the do-not-call
// list, the agent's slot reserved (for agent; none routes it to the queue), the
// callback recorded as dialing, the interaction started as a child workflow that
// outlives the callback, and the callback recorded as completed.
func (w *callbackRun) fire(ctx workflow.Context, agent string, anyStatus bool, actor string) (fireResult, error) {
	gen := w.st.Generation + 1
	ixID := CallbackInteractionID(w.st.ID, gen)
	var v activities.CallbackVerdict
	err := workflow.ExecuteActivity(activityOptions(ctx), "CheckCallback", activities.CallbackCheck{
		Callback: w.st, AgentID: agent, AnyStatus: anyStatus, InteractionID: ixID,
	}).Get(ctx, &v)
	if err != nil {
		return 0, err
	}
	switch {
	case v.DoNotCall:
		return fireDoNotCall, w.close(ctx, pgstore.CallbackFailed, pgstore.CallbackReasonDoNotCall, actor)
	case v.AgentGone:
		return fireAgentGone, w.close(ctx, pgstore.CallbackFailed, pgstore.CallbackReasonAgentGone, actor)
	case !v.Ready:
		return fireWaiting, nil
	}
	now := workflow.Now(ctx)
	next := w.st
	next.Status, next.Generation, next.InteractionID, next.FiredAt = pgstore.CallbackDialing, gen, ixID, &now
	next.Version++
	if err := w.write(ctx, next, pgstore.CallbackEvent{Type: pgstore.CallbackEventDialing, ActorID: actor, InteractionID: ixID}); err != nil {
		return 0, err
	}
	if err := w.startInteraction(ctx, ixID, agent, v); err != nil {
		workflow.GetLogger(ctx).Error("callback interaction not started", "interaction", ixID, "error", err)
		return fireStarted, w.close(ctx, pgstore.CallbackFailed, "the call could not be started", actor)
	}
	next = w.st
	next.Status = pgstore.CallbackCompleted
	next.Version++
	return fireStarted, w.write(ctx, next, pgstore.CallbackEvent{Type: pgstore.CallbackEventCompleted, ActorID: actor, InteractionID: ixID})
}

// startInteraction starts the callback's outbound call as a child workflow with ID
// interaction/<id>, abandoned when the callback completes; for an agent it is theirs
// at once (their slot is reserved), else it is queued. A start found already made
// (the same ID) is the same call.
func (w *callbackRun) startInteraction(ctx workflow.Context, id, agent string, v activities.CallbackVerdict) error {
	now := workflow.Now(ctx)
	in := InteractionInput{
		TenantID: w.st.TenantID, ID: id, Channel: routing.Voice, Source: "call", Direction: pgstore.Outbound,
		To: w.st.Phone, CustomerPhone: w.st.Phone, Customer: w.st.Customer, CustomerName: w.st.CustomerName,
		QueueID: v.QueueID, Priority: routing.PriorityNormal, AgentID: agent, CampaignID: v.CampaignID,
		Metadata: map[string]string{"callbackId": w.st.ID}, CreatedAt: now,
	}
	if in.Customer == "" {
		in.Customer = w.st.Phone
	}
	attrs := []temporal.SearchAttributeUpdate{
		InteractionIDKey.ValueSet(id), TenantIDKey.ValueSet(in.TenantID), ChannelKey.ValueSet(string(in.Channel)),
		DirectionKey.ValueSet(string(in.Direction)), QueueIDKey.ValueSet(in.QueueID),
		StatusKey.ValueSet(string(pgstore.InteractionQueued)), CustomerPhoneKey.ValueSet(in.CustomerPhone),
	}
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:            InteractionWorkflowID(id),
		ParentClosePolicy:     enums.PARENT_CLOSE_POLICY_ABANDON,
		WorkflowIDReusePolicy: enums.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		TypedSearchAttributes: temporal.NewSearchAttributes(attrs...),
	})
	err := workflow.ExecuteChildWorkflow(cctx, Interaction, in).GetChildWorkflowExecution().Get(ctx, nil)
	if temporal.IsWorkflowExecutionAlreadyStartedError(err) {
		return nil
	}
	return err
}

// close ends the callback as cancelled or failed, with why and who.
func (w *callbackRun) close(ctx workflow.Context, status pgstore.CallbackStatus, reason, actor string) error {
	now := workflow.Now(ctx)
	next := w.st
	next.Status, next.Reason, next.ClosedBy, next.ClosedAt = status, reason, actor, &now
	next.Version++
	typ := pgstore.CallbackEventFailed
	if status == pgstore.CallbackCancelled {
		typ = pgstore.CallbackEventCancelled
	}
	return w.write(ctx, next, pgstore.CallbackEvent{Type: typ, ActorID: actor, Reason: reason})
}

// write records the next state with its history entry and takes it.
func (w *callbackRun) write(ctx workflow.Context, next pgstore.Callback, e pgstore.CallbackEvent) error {
	e.Version, e.DueAt = next.Version, next.DueAt
	if e.At.IsZero() {
		e.At = workflow.Now(ctx)
	}
	if err := workflow.ExecuteActivity(activityOptions(ctx), "RecordCallback", activities.CallbackWrite{State: next, Event: e}).Get(ctx, nil); err != nil {
		workflow.GetLogger(ctx).Error("callback not recorded", "version", next.Version, "error", err)
		return temporal.NewNonRetryableApplicationError("the callback could not be recorded", "CallbackNotRecorded", err)
	}
	changed := next.Status != w.st.Status
	w.st = next
	if changed {
		w.upsertStatus(ctx)
	}
	return nil
}

func (w *callbackRun) upsertStatus(ctx workflow.Context) {
	if err := workflow.UpsertTypedSearchAttributes(ctx, StatusKey.ValueSet(string(w.st.Status))); err != nil {
		workflow.GetLogger(ctx).Warn("search attributes not set", "error", err)
	}
}

func (w *callbackRun) checkTenant(a Actor) error {
	if a.TenantID != w.st.TenantID {
		return temporal.NewNonRetryableApplicationError("no such callback in this tenant", ErrTypeCallbackNotFound, nil)
	}
	return nil
}

// checkOpen admits an action of the tenant on a callback that has not fired; an
// agent acts only on a callback for them or scheduled by them.
func (w *callbackRun) checkOpen(a Actor) error {
	if err := w.checkTenant(a); err != nil {
		return err
	}
	if a.AgentID != "" && a.AgentID != w.st.AgentID && a.AgentID != w.st.CreatedBy {
		return temporal.NewNonRetryableApplicationError("agents act only on their own callbacks", ErrTypeNotYourCallback, nil)
	}
	if w.st.Status != pgstore.CallbackScheduled {
		return w.closedError()
	}
	return nil
}

func (w *callbackRun) closedError() error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf("the callback is already %s", w.st.Status), ErrTypeCallbackClosed, nil)
}

// invalidCallback refuses an update's input, naming the field of the validation error.
func invalidCallback(err error) error {
	var v *pgstore.ValidationError
	if errors.As(err, &v) {
		return temporal.NewNonRetryableApplicationError(v.Message, ErrTypeInvalidCallback, nil, v.Field)
	}
	return temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeInvalidCallback, nil)
}

func (w *callbackRun) validateReschedule(in RescheduleCallbackInput) error {
	if err := w.checkOpen(in.Actor); err != nil {
		return err
	}
	if in.DueAt.IsZero() {
		return invalidCallback(&pgstore.ValidationError{Field: "at", Message: "is required"})
	}
	if err := pgstore.ValidateCallbackReason("reason", in.Reason, true); err != nil {
		return invalidCallback(err)
	}
	return nil
}

func (w *callbackRun) validateCancel(in CancelCallbackInput) error {
	if err := w.checkOpen(in.Actor); err != nil {
		return err
	}
	if err := pgstore.ValidateCallbackReason("reason", in.Reason, true); err != nil {
		return invalidCallback(err)
	}
	return nil
}

// act hands an action to the main loop once it is its turn (one at a time, never
// during a fire), checking it again then, and answers the callback after it.
func (w *callbackRun) act(ctx workflow.Context, a *callbackAction, validate func() error) (*pgstore.Callback, error) {
	if err := workflow.Await(ctx, func() bool { return w.recorded && w.action == nil && !w.busy }); err != nil {
		return nil, err
	}
	if err := validate(); err != nil {
		return nil, err
	}
	w.action = a
	if err := workflow.Await(ctx, func() bool { return a.done }); err != nil {
		return nil, err
	}
	if a.err != nil {
		return nil, a.err
	}
	st := w.st
	return &st, nil
}

func (w *callbackRun) onReschedule(ctx workflow.Context, in RescheduleCallbackInput) (*pgstore.Callback, error) {
	return w.act(ctx, &callbackAction{reschedule: &in}, func() error { return w.validateReschedule(in) })
}

func (w *callbackRun) onCancel(ctx workflow.Context, in CancelCallbackInput) (*pgstore.Callback, error) {
	return w.act(ctx, &callbackAction{cancel: &in}, func() error { return w.validateCancel(in) })
}

func (w *callbackRun) onDial(ctx workflow.Context, in DialCallbackInput) (*pgstore.Callback, error) {
	return w.act(ctx, &callbackAction{dial: &in}, func() error { return w.checkOpen(in.Actor) })
}

func (w *callbackRun) onRecorded(ctx workflow.Context, in Actor) (*pgstore.Callback, error) {
	if err := workflow.Await(ctx, func() bool { return w.recorded }); err != nil {
		return nil, err
	}
	st := w.st
	return &st, nil
}

// callbackChange marks runs whose disposal may schedule a callback (a child
// workflow); runs before it never did, and replay the same.
const callbackChange = "disposal-callback"

// validateDisposalCallback checks the callback of a disposal: its time, and a number
// to call (given, or the interaction's customer number).
func (w *interaction) validateDisposalCallback(cb *DisposalCallback) error {
	if cb.DueAt.IsZero() {
		return invalidAction("callback.at", "is required: when to call back (callback.at or callback.in)")
	}
	phone := cb.Phone
	if phone == "" {
		phone = w.st.CustomerPhone
	}
	if strings.TrimSpace(phone) == "" {
		return invalidAction("callback.phone", "is required: the interaction has no customer phone number to call back")
	}
	if _, err := pgstore.NormalizePhone(phone); err != nil {
		return invalidAction("callback.phone", "%s", validationMessage(err))
	}
	if cb.SelfCallback && w.st.AgentID == "" {
		return invalidAction("callback.selfCallback", "the interaction has no agent to call back")
	}
	if err := pgstore.ValidateCallbackNotes("callback.notes", cb.Notes); err != nil {
		return invalidAction("callback.notes", "%s", validationMessage(err))
	}
	return nil
}

// validationMessage is what a validation error says, without its field.
func validationMessage(err error) string {
	var v *pgstore.ValidationError
	if errors.As(err, &v) {
		return v.Message
	}
	return err.Error()
}

// scheduleCallback starts the callback a disposal schedules, as a child workflow
// abandoned when the interaction's run ends (the callback outlives it), with the ID
// derived from the interaction: a start found already made is the same callback.
func (w *interaction) scheduleCallback(ctx workflow.Context, in DisposeInput, id string) {
	if workflow.GetVersion(ctx, callbackChange, workflow.DefaultVersion, 1) < 1 {
		return
	}
	cb := in.Callback
	phone := cb.Phone
	if phone == "" {
		phone = w.st.CustomerPhone
	}
	phone, _ = pgstore.NormalizePhone(phone) // checked by the validator
	c := pgstore.Callback{
		ID: id, TenantID: w.st.TenantID, DueAt: cb.DueAt, SelfCallback: cb.SelfCallback, CampaignID: w.st.CampaignID,
		Phone: phone, Customer: w.st.Customer, CustomerName: w.st.CustomerName, Notes: cb.Notes,
		CreatedBy: in.ActorID, SourceInteractionID: w.st.ID, CreatedAt: workflow.Now(ctx),
	}
	if cb.SelfCallback {
		c.AgentID = w.st.AgentID
	}
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:            CallbackWorkflowID(id),
		ParentClosePolicy:     enums.PARENT_CLOSE_POLICY_ABANDON,
		WorkflowIDReusePolicy: enums.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		TypedSearchAttributes: temporal.NewSearchAttributes(CallbackSearchAttributes(c)...),
	})
	err := workflow.ExecuteChildWorkflow(cctx, Callback, CallbackInput{Callback: c}).GetChildWorkflowExecution().Get(ctx, nil)
	if err != nil && !temporal.IsWorkflowExecutionAlreadyStartedError(err) {
		workflow.GetLogger(ctx).Error("callback not scheduled", "callback", id, "error", err)
	}
}

// CallbackSearchAttributes are the search attributes a callback's workflow starts
// with, so an engineer finds it in the Temporal UI by tenant, agent, status or phone.
func CallbackSearchAttributes(c pgstore.Callback) []temporal.SearchAttributeUpdate {
	attrs := []temporal.SearchAttributeUpdate{TenantIDKey.ValueSet(c.TenantID),
		StatusKey.ValueSet(string(pgstore.CallbackScheduled)), CustomerPhoneKey.ValueSet(c.Phone)}
	if c.AgentID != "" {
		attrs = append(attrs, AgentIDKey.ValueSet(c.AgentID))
	}
	return attrs
}
