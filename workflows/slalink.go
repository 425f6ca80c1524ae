package workflows

import (
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"switchboard/pgstore"
	"switchboard/routing"
	"switchboard/sla"
)

// slaChange marks runs of digital conversations that run an SLA clock: runs
// recorded before never started one, and replay the same.
const slaChange = "sla-clock"

// SLALink is what an interaction told its conversation's SLA clock; a run that
// continues as new hands it on.
type SLALink struct {
	// Started: the clock runs (the customer wrote).
	Started bool `json:"started,omitempty"`
	// Seq numbers the events told.
	Seq int64 `json:"seq,omitempty"`
	// Status and QueueID are the last ones told.
	Status  sla.Status `json:"status,omitempty"`
	QueueID string     `json:"queueId,omitempty"`
	// Closed: the clock was told the conversation closed; nothing more is told.
	Closed bool `json:"closed,omitempty"`
}

// setupSLA decides whether this run feeds an SLA clock: digital conversations of
// runs that keep the lifecycle, from this change on.
func (w *interaction) setupSLA(ctx workflow.Context) {
	if !w.lifecycle || w.st.Channel == routing.Voice || workflow.GetVersion(ctx, slaChange, workflow.DefaultVersion, 1) < 1 {
		return
	}
	w.sla = &SLALink{}
	if c := w.in.Carried; c != nil && c.SLA != nil {
		link := *c.SLA
		w.sla = &link
	}
}

// slaStatus is the SLA's view of a conversation status: snoozed counts as waiting
// (the clocks run), and only Solved pauses them.
func slaStatus(s pgstore.ConversationStatus) sla.Status {
	switch s {
	case pgstore.ConversationSolved:
		return sla.Solved
	case pgstore.ConversationClosed:
		return sla.Closed
	case pgstore.ConversationWaiting, pgstore.ConversationSnoozed:
		return sla.Waiting
	}
	return sla.Open
}

// slaCustomer tells the clock of a customer's message at at; the first one starts
// the clock as a child workflow that outlives this run (abandoned when the run
// closes, so that the interaction's continue-as-new keeps it).
func (w *interaction) slaCustomer(ctx workflow.Context, e SLAEventInput) {
	l := w.sla
	if l == nil || l.Closed {
		return
	}
	e.Kind = sla.CustomerMessage
	if l.Started {
		w.slaSend(ctx, e)
		return
	}
	l.Seq++
	e.Seq = l.Seq
	in := SLAClockInput{
		TenantID: w.st.TenantID, InteractionID: w.st.ID, QueueID: w.st.QueueID, StartedAt: e.At,
		Events: []SLAEventInput{e},
	}
	if w.in.Facts != nil {
		in.Facts = *w.in.Facts
	} else {
		in.Facts = routing.Facts{Channel: w.st.Channel, Source: w.st.Source, From: w.st.From, To: w.st.To, Tags: w.st.Tags}
	}
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:        SLAClockWorkflowID(w.st.ID),
		ParentClosePolicy: enums.PARENT_CLOSE_POLICY_ABANDON,
		TypedSearchAttributes: temporal.NewSearchAttributes(InteractionIDKey.ValueSet(w.st.ID), TenantIDKey.ValueSet(w.st.TenantID),
			ChannelKey.ValueSet(string(w.st.Channel)), QueueIDKey.ValueSet(w.st.QueueID)),
	})
	err := workflow.ExecuteChildWorkflow(cctx, SLAClock, in).GetChildWorkflowExecution().Get(ctx, nil)
	if err != nil && !temporal.IsWorkflowExecutionAlreadyStartedError(err) {
		workflow.GetLogger(ctx).Error("SLA clock not started; the next customer message tries again", "error", err)
		return
	}
	l.Started, l.Status, l.QueueID = true, sla.Open, w.st.QueueID
	if err != nil {
		w.slaSend(ctx, e) // it ran already: this message is an event of it
	}
}

// slaReply tells the clock of a message sent to the customer at at: by an agent,
// or automated (a waiting strategy's or an away message).
func (w *interaction) slaReply(ctx workflow.Context, e SLAEventInput, automated bool) {
	e.Kind, e.Automated = sla.AgentReply, automated
	w.slaSend(ctx, e)
}

// slaSync tells the clock what changed of the conversation since it was last told:
// its queue, its status, and its close (the interaction is over). It runs each time
// a change of the interaction's state lets go of the lock.
func (w *interaction) slaSync() {
	l := w.sla
	if l == nil || !l.Started || l.Closed || w.root == nil {
		return
	}
	ctx := w.root
	now := workflow.Now(ctx)
	if w.st.QueueID != l.QueueID {
		l.QueueID = w.st.QueueID
		w.slaSend(ctx, SLAEventInput{At: now, QueueID: w.st.QueueID})
	}
	status := slaStatus(w.st.ConversationStatus)
	if !w.st.Status.Active() {
		status = sla.Closed
	}
	if status != l.Status {
		l.Status = status
		w.slaSend(ctx, SLAEventInput{At: now, Kind: sla.StatusChange, Status: status})
	}
}

// slaSend signals the clock without waiting: the clock orders events by instant
// and Seq, so signals may arrive in any order.
func (w *interaction) slaSend(ctx workflow.Context, e SLAEventInput) {
	l := w.sla
	if l == nil || !l.Started || l.Closed {
		return
	}
	if e.At.IsZero() {
		e.At = workflow.Now(ctx)
	}
	l.Seq++
	e.Seq = l.Seq
	if e.Kind == sla.StatusChange && e.Status == sla.Closed {
		l.Closed = true
	}
	workflow.SignalExternalWorkflow(ctx, SLAClockWorkflowID(w.st.ID), "", SLAEventSignal, e)
}
