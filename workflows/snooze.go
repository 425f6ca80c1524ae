package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"

	"switchboard/activities"
	"switchboard/events"
	"switchboard/pgstore"
	"switchboard/routing"
)

// Updates of a digital conversation's snooze.
const (
	// SnoozeUpdate sets the conversation aside until a time (SnoozeInput), when it
	// opens again by itself; snoozing a snoozed conversation moves its time.
	SnoozeUpdate = "snooze"
	// UnsnoozeUpdate opens a snoozed conversation before its time (UnsnoozeInput).
	UnsnoozeUpdate = "unsnooze"
)

// MaxSnooze bounds how far ahead a conversation may be snoozed.
const MaxSnooze = 365 * 24 * time.Hour

// snoozeClockSlack is how far a snooze's time may pass MaxSnooze by the workflow's
// clock, which is a little behind the caller's that bounded it.
const snoozeClockSlack = time.Minute

// snoozeChange marks runs that snooze their conversation: the snooze's timer, and
// the wake-ups of a snoozed conversation (its time, an unsnooze, a customer's
// message). Runs recorded before never snoozed and replay the same.
const snoozeChange = "conversation-snooze"

// Why a snoozed conversation opened again, as its timeline and events say.
const (
	SnoozeEndedByTime     = "snoozeExpired"
	SnoozeEndedByUnsnooze = "unsnoozed"
	SnoozeEndedByMessage  = "customerMessage"
)

// SnoozeInput snoozes a digital conversation until Until.
type SnoozeInput struct {
	Actor
	Until time.Time `json:"until"`
}

// UnsnoozeInput opens a snoozed conversation now.
type UnsnoozeInput struct {
	Actor
}

// snoozeTimer is what the interaction keeps of its snooze's timer.
type snoozeTimer struct {
	// seq numbers the snoozes of this run: a snooze's timer stands only while it
	// is the latest.
	seq int
}

// registerSnooze adds the snooze's updates and, for a run continued as new while
// snoozed, arms its timer again. It runs once the lifecycle's root context is set.
func (w *interaction) registerSnooze(ctx workflow.Context) error {
	if err := workflow.SetUpdateHandlerWithOptions(ctx, SnoozeUpdate, w.onSnooze,
		workflow.UpdateHandlerOptions{Validator: w.validateSnooze}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UnsnoozeUpdate, w.onUnsnooze,
		workflow.UpdateHandlerOptions{Validator: w.validateUnsnooze}); err != nil {
		return err
	}
	if u := w.st.SnoozedUntil; u != nil && w.st.ConversationStatus == pgstore.ConversationSnoozed && w.snoozes(ctx) {
		w.armSnooze(*u)
	}
	return nil
}

// snoozes reports whether this run may snooze (see snoozeChange).
func (w *interaction) snoozes(ctx workflow.Context) bool {
	return workflow.GetVersion(ctx, snoozeChange, workflow.DefaultVersion, 1) >= 1
}

// validateSnooze admits a snooze of a digital conversation an agent holds, until a
// time after now and at most MaxSnooze ahead; an agent snoozes only their own.
func (w *interaction) validateSnooze(in SnoozeInput) error {
	if err := w.checkHeld(in.Actor, "a snooze"); err != nil {
		return err
	}
	now := workflow.Now(w.root)
	switch {
	case w.st.Channel == routing.Voice:
		return notAllowed("calls cannot be snoozed: only digital conversations")
	case in.Until.IsZero():
		return invalidAction("until", "is required: when the conversation opens again")
	case !in.Until.After(now):
		return invalidAction("until", "must be in the future")
	case in.Until.After(now.Add(MaxSnooze + snoozeClockSlack)):
		return invalidAction("until", "must be at most %d days ahead", int(MaxSnooze/(24*time.Hour)))
	}
	return nil
}

// onSnooze snoozes the conversation (or moves a snooze's time) and arms the timer
// that opens it again; the timer of an earlier snooze stands down.
func (w *interaction) onSnooze(ctx workflow.Context, in SnoozeInput) (*InteractionState, error) {
	return w.act(ctx, func() error { return w.validateSnooze(in) }, func() error {
		if !w.snoozes(ctx) {
			return notAllowed("this conversation started before snoozing was possible")
		}
		until := in.Until.UTC()
		next := w.st.InteractionState
		detail := map[string]any{"from": string(next.ConversationStatus), "to": string(pgstore.ConversationSnoozed),
			"snoozedUntil": until.Format(time.RFC3339Nano)}
		if prev := next.SnoozedUntil; prev != nil {
			detail["previousSnoozedUntil"] = prev.UTC().Format(time.RFC3339Nano)
		}
		next.ConversationStatus, next.SnoozedUntil = pgstore.ConversationSnoozed, &until
		if err := w.change(ctx, next, in.ActorID, nil, pgstore.TimelineEvent{Type: events.ConversationStatusChanged, Data: detail},
			activities.Publication{Type: events.ConversationStatusChanged, Agents: []string{next.AgentID, next.OfferedAgentID}, Detail: detail}); err != nil {
			return err
		}
		w.armSnooze(until)
		return nil
	})
}

// armSnooze starts the durable timer of the snooze until until. It stands down (the
// timer cancelled) as soon as the conversation is no longer snoozed (unsnoozed, a
// customer's message, a status change, the end) or a later snooze replaces it; when
// it fires first, the conversation opens again.
func (w *interaction) armSnooze(until time.Time) {
	if w.snooze == nil {
		w.snooze = &snoozeTimer{}
	}
	w.snooze.seq++
	seq := w.snooze.seq
	over := func() bool {
		return w.snooze.seq != seq || w.st.ConversationStatus != pgstore.ConversationSnoozed || !w.st.Status.Active()
	}
	workflow.Go(w.root, func(ctx workflow.Context) {
		for {
			if d := until.Sub(workflow.Now(ctx)); d > 0 {
				tctx, cancel := workflow.WithCancel(ctx)
				timer := workflow.NewTimer(tctx, d)
				err := workflow.Await(ctx, func() bool { return timer.IsReady() || over() })
				cancel()
				if err != nil || over() {
					return
				}
			}
			if err := w.lock(ctx); err != nil {
				return
			}
			if over() {
				w.unlock()
				return
			}
			err := w.openSnoozed(ctx, SnoozeEndedByTime, "")
			w.unlock()
			if err == nil {
				return
			}
			workflow.GetLogger(ctx).Error("snoozed conversation not opened", "error", err)
			// Try again shortly rather than leave it snoozed past its time.
			if err := workflow.Sleep(ctx, 10*time.Second); err != nil {
				return
			}
		}
	})
}

// openSnoozed opens the snoozed conversation, for reason, by actor (none: by itself).
func (w *interaction) openSnoozed(ctx workflow.Context, reason, actor string) error {
	next := w.st.InteractionState
	detail := snoozeEnd(&next, reason)
	return w.change(ctx, next, actor, nil, pgstore.TimelineEvent{Type: events.ConversationStatusChanged, Data: detail},
		activities.Publication{Type: events.ConversationStatusChanged, Agents: []string{next.AgentID, next.OfferedAgentID}, Detail: detail})
}

// snoozeEnd opens the snoozed conversation of st and describes the change.
func snoozeEnd(st *pgstore.InteractionState, reason string) map[string]any {
	detail := map[string]any{"from": string(pgstore.ConversationSnoozed), "to": string(pgstore.ConversationOpen), "reason": reason}
	if u := st.SnoozedUntil; u != nil {
		detail["snoozedUntil"] = u.UTC().Format(time.RFC3339Nano)
	}
	st.ConversationStatus, st.SnoozedUntil = pgstore.ConversationOpen, nil
	return detail
}

// wakeByMessage opens a snoozed conversation the customer wrote to: the message's
// entry and event are followed by the status change's.
func (w *interaction) wakeByMessage(ctx workflow.Context, next *pgstore.InteractionState, messageID string, at time.Time,
	tl []pgstore.TimelineEvent, pubs []activities.Publication) ([]pgstore.TimelineEvent, []activities.Publication) {
	if !w.snoozes(ctx) {
		return tl, pubs
	}
	detail := snoozeEnd(next, SnoozeEndedByMessage)
	detail["messageId"] = messageID
	return append(tl, pgstore.TimelineEvent{Type: events.ConversationStatusChanged, At: at, Data: detail}),
		append(pubs, activities.Publication{Type: events.ConversationStatusChanged, Agents: []string{next.AgentID, next.OfferedAgentID}, Detail: detail})
}

// validateUnsnooze admits an unsnooze of a snoozed conversation that is not over;
// an agent unsnoozes only their own.
func (w *interaction) validateUnsnooze(in UnsnoozeInput) error {
	if err := w.checkActor(in.Actor); err != nil {
		return err
	}
	switch {
	case !w.lifecycle || w.st.Channel == routing.Voice:
		return notAllowed("only digital conversations are snoozed")
	case !w.st.Status.Active() || w.end != nil:
		return notAllowed("the conversation is already %s", w.st.Status)
	case w.st.ConversationStatus != pgstore.ConversationSnoozed:
		return notAllowed("the conversation is not snoozed; it is %s", w.st.ConversationStatus)
	}
	return nil
}

// onUnsnooze opens the snoozed conversation now; its timer stands down.
func (w *interaction) onUnsnooze(ctx workflow.Context, in UnsnoozeInput) (*InteractionState, error) {
	return w.act(ctx, func() error { return w.validateUnsnooze(in) }, func() error {
		return w.openSnoozed(ctx, SnoozeEndedByUnsnooze, in.ActorID)
	})
}
