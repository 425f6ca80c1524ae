package workflows

import (
	"fmt"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"switchboard/activities"
	"switchboard/events"
	"switchboard/pgstore"
	"switchboard/routing"
)

// waitingChange marks runs that run their sender's waiting strategy while the
// conversation waits unassigned: runs started before did not, and replay the same.
const waitingChange = "messaging-waiting-strategy"

// MaxWaitReason is the end reason of a conversation closed by its waiting strategy's
// maximum wait: it ends abandoned, its conversation closed, never offered again.
const MaxWaitReason = "closed after the maximum wait in the queue"

// Kinds of the waiting strategy's messages, in the timeline's messageSent entries.
const (
	WaitingWelcome      = "welcome"
	WaitingAnnouncement = "announcement"
	WaitingMaxWait      = "maxWait"
)

// WaitingMessageID is the ID of one message of an interaction's waiting strategy (n
// numbers the announcements from 1): a retried or re-run send never sends a second.
func WaitingMessageID(interactionID, kind string, n int) string {
	return uuid.NewSHA1(uuid.MustParse(interactionID), fmt.Appendf(nil, "waiting-%s-%d", kind, n)).String()
}

// WaitingProgress is how far a conversation is in its waiting strategy; a run that
// continues as new hands it on.
type WaitingProgress struct {
	// Since is when the conversation first waited in the queue with nobody to
	// take it: the strategy's clock. Zero until then.
	Since    time.Time `json:"since,omitzero"`
	Welcomed bool      `json:"welcomed,omitempty"`
	// Announced is how many announcements were sent.
	Announced int `json:"announced,omitempty"`
	// Over: the strategy ended (assigned, ended, closed, or all sent).
	Over bool `json:"over,omitempty"`
}

// waitingStep is the next message of a waiting strategy: its kind, its number (for
// announcements), and when it is due after entering the queue.
type waitingStep struct {
	kind string
	n    int
	at   time.Duration
	body string
}

// nextWaitingStep answers the strategy's next message after progress p; ok is false
// once nothing more is to be sent. The welcome comes first; announcements follow
// every interval, up to their count and never past one hour of waiting; the maximum
// wait comes last and wins a tie with an announcement, since it closes the
// conversation.
func nextWaitingStep(s pgstore.WaitingStrategySettings, p WaitingProgress) (waitingStep, bool) {
	if p.Over {
		return waitingStep{}, false
	}
	if s.WelcomeEnabled && !p.Welcomed {
		return waitingStep{kind: WaitingWelcome, n: 1, body: s.WelcomeMessage}, true
	}
	var next *waitingStep
	if s.AnnouncementEnabled && s.AnnouncementIntervalMinutes > 0 {
		interval := time.Duration(s.AnnouncementIntervalMinutes) * time.Minute
		interval = max(interval, pgstore.MinAnnouncementInterval)
		limit := min(int(pgstore.WaitingHorizon/interval), pgstore.MaxAnnouncements)
		if s.AnnouncementCount > 0 {
			limit = min(limit, s.AnnouncementCount)
		}
		if k := p.Announced + 1; k <= limit {
			next = &waitingStep{kind: WaitingAnnouncement, n: k, at: time.Duration(k) * interval, body: s.AnnouncementMessage}
		}
	}
	if s.MaxWaitEnabled && s.MaxWaitMinutes > 0 {
		at := min(time.Duration(s.MaxWaitMinutes)*time.Minute, pgstore.MaxWaitLimit)
		if next == nil || at <= next.at {
			next = &waitingStep{kind: WaitingMaxWait, n: 1, at: at, body: s.MaxWaitMessage}
		}
	}
	if next == nil {
		return waitingStep{}, false
	}
	return *next, true
}

// startWaiting starts the conversation's waiting strategy beside the assignment (see
// runWaiting for when its clock starts): a
// new inbound conversation (or one carried over by continue-as-new whose strategy
// is not over) whose sender has a strategy and whose queue was open when it came.
func (w *interaction) startWaiting(ctx workflow.Context) {
	in := w.in
	if in.Waiting == nil || in.OutsideHours != nil || in.AgentID != "" || w.st.Direction != pgstore.Inbound || w.st.Channel == routing.Voice {
		return
	}
	var p WaitingProgress
	if in.Carried != nil {
		if in.Carried.Waiting == nil {
			return
		}
		p = *in.Carried.Waiting
	}
	if p.Over || workflow.GetVersion(ctx, waitingChange, workflow.DefaultVersion, 1) < 1 {
		return
	}
	w.waiting = &p
	workflow.Go(ctx, w.runWaiting)
}

// unassigned: the conversation still waits for an agent (queued, or ringing on one
// who has not accepted yet) and is not ending.
func (w *interaction) unassigned() bool {
	return (w.st.Status == pgstore.InteractionQueued || w.st.Status == pgstore.InteractionOffered) && w.end == nil
}

// runWaiting sends the strategy's messages on durable timers while the conversation
// waits unassigned. It ends for good when an agent takes the conversation, when it
// ends, after the maximum wait (which closes it), or once everything was sent: after
// an hour without a maximum wait the conversation stays open and hears nothing more.
func (w *interaction) runWaiting(ctx workflow.Context) {
	p := w.waiting
	defer func() { p.Over = true }()
	s := *w.in.Waiting
	// The strategy starts when the conversation is left unassigned: automatic
	// assignment found nobody to offer it to (or the queue does not assign), and no
	// offer rings. An offer the agent accepts at once leaves nothing to send. Its
	// first look also writes the interaction, which the transcript needs.
	if err := workflow.Await(ctx, func() bool {
		return (w.enqueued && w.st.Status == pgstore.InteractionQueued && !w.offering) || !w.unassigned()
	}); err != nil {
		return
	}
	if p.Since.IsZero() {
		p.Since = workflow.Now(ctx)
	}
	for {
		step, ok := nextWaitingStep(s, *p)
		if !ok || !w.unassigned() {
			return
		}
		if d := p.Since.Add(step.at).Sub(workflow.Now(ctx)); d > 0 {
			stopped, err := workflow.AwaitWithTimeout(ctx, d, func() bool { return !w.unassigned() })
			if err != nil || stopped {
				return
			}
		}
		if err := w.lock(ctx); err != nil {
			return
		}
		if !w.unassigned() {
			w.unlock()
			return
		}
		w.sendWaitingMessage(ctx, step)
		switch step.kind {
		case WaitingWelcome:
			p.Welcomed = true
		case WaitingAnnouncement:
			p.Announced = step.n
		case WaitingMaxWait:
			// The main loop closes it: abandoned, the conversation closed.
			w.end = &EndInput{TenantID: w.st.TenantID, Reason: MaxWaitReason}
		}
		w.unlock()
	}
}

// sendWaitingMessage sends one message of the strategy as the system over the
// channel the customer used, kept in the transcript and the timeline. A message the
// channel refuses is noted in the timeline; the strategy goes on.
func (w *interaction) sendWaitingMessage(ctx workflow.Context, step waitingStep) {
	var a *activities.Activities
	opts := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second, MaximumAttempts: 5},
	})
	id := WaitingMessageID(w.st.ID, step.kind, step.n)
	var res activities.MessageResult
	err := workflow.ExecuteActivity(opts, a.SendOutboundMessage, activities.OutboundMessage{
		TenantID: w.st.TenantID, InteractionID: w.st.ID, MessageID: id, SenderKind: pgstore.SenderSystem,
		Body: step.body, CreatedAt: workflow.Now(ctx),
	}).Get(ctx, &res)
	if err != nil {
		workflow.GetLogger(ctx).Warn("waiting strategy message not sent", "kind", step.kind, "error", err)
		detail := map[string]any{"messageId": id, "waitingStrategy": step.kind, "error": err.Error()}
		if err := w.change(ctx, w.st.InteractionState, "", nil, pgstore.TimelineEvent{Type: "waitingMessageNotSent", Data: detail}); err != nil {
			workflow.GetLogger(ctx).Error("waiting strategy failure not recorded", "error", err)
		}
		return
	}
	w.slaReply(ctx, SLAEventInput{}, true)
	detail := map[string]any{"messageId": id, "seq": res.Seq, "status": string(res.Status), "waitingStrategy": step.kind}
	if step.kind == WaitingAnnouncement {
		detail["announcement"] = step.n
	}
	if err := w.change(ctx, w.st.InteractionState, "", nil, pgstore.TimelineEvent{Type: "messageSent", Data: detail},
		activities.Publication{Type: events.MessageSent, Detail: detail}); err != nil {
		workflow.GetLogger(ctx).Error("waiting strategy message not recorded", "error", err)
	}
}
