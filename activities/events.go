package activities

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"switchboard/automation"
	"switchboard/events"
	"switchboard/pgstore"
	"switchboard/routing"
)

// InteractionEvent is the payload of an interaction's realtime events: the state the
// read model was just given, with what the event adds.
type InteractionEvent struct {
	InteractionID  string                    `json:"interactionId"`
	Status         pgstore.InteractionStatus `json:"status"`
	Channel        routing.Channel           `json:"channel,omitempty"`
	Source         string                    `json:"source,omitempty"`
	QueueID        string                    `json:"queueId,omitempty"`
	AgentID        string                    `json:"agentId,omitempty"`
	OfferedAgentID string                    `json:"offeredAgentId,omitempty"`
	CustomerPhone  string                    `json:"customerPhone,omitempty"`
	CustomerName   string                    `json:"customerName,omitempty"`
	// Attempt, RingUntil and Outcome describe an offer (offered, offer closed).
	Attempt   int                  `json:"attempt,omitempty"`
	RingUntil *time.Time           `json:"ringUntil,omitempty"`
	Outcome   pgstore.OfferOutcome `json:"outcome,omitempty"`
	Reason    string               `json:"reason,omitempty"`
	// PreviousQueueID is the queue an interaction left (queue changed).
	PreviousQueueID string `json:"previousQueueId,omitempty"`
	// Detail is what a lifecycle change adds: the transfer's target, the
	// participant added, the disposition, the customer linked…
	Detail map[string]any `json:"detail,omitempty"`
	// ConversationStatus is a digital conversation's status after the change.
	ConversationStatus pgstore.ConversationStatus `json:"conversationStatus,omitempty"`
	// Automation, when set, says the change was an automation's: which rule, its
	// run and how deep in a chain of rules.
	Automation *automation.Cause `json:"automation,omitempty"`
	// ScreenPop is the CRM page the agent's desktop opens (offered, ringing,
	// connected, showCrm) when the campaign has one.
	ScreenPop *ScreenPop `json:"screenPop,omitempty"`
	Version   int64      `json:"version"`
}

// publish adds an interaction's event to its tenant's feed, once: the key is the
// interaction, the read-model version the event reports and the type, so a retried
// activity publishes nothing new. Without a feed (tests of other parts) it does
// nothing. A failure is returned, so the activity is retried: its writes are
// idempotent, and the event is not lost.
func (a *Activities) publish(ctx context.Context, tenantID, typ string, e InteractionEvent, agents ...string) error {
	if a.Events == nil && a.Automations == nil {
		return nil
	}
	data, err := json.Marshal(e)
	if err != nil {
		return err
	}
	var who []string
	for _, id := range agents {
		if id != "" {
			who = append(who, id)
		}
	}
	ev := events.Event{
		Key:  fmt.Sprintf("interaction/%s/%d/%s", e.InteractionID, e.Version, typ),
		Type: typ, TenantID: tenantID, At: time.Now().UTC(), InteractionID: e.InteractionID,
		Agents: who, Data: data,
	}
	return a.publishEvent(ctx, ev, e)
}

// publishEvent adds the event to the feed, delivers it to the webhooks and hands it
// to the automations; each step is idempotent by the event's key.
func (a *Activities) publishEvent(ctx context.Context, ev events.Event, e InteractionEvent) error {
	if a.Events != nil {
		if _, err := a.Events.Publish(ctx, ev); err != nil {
			return err
		}
		if err := a.Webhooks.Deliver(ctx, ev); err != nil {
			return err
		}
	}
	return a.Automations.Dispatch(ctx, ev, e)
}

// interactionEvent is the event payload of an interaction as the workflow holds it.
func interactionEvent(ix pgstore.Interaction) InteractionEvent {
	e := stateEvent(ix.ID, ix.InteractionState)
	e.Channel, e.Source, e.QueueID, e.CustomerPhone, e.CustomerName = ix.Channel, ix.Source, ix.QueueID, ix.CustomerPhone, ix.CustomerName
	return e
}

// stateEvent is the event payload of an interaction's new state.
func stateEvent(id string, st pgstore.InteractionState) InteractionEvent {
	return InteractionEvent{InteractionID: id, Status: st.Status, AgentID: st.AgentID, OfferedAgentID: st.OfferedAgentID,
		ConversationStatus: st.ConversationStatus, Version: st.Version}
}

// publishRelease tells the feed what a release recorded: the offer closed (rejected,
// rung out or withdrawn) and, when the interaction is over, its end.
func (a *Activities) publishRelease(ctx context.Context, agent string, u pgstore.InteractionUpdate) error {
	e := stateEvent(u.InteractionID, u.State)
	if r := u.Response; r != nil && r.Outcome != pgstore.OfferAccepted {
		closed := e
		closed.Attempt, closed.Outcome, closed.Reason = r.Attempt, r.Outcome, r.Reason
		if err := a.publish(ctx, u.TenantID, events.InteractionOfferClosed, closed, agent); err != nil {
			return err
		}
	}
	switch u.State.Status {
	case pgstore.InteractionEnded, pgstore.InteractionAbandoned:
		e.Reason = u.State.EndReason
		if u.State.Status == pgstore.InteractionEnded {
			if err := a.publish(ctx, u.TenantID, events.InteractionDisconnected, e, agent); err != nil {
				return err
			}
		}
		return a.publish(ctx, u.TenantID, events.InteractionEnded, e, agent)
	}
	return nil
}
