package workflows

import (
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"switchboard/activities"
	"switchboard/events"
	"switchboard/pgstore"
	"switchboard/routing"
)

// AutomationUpdate is the change of a conversation an automation's action makes
// (activities.AutomationChange): its status to solved, closing it, a message to the
// customer, unassigning its agent, its priority, tags and form values. The change
// carries its cause (rule, run, depth) into the events it publishes, so it never
// triggers the rule that made it and the rules it triggers run one level deeper. It
// answers whether something changed, or why not (already solved, no agent).
const AutomationUpdate = activities.AutomationUpdate

func (w *interaction) registerAutomation(ctx workflow.Context) error {
	return workflow.SetUpdateHandlerWithOptions(ctx, AutomationUpdate, w.onAutomation,
		workflow.UpdateHandlerOptions{Validator: w.validateAutomation})
}

func (w *interaction) validateAutomation(in activities.AutomationChange) error {
	switch {
	case in.TenantID != w.st.TenantID:
		return notFound()
	case !w.lifecycle:
		return notAllowed("this interaction started before automations could change it")
	case w.st.Channel == routing.Voice:
		return notAllowed("automations change chat conversations, not calls")
	case !w.st.Status.Active() || w.end != nil:
		return notAllowed("the conversation is already %s", w.st.Status)
	case uuid.Validate(in.Cause.RuleID) != nil:
		return invalidAction("cause", "an automation's change names its rule")
	}
	switch in.Kind {
	case activities.ChangeStatus:
		if in.Status != pgstore.ConversationSolved {
			return invalidAction("status", "an automation sets the status solved")
		}
	case activities.ChangeMessage:
		if uuid.Validate(in.MessageID) != nil {
			return invalidAction("messageId", "must be a UUID")
		}
		if strings.TrimSpace(in.Body) == "" {
			return invalidAction("body", "a message needs a body")
		}
	case activities.ChangeTags:
		in := TagsInput{Actor: Actor{TenantID: in.TenantID}, Add: in.AddTags, Remove: in.RemoveTags}
		return w.validateTags(in)
	case activities.ChangeFormValues:
		return w.validateFormValues(FormValuesInput{Actor: Actor{TenantID: in.TenantID}, Values: in.FormValues})
	case activities.ChangePriority:
		if in.Priority == nil || !in.Priority.Valid() {
			return invalidAction("priority", "priority must be low, normal, high or urgent")
		}
	case activities.ChangeClose, activities.ChangeUnassign:
	default:
		return invalidAction("kind", "unknown change %q", in.Kind)
	}
	return nil
}

// onAutomation makes an automation's change under the lock, like an agent's action.
func (w *interaction) onAutomation(ctx workflow.Context, in activities.AutomationChange) (activities.AutomationChangeResult, error) {
	var res activities.AutomationChangeResult
	_, err := w.untilEnded(ctx)(w.act(ctx, func() error { return w.validateAutomation(in) }, func() error {
		cause := in.Cause
		w.cause = &cause
		switch in.Kind {
		case activities.ChangeStatus:
			if w.st.ConversationStatus == in.Status {
				res.Note = "the conversation is already " + string(in.Status)
				return nil
			}
			res.Changed = true
			return w.setConversationStatus(ctx, ConversationStatusInput{Actor: Actor{TenantID: in.TenantID}, Status: in.Status})
		case activities.ChangeClose:
			if err := w.checkForm(ctx, pgstore.ConversationClosed); err != nil {
				return err
			}
			res.Changed = true
			w.end = &EndInput{TenantID: in.TenantID, Reason: "closed by an automation"}
			return nil
		case activities.ChangeMessage:
			res.Changed = true
			return w.automationMessage(ctx, in)
		case activities.ChangeUnassign:
			if !w.st.Status.Held() {
				res.Note = "no agent holds the conversation"
				return nil
			}
			res.Changed = true
			return w.unassign(ctx)
		case activities.ChangeTags:
			changed, err := w.changeTags(ctx, TagsInput{Actor: Actor{TenantID: in.TenantID}, Add: in.AddTags, Remove: in.RemoveTags})
			if err == nil && !changed {
				res.Note = "the conversation's tags were already so"
			}
			res.Changed = changed
			return err
		case activities.ChangeFormValues:
			res.Changed = true
			return w.setFormValues(ctx, FormValuesInput{Actor: Actor{TenantID: in.TenantID}, Values: in.FormValues})
		case activities.ChangePriority:
			changed, err := w.changePriority(ctx, PriorityInput{Actor: Actor{TenantID: in.TenantID}, Priority: *in.Priority})
			if err == nil && !changed {
				res.Note = "the conversation already has this priority"
			}
			res.Changed = changed
			return err
		}
		return nil
	}))
	return res, err
}

// automationMessage sends the customer an automation's message over the
// conversation's channel and keeps it in the transcript as the system's.
func (w *interaction) automationMessage(ctx workflow.Context, in activities.AutomationChange) error {
	var res activities.MessageResult
	var a *activities.Activities
	opts := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second, MaximumAttempts: 5},
	})
	err := workflow.ExecuteActivity(opts, a.SendOutboundMessage, activities.OutboundMessage{
		TenantID: w.st.TenantID, InteractionID: w.st.ID, MessageID: in.MessageID, SenderKind: pgstore.SenderSystem,
		SenderID: "automation/" + in.Cause.RuleID, Body: in.Body, CreatedAt: workflow.Now(ctx),
	}).Get(ctx, &res)
	if err != nil {
		var app *temporal.ApplicationError
		if errors.As(err, &app) && (app.Type() == activities.ErrTypeMessageRejected || app.Type() == activities.ErrTypeInvalidMessage) {
			return temporal.NewNonRetryableApplicationError("the message was not sent: "+app.Error(), ErrTypeInvalidAction, nil, "body")
		}
		return err
	}
	detail := map[string]any{"messageId": in.MessageID, "seq": res.Seq, "status": string(res.Status), "senderKind": string(pgstore.SenderSystem)}
	return w.change(ctx, w.st.InteractionState, "", nil, pgstore.TimelineEvent{Type: "messageSent", Data: detail},
		activities.Publication{Type: events.MessageSent, Detail: detail})
}

// unassign takes the conversation from its agent: it is queued again in its queue,
// the agent excluded as one who already had it, and their slot freed.
func (w *interaction) unassign(ctx workflow.Context) error {
	from := w.st.AgentID
	next := w.st.InteractionState
	unhold(ctx, &next)
	next.Status, next.AgentID, next.ConnectedAt = pgstore.InteractionQueued, "", nil
	next.ExcludedAgents = append(slices.Clone(next.ExcludedAgents), from)
	next.QueuedAt = workflow.Now(ctx)
	detail := map[string]any{"from": from, "reason": "unassigned by an automation"}
	if err := w.change(ctx, next, "", nil, pgstore.TimelineEvent{Type: events.InteractionUnassigned, Data: detail},
		activities.Publication{Type: events.InteractionUnassigned, Agents: []string{from}, Detail: detail}); err != nil {
		return err
	}
	w.releaseSlot(ctx, from, pgstore.InteractionUpdate{TenantID: w.st.TenantID, InteractionID: w.st.ID, State: w.st.InteractionState},
		w.voiceStep(ctx, from, routing.VoiceIdle))
	w.upsert(ctx, StatusKey.ValueSet(string(pgstore.InteractionQueued)), AgentIDKey.ValueUnset())
	return nil
}
