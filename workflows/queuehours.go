package workflows

import (
	"strings"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"switchboard/activities"
	"switchboard/events"
	"switchboard/hours"
	"switchboard/pgstore"
)

// QueueHoursWorkflowID names the workflow that runs a queue's openings.
func QueueHoursWorkflowID(tenantID, queueID string) string {
	return "queue-hours/" + tenantID + "/" + queueID
}

// AwayMessageID is the ID of the away message of an interaction: one per
// interaction, so a retried send never sends a second.
func AwayMessageID(interactionID string) string {
	return uuid.NewSHA1(uuid.MustParse(interactionID), []byte("away-message")).String()
}

// Signal and query of the queue-hours workflow.
const (
	// QueueHoursChangedSignal tells it that the queue's working hours changed (the
	// period, or which period the queue has): it reads them again.
	QueueHoursChangedSignal = "hours-changed"
	// QueueHoursQuery answers the QueueHoursState.
	QueueHoursQuery = "state"
)

// OutsideHoursReason is the end reason of a conversation closed because it started
// outside its queue's working hours.
const OutsideHoursReason = "closed outside working hours"

// hoursChange marks runs that apply their queue's working hours at the start: runs
// started before never looked, and replay the same.
const hoursChange = "working-hours"

// openingGrace is how long after the opening an interaction that waited for it looks
// by itself: the queue's opening runs bulk assignment at the opening, which gives the
// queue's agents what waited in priority then age order, and wakes what it gave.
const openingGrace = 30 * time.Second

// openingRecheck is how often an interaction waiting for an opening that is not
// known (the period opens on no day ahead) looks again.
const openingRecheck = time.Hour

// maxQueueHoursRounds bounds the openings of one run of the queue-hours workflow
// (about one a day) before it continues as new.
const maxQueueHoursRounds = 100

// OutsideHours is the state of a new interaction's queue at its creation when it was
// closed (the API computes it from the queue's period; open queues send none).
type OutsideHours struct {
	// PeriodID is the queue's working-hours period.
	PeriodID string `json:"periodId"`
	// OpensAt is the period's next opening; nil when none is ahead.
	OpensAt *time.Time `json:"opensAt,omitempty"`
	// AwayMessage is sent to the customer over the conversation's channel; empty
	// sends nothing.
	AwayMessage string `json:"awayMessage,omitempty"`
	// Close closes the conversation once the away message went out, instead of
	// letting it wait for the opening.
	Close bool `json:"close,omitempty"`
}

// QueueHoursInput starts the queue-hours workflow of a queue.
type QueueHoursInput struct {
	TenantID string `json:"tenantId"`
	QueueID  string `json:"queueId"`
	// Openings counts the openings of the runs before (continue-as-new).
	Openings int `json:"openings,omitempty"`
}

// QueueHoursState is the query's answer.
type QueueHoursState struct {
	TenantID string `json:"tenantId"`
	QueueID  string `json:"queueId"`
	// PeriodID is the queue's period as last read; empty: none (always open).
	PeriodID string `json:"periodId,omitempty"`
	Open     bool   `json:"open"`
	// NextOpening is when the timer fires; nil when the queue opens on no day ahead.
	NextOpening *time.Time `json:"nextOpening,omitempty"`
	// Openings counts the openings run, and LastOpening is the last one.
	Openings    int        `json:"openings"`
	LastOpening *time.Time `json:"lastOpening,omitempty"`
}

// QueueHours runs the openings of one queue with working hours. It reads the
// queue's period, and while the queue is open it runs the opening (OpenQueue): the
// interactions that waited for it are released and bulk assignment runs for the
// queue's ready agents, who get what arrived while the queue was closed. Then it
// sleeps on a durable timer until the next opening the calendar gives and does it
// again, day after day. A change of the period or of the queue's period
// (QueueHoursChangedSignal) wakes it to read them again. It ends when the queue is
// gone or opens on no day ahead (always open, or every day switched off); the API
// and the first interaction that waits for an opening start it again
// (signal-with-start, or a start that finds it running). No polling: one timer and
// one short activity per opening.
func QueueHours(ctx workflow.Context, in QueueHoursInput) (*QueueHoursState, error) {
	if uuid.Validate(in.TenantID) != nil || uuid.Validate(in.QueueID) != nil {
		return nil, temporal.NewNonRetryableApplicationError("queue hours need a tenant and a queue ID", "InvalidInput", nil)
	}
	st := QueueHoursState{TenantID: in.TenantID, QueueID: in.QueueID, Openings: in.Openings}
	if err := workflow.SetQueryHandler(ctx, QueueHoursQuery, func() (QueueHoursState, error) { return st, nil }); err != nil {
		return nil, err
	}
	changed := workflow.GetSignalChannel(ctx, QueueHoursChangedSignal)
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second},
	})
	req := activities.QueueScheduleRequest{TenantID: in.TenantID, QueueID: in.QueueID}
	var a *activities.Activities
	for rounds := 0; ; rounds++ {
		for changed.ReceiveAsync(nil) {
		}
		var sched activities.QueueSchedule
		if err := workflow.ExecuteActivity(actx, a.GetQueueSchedule, req).Get(ctx, &sched); err != nil {
			return nil, err
		}
		if !sched.Exists {
			return &st, nil
		}
		now := workflow.Now(ctx)
		st.PeriodID, st.Open, st.NextOpening = sched.PeriodID, true, nil
		if sched.Period != nil {
			cal, err := hours.New(*sched.Period)
			if err != nil {
				// Only a time zone this machine does not know; the stored period was valid.
				return nil, temporal.NewNonRetryableApplicationError("the queue's working hours cannot be read: "+err.Error(), "InvalidHours", nil)
			}
			st.Open = cal.Open(now)
			if next, ok := cal.NextOpening(now); ok {
				st.NextOpening = &next
			}
		}
		if st.Open {
			var res activities.OpenQueueResult
			if err := workflow.ExecuteActivity(actx, a.OpenQueue, req).Get(ctx, &res); err != nil {
				return nil, err
			}
			st.Openings++
			st.LastOpening = &now
			workflow.GetLogger(ctx).Info("queue opened", "released", res.Released, "woken", len(res.Woken))
		}
		if st.NextOpening == nil {
			return &st, nil
		}
		if (rounds >= maxQueueHoursRounds || workflow.GetInfo(ctx).GetContinueAsNewSuggested()) && changed.Len() == 0 {
			next := in
			next.Openings = st.Openings
			return nil, workflow.NewContinueAsNewError(ctx, QueueHours, next)
		}
		tctx, cancel := workflow.WithCancel(ctx)
		timer := workflow.NewTimer(tctx, max(st.NextOpening.Sub(now), time.Millisecond))
		sel := workflow.NewSelector(ctx)
		sel.AddFuture(timer, func(workflow.Future) {})
		// The signal is taken at the top of the loop.
		sel.AddReceive(changed, func(workflow.ReceiveChannel, bool) {})
		sel.Select(ctx)
		cancel()
	}
}

// outsideHours handles a new conversation that starts while its queue is closed
// (OutsideHours): it is written to the read model, the customer gets the away
// message over the conversation's channel, and then it is closed at once when the
// period says so, or else it waits for the opening without being offered.
func (w *interaction) outsideHours(ctx workflow.Context) error {
	oh := w.in.OutsideHours
	if err := w.lock(ctx); err != nil {
		return err
	}
	var res activities.AfterHoursResult
	err := w.call(ctx, "EnterAfterHours", activities.AfterHoursRequest{Interaction: w.st.Interaction, Wait: !oh.Close, OpensAt: oh.OpensAt}).Get(ctx, &res)
	if err != nil {
		w.unlock()
		workflow.GetLogger(ctx).Error("interaction outside working hours not written; it is assigned as usual", "error", err)
		return nil
	}
	w.enqueued = true
	if res.QueueID != "" && res.QueueID != w.st.QueueID {
		// The routed queue was deleted before the interaction was written.
		w.st.QueueID = res.QueueID
		w.upsert(ctx, QueueIDKey.ValueSet(res.QueueID))
	}
	if strings.TrimSpace(oh.AwayMessage) != "" && w.end == nil {
		w.sendAwayMessage(ctx, oh.AwayMessage)
	}
	w.unlock()
	if oh.Close {
		if w.end == nil {
			w.end = &EndInput{TenantID: w.st.TenantID, Reason: OutsideHoursReason}
		}
		return nil
	}
	if !res.Waiting {
		return nil
	}
	return w.awaitOpening(ctx, oh.OpensAt)
}

// sendAwayMessage sends the away message as the system, over the channel the
// customer used, and keeps it in the transcript and the timeline. A message the
// channel refuses (no sender for the channel…) is noted in the timeline; the
// conversation goes on.
func (w *interaction) sendAwayMessage(ctx workflow.Context, body string) {
	var a *activities.Activities
	opts := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second, MaximumAttempts: 5},
	})
	id := AwayMessageID(w.st.ID)
	var res activities.MessageResult
	err := workflow.ExecuteActivity(opts, a.SendOutboundMessage, activities.OutboundMessage{
		TenantID: w.st.TenantID, InteractionID: w.st.ID, MessageID: id, SenderKind: pgstore.SenderSystem,
		Body: body, CreatedAt: workflow.Now(ctx),
	}).Get(ctx, &res)
	if err != nil {
		workflow.GetLogger(ctx).Warn("away message not sent", "error", err)
		detail := map[string]any{"messageId": id, "error": err.Error()}
		if err := w.change(ctx, w.st.InteractionState, "", nil, pgstore.TimelineEvent{Type: "awayMessageNotSent", Data: detail}); err != nil {
			workflow.GetLogger(ctx).Error("away message failure not recorded", "error", err)
		}
		return
	}
	w.slaReply(ctx, SLAEventInput{}, true)
	detail := map[string]any{"messageId": id, "seq": res.Seq, "status": string(res.Status), "awayMessage": true}
	if err := w.change(ctx, w.st.InteractionState, "", nil, pgstore.TimelineEvent{Type: "messageSent", Data: detail},
		activities.Publication{Type: events.MessageSent, Detail: detail}); err != nil {
		workflow.GetLogger(ctx).Error("away message not recorded", "error", err)
	}
}

// awaitOpening waits, without offers, for the opening of the queue: the queue's
// opening wakes it with the agent bulk assignment reserved for it, or, when it gave
// it nobody, the interaction looks by itself shortly after the opening, by the
// period as it is then (the period may have changed), and waits again while the
// queue is still closed. An end or a queue change ends the wait at once.
func (w *interaction) awaitOpening(ctx workflow.Context, opensAt *time.Time) error {
	w.armOpening(ctx)
	req := activities.OpeningRequest{TenantID: w.st.TenantID, InteractionID: w.st.ID, QueueID: w.st.QueueID}
	retry := false
	for {
		wait := openingRecheck
		switch {
		case retry:
			wait = assignRecheck
		case opensAt != nil:
			wait = max(opensAt.Sub(workflow.Now(ctx)), 0) + openingGrace
		}
		done, err := workflow.AwaitWithTimeout(ctx, wait, func() bool { return w.wake.Len() > 0 || w.end != nil || w.move != nil })
		if err != nil {
			return err
		}
		if done {
			// Woken by the opening (which released the wait already), ending or
			// moving: the wait is over either way.
			if err := w.call(ctx, "LeaveOpeningWait", req).Get(ctx, nil); err != nil {
				workflow.GetLogger(ctx).Error("opening wait not ended", "error", err)
			}
			return nil
		}
		var v activities.OpeningVerdict
		if err := w.call(ctx, "CheckOpening", req).Get(ctx, &v); err != nil {
			workflow.GetLogger(ctx).Error("opening not checked", "error", err)
			retry = true
			continue
		}
		if v.Open {
			return nil
		}
		opensAt, retry = v.OpensAt, false
	}
}

// armOpening makes sure the queue's opening will run: it starts the queue's
// queue-hours workflow, which outlives this interaction, unless it runs already.
func (w *interaction) armOpening(ctx workflow.Context) {
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:            QueueHoursWorkflowID(w.st.TenantID, w.st.QueueID),
		ParentClosePolicy:     enums.PARENT_CLOSE_POLICY_ABANDON,
		WorkflowIDReusePolicy: enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		TypedSearchAttributes: temporal.NewSearchAttributes(TenantIDKey.ValueSet(w.st.TenantID), QueueIDKey.ValueSet(w.st.QueueID)),
	})
	err := workflow.ExecuteChildWorkflow(cctx, QueueHours, QueueHoursInput{TenantID: w.st.TenantID, QueueID: w.st.QueueID}).
		GetChildWorkflowExecution().Get(ctx, nil)
	if err != nil && !temporal.IsWorkflowExecutionAlreadyStartedError(err) {
		workflow.GetLogger(ctx).Error("queue opening not armed; the interaction looks by itself at the opening", "error", err)
	}
}
