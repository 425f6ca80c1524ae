package workflows

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"switchboard/activities"
	"switchboard/channels"
	"switchboard/events"
	"switchboard/pgstore"
	"switchboard/routing"
)

// Agent actions and customer-side events of the interaction's life after it is
// connected.
const (
	HoldUpdate               = "hold"
	UnholdUpdate             = "unhold"
	TransferUpdate           = "transfer"
	ConferenceUpdate         = "conference"
	LeaveConferenceUpdate    = "leave-conference"
	AddNoteUpdate            = "add-note"
	SendMessageUpdate        = "send-message"
	ConversationStatusUpdate = "conversation-status"
	LinkCustomerUpdate       = "link-customer"
	UnlinkCustomerUpdate     = "unlink-customer"
	DisposeUpdate            = "dispose"
	// CompleteTransferUpdate hands the interaction to the agent a warm transfer
	// consulted, once they answered; CancelTransferUpdate ends the consultation
	// and the first agent keeps it (HoldInput, from the agent who holds it).
	CompleteTransferUpdate = "complete-transfer"
	CancelTransferUpdate   = "cancel-transfer"
	// InboundMessageSignal is a customer's message (InboundMessageInput).
	InboundMessageSignal = "inbound-message"
	// HangupSignal is the customer leaving: hung up, or closed the chat (HangupInput).
	HangupSignal = "hangup"
	// ChannelEventSignal is an event of the channel (ChannelEvent): an outbound
	// call's result, a delivery report, a customer typing…
	ChannelEventSignal = "channel-event"
)

// Error types of refused lifecycle actions.
const (
	// ErrTypeNotAllowed: the action does not fit the interaction's state (hold
	// while queued, dispose before the end, a message on a call…).
	ErrTypeNotAllowed = "ActionNotAllowed"
	// ErrTypeInvalidAction: the action's input is wrong; the message names the field.
	ErrTypeInvalidAction = "InvalidAction"
	// ErrTypeUnknownTarget: a transfer or conference target the tenant does not have.
	ErrTypeUnknownTarget = activities.ErrTypeUnknownTarget
	// ErrTypeTargetUnavailable: the agent a transfer names cannot take it now.
	ErrTypeTargetUnavailable = activities.ErrTypeTargetUnavailable
	// ErrTypeInvalidDisposition: the disposition is not one of the campaign's.
	ErrTypeInvalidDisposition = activities.ErrTypeInvalidDisposition
)

// lifecycleChange marks runs that keep the whole lifecycle: wrap-up until disposal
// for every channel, and the agent actions. Runs started before ended with the call's
// wrap-up timer, and replay the same.
const lifecycleChange = "interaction-lifecycle"

// Actor is who acts on an interaction: a user (ActorID) and, when that user acts as an
// agent, AgentID, who may act only on an interaction they hold.
type Actor struct {
	TenantID string `json:"tenantId"`
	ActorID  string `json:"actorId,omitempty"`
	AgentID  string `json:"agentId,omitempty"`
}

// HoldInput puts the interaction on hold or takes it off.
type HoldInput struct {
	Actor
}

// TransferTarget is where a transfer sends the interaction.
type TransferTarget struct {
	// Kind is agent, queue, campaign or external.
	Kind string `json:"kind"`
	// ID is the agent's, queue's or campaign's ID.
	ID string `json:"id,omitempty"`
	// Number is the external number (E.164).
	Number string `json:"number,omitempty"`
}

// TransferInput transfers the interaction (cold: its agent lets go at once).
type TransferInput struct {
	Actor
	// Mode is cold.
	Mode   string         `json:"mode"`
	Target TransferTarget `json:"target"`
	Reason string         `json:"reason,omitempty"`
}

// ConferenceInput adds someone to the interaction.
type ConferenceInput struct {
	Actor
	// Kind is agent, supervisor or external; UserID names the user, Number the
	// external number (E.164).
	Kind   pgstore.ParticipantKind `json:"kind"`
	UserID string                  `json:"userId,omitempty"`
	Number string                  `json:"number,omitempty"`
}

// LeaveConferenceInput takes a participant off the interaction.
type LeaveConferenceInput struct {
	Actor
	UserID string `json:"userId,omitempty"`
	Number string `json:"number,omitempty"`
}

// NoteInput adds a note; NoteID (chosen by the caller) makes it idempotent.
type NoteInput struct {
	Actor
	NoteID string `json:"noteId"`
	Body   string `json:"body"`
}

// SendMessageInput sends the customer a message of a digital interaction.
type SendMessageInput struct {
	Actor
	MessageID   string                `json:"messageId"`
	Body        string                `json:"body"`
	Attachments []channels.Attachment `json:"attachments,omitempty"`
}

// ConversationStatusInput changes a digital conversation's status.
type ConversationStatusInput struct {
	Actor
	Status pgstore.ConversationStatus `json:"status"`
}

// LinkCustomerInput links a customer record to the interaction.
type LinkCustomerInput struct {
	Actor
	CustomerID string `json:"customerId"`
}

// DisposeInput closes the wrap-up with a disposition of the interaction's campaign
// (class and code, by ID or name) and optional notes.
type DisposeInput struct {
	Actor
	Class  string `json:"dispositionClass"`
	Code   string `json:"dispositionCode"`
	Notes  string `json:"notes,omitempty"`
	NoteID string `json:"noteId,omitempty"`
	// Callback is the callback to schedule; the code must have the callback flag,
	// and a callback code needs it.
	Callback *DisposalCallback `json:"callback,omitempty"`
	// Params are custom attributes of the disposal (a CRM's disposition
	// parameters), kept in the timeline with it.
	Params map[string]string `json:"params,omitempty"`
}

// InboundMessageInput is a customer's message. A signal of another tenant (TenantID
// set and not the interaction's) is ignored.
type InboundMessageInput struct {
	TenantID    string                `json:"tenantId,omitempty"`
	MessageID   string                `json:"messageId"`
	From        string                `json:"from,omitempty"`
	Body        string                `json:"body"`
	Attachments []channels.Attachment `json:"attachments,omitempty"`
	ReceivedAt  time.Time             `json:"receivedAt"`
}

// HangupInput is the customer leaving.
type HangupInput struct {
	TenantID string `json:"tenantId,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

// ChannelEvent is an event of the channel. Type "outcome" ends an outbound call that
// never reached the customer with Outcome (failed, busy, no_answer, voicemail); any
// other type is kept in the timeline.
type ChannelEvent struct {
	TenantID string            `json:"tenantId,omitempty"`
	Type     string            `json:"type"`
	Outcome  pgstore.Outcome   `json:"outcome,omitempty"`
	Detail   map[string]string `json:"detail,omitempty"`
	At       time.Time         `json:"at"`
}

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{1,14}$`)

func notAllowed(format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), ErrTypeNotAllowed, nil)
}

func invalidAction(field, format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), ErrTypeInvalidAction, nil, field)
}

// registerLifecycle adds the lifecycle's updates and signals.
func (w *interaction) registerLifecycle(ctx workflow.Context) error {
	handlers := []struct {
		name      string
		handler   any
		validator any
	}{
		{HoldUpdate, w.onHold, func(in HoldInput) error { return w.validateHold(in, true) }},
		{UnholdUpdate, w.onUnhold, func(in HoldInput) error { return w.validateHold(in, false) }},
		{TransferUpdate, w.onTransfer, w.validateTransfer},
		{ConferenceUpdate, w.onConference, w.validateConference},
		{LeaveConferenceUpdate, w.onLeaveConference, w.validateLeave},
		{AddNoteUpdate, w.onNote, w.validateNote},
		{SendMessageUpdate, w.onSendMessage, w.validateSendMessage},
		{ConversationStatusUpdate, w.onConversationStatus, w.validateConversationStatus},
		{LinkCustomerUpdate, w.onLinkCustomer, func(in LinkCustomerInput) error { return w.validateLink(in, true) }},
		{UnlinkCustomerUpdate, w.onUnlinkCustomer, func(in LinkCustomerInput) error { return w.validateLink(in, false) }},
		{DisposeUpdate, w.onDispose, w.validateDispose},
		{CompleteTransferUpdate, w.onCompleteTransfer, func(in HoldInput) error { return w.validateConsult(in, true) }},
		{CancelTransferUpdate, w.onCancelTransfer, func(in HoldInput) error { return w.validateConsult(in, false) }},
	}
	for _, h := range handlers {
		if err := workflow.SetUpdateHandlerWithOptions(ctx, h.name, h.handler, workflow.UpdateHandlerOptions{Validator: h.validator}); err != nil {
			return err
		}
	}
	w.root = ctx
	if err := w.registerSnooze(ctx); err != nil {
		return err
	}
	if err := w.registerConversation(ctx); err != nil {
		return err
	}
	if err := w.registerAutomation(ctx); err != nil {
		return err
	}
	inbound := workflow.GetSignalChannel(ctx, InboundMessageSignal)
	hangup := workflow.GetSignalChannel(ctx, HangupSignal)
	channel := workflow.GetSignalChannel(ctx, ChannelEventSignal)
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			s := workflow.NewSelector(ctx)
			s.AddReceive(inbound, func(c workflow.ReceiveChannel, _ bool) {
				var m InboundMessageInput
				c.Receive(ctx, &m)
				if m.TenantID == "" || m.TenantID == w.st.TenantID {
					w.onInbound(ctx, m)
				}
			})
			s.AddReceive(hangup, func(c workflow.ReceiveChannel, _ bool) {
				var h HangupInput
				c.Receive(ctx, &h)
				if h.TenantID == "" || h.TenantID == w.st.TenantID {
					w.onHangup(h)
				}
			})
			s.AddReceive(channel, func(c workflow.ReceiveChannel, _ bool) {
				var e ChannelEvent
				c.Receive(ctx, &e)
				if e.TenantID == "" || e.TenantID == w.st.TenantID {
					w.onChannelEvent(ctx, e)
				}
			})
			s.Select(ctx)
		}
	})
	return nil
}

// lock serialises the changes of the interaction's state: each action writes the
// version after the one before.
func (w *interaction) lock(ctx workflow.Context) error {
	if err := workflow.Await(ctx, func() bool { return !w.busy }); err != nil {
		return err
	}
	w.busy = true
	return nil
}

func (w *interaction) unlock() {
	w.busy, w.cause = false, nil
	w.slaSync()
}

// checkActor admits an actor of the tenant; an agent only on an interaction they hold
// (or held, for the wrap-up).
func (w *interaction) checkActor(a Actor) error {
	switch {
	case a.TenantID != w.st.TenantID:
		return notFound()
	case a.AgentID != "" && a.AgentID != w.st.AgentID:
		return temporal.NewNonRetryableApplicationError("agents may act only on an interaction they hold", ErrTypeNotYourInteraction, nil)
	}
	return nil
}

// checkHeld admits an action on an interaction an agent holds (connected or on hold).
func (w *interaction) checkHeld(a Actor, what string) error {
	if err := w.checkActor(a); err != nil {
		return err
	}
	if !w.lifecycle {
		return notAllowed("this interaction started before %s was possible", what)
	}
	if !w.st.Status.Held() || w.end != nil {
		return notAllowed("%s needs an interaction an agent holds; it is %s", what, w.st.Status)
	}
	return nil
}

// change writes the next state with its timeline entry and events, and takes it.
func (w *interaction) change(ctx workflow.Context, next pgstore.InteractionState, actor string, note *pgstore.Note, tl pgstore.TimelineEvent, pubs ...activities.Publication) error {
	return w.changeAll(ctx, next, actor, note, []pgstore.TimelineEvent{tl}, pubs...)
}

// changeAll is change with several timeline entries, written in one step.
func (w *interaction) changeAll(ctx workflow.Context, next pgstore.InteractionState, actor string, note *pgstore.Note, tl []pgstore.TimelineEvent, pubs ...activities.Publication) error {
	next.Version++
	for i := range pubs {
		pubs[i].Automation = w.cause
	}
	for i := range tl {
		tl[i].ActorID = actor
		if tl[i].At.IsZero() {
			tl[i].At = workflow.Now(ctx)
		}
	}
	err := w.call(ctx, "RecordChange", activities.ChangeRequest{
		Update:  pgstore.InteractionUpdate{TenantID: w.st.TenantID, InteractionID: w.st.ID, State: next, Events: tl},
		Publish: pubs, Note: note,
	}).Get(ctx, nil)
	if err != nil {
		return err
	}
	w.st.InteractionState = next
	return nil
}

func (w *interaction) validateHold(in HoldInput, hold bool) error {
	if err := w.checkHeld(in.Actor, "hold"); err != nil {
		return err
	}
	switch {
	case hold && w.st.Status == pgstore.InteractionOnHold:
		return notAllowed("the interaction is already on hold")
	case !hold && w.st.Status != pgstore.InteractionOnHold:
		return notAllowed("the interaction is not on hold")
	}
	return nil
}

func (w *interaction) onHold(ctx workflow.Context, in HoldInput) (*InteractionState, error) {
	return w.act(ctx, func() error { return w.validateHold(in, true) }, func() error {
		now := workflow.Now(ctx)
		next := w.st.InteractionState
		next.Status, next.HeldAt, next.Holds = pgstore.InteractionOnHold, &now, next.Holds+1
		if err := w.change(ctx, next, in.ActorID, nil, pgstore.TimelineEvent{Type: "interactionHeld"},
			activities.Publication{Type: events.InteractionHeld}); err != nil {
			return err
		}
		w.upsert(ctx, StatusKey.ValueSet(string(next.Status)))
		w.mediaHold(ctx, true)
		return nil
	})
}

func (w *interaction) onUnhold(ctx workflow.Context, in HoldInput) (*InteractionState, error) {
	return w.act(ctx, func() error { return w.validateHold(in, false) }, func() error {
		next := w.st.InteractionState
		unhold(ctx, &next)
		if err := w.change(ctx, next, in.ActorID, nil, pgstore.TimelineEvent{Type: "interactionResumed"},
			activities.Publication{Type: events.InteractionResumed}); err != nil {
			return err
		}
		w.upsert(ctx, StatusKey.ValueSet(string(next.Status)))
		w.mediaHold(ctx, false)
		return nil
	})
}

// unhold takes a state off hold, counting the hold's length.
func unhold(ctx workflow.Context, st *pgstore.InteractionState) {
	if st.HeldAt == nil {
		return
	}
	st.HoldSeconds += int(workflow.Now(ctx).Sub(*st.HeldAt).Round(time.Second) / time.Second)
	st.HeldAt = nil
	if st.Status == pgstore.InteractionOnHold {
		st.Status = pgstore.InteractionConnected
	}
}

// act runs an action under the lock, checking it again once it has the lock (the
// interaction may have moved on while it waited), and answers the state after it.
func (w *interaction) act(ctx workflow.Context, validate func() error, do func() error) (*InteractionState, error) {
	if err := w.lock(ctx); err != nil {
		return nil, err
	}
	defer w.unlock()
	if err := validate(); err != nil {
		return nil, err
	}
	if err := do(); err != nil {
		return nil, actionError(err)
	}
	return w.snapshot(), nil
}

// actionError passes a refusal on as it is and hides anything else behind a clear
// message (the details are in the run's history).
func actionError(err error) error {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		switch app.Type() {
		case ErrTypeNotAllowed, ErrTypeInvalidAction, ErrTypeUnknownTarget, ErrTypeTargetUnavailable,
			ErrTypeInvalidDisposition, ErrTypeNotYourInteraction, ErrTypeInteractionNotFound, ErrTypeUnknownQueue,
			ErrTypeFormIncomplete:
			return err
		}
	}
	return temporal.NewApplicationError("the action failed; try again", "ActionFailed")
}

func (w *interaction) validateTransfer(in TransferInput) error {
	if err := w.checkHeld(in.Actor, "a transfer"); err != nil {
		return err
	}
	switch {
	case in.Mode != "" && in.Mode != "cold" && in.Mode != "warm":
		return invalidAction("mode", "mode must be cold or warm")
	case in.Mode == "warm" && in.Target.Kind != "agent":
		return invalidAction("target.kind", "a warm transfer consults an agent: target kind must be agent")
	case w.consult != nil:
		return notAllowed("a warm transfer is in progress: complete or cancel it first")
	}
	t := in.Target
	switch t.Kind {
	case "agent", "queue", "campaign":
		if uuid.Validate(t.ID) != nil {
			return invalidAction("target.id", "a %s transfer needs the %s's ID", t.Kind, t.Kind)
		}
		if t.Kind == "agent" && t.ID == w.st.AgentID {
			return invalidAction("target.id", "the interaction is already this agent's")
		}
	case "external":
		if !e164.MatchString(t.Number) {
			return invalidAction("target.number", "an external transfer needs an E.164 number such as +14155550100")
		}
	default:
		return invalidAction("target.kind", "target kind must be agent, queue, campaign or external")
	}
	return nil
}

// onTransfer moves the interaction away from its agent: to a queue or a campaign (its
// default queue, else the current one) it is queued again without the agent; to an
// agent it is handed over at once (refused when that agent cannot take it now) and
// rings on them; to an external number it ends for the agent, who wraps it up.
func (w *interaction) onTransfer(ctx workflow.Context, in TransferInput) (*InteractionState, error) {
	return w.untilEnded(ctx)(w.act(ctx, func() error { return w.validateTransfer(in) }, func() error {
		if in.Mode == "warm" {
			return w.startConsult(ctx, in)
		}
		now := workflow.Now(ctx)
		from := w.st.AgentID
		detail := map[string]any{"from": from, "kind": in.Target.Kind, "mode": "cold"}
		if in.Reason != "" {
			detail["reason"] = in.Reason
		}
		next := w.st.InteractionState
		unhold(ctx, &next)
		next.Transferred, next.Transfers = true, next.Transfers+1
		switch in.Target.Kind {
		case "external":
			detail["number"] = in.Target.Number
			w.end = &EndInput{TenantID: w.st.TenantID, ActorID: in.ActorID, Reason: "transferred to " + in.Target.Number}
			w.transferOut = &next
			w.transferDetail = detail
			return nil
		case "agent":
			detail["to"] = in.Target.ID
			var res activities.HandoverResult
			offered := next
			offered.Status, offered.OfferedAgentID, offered.AgentID, offered.ConnectedAt = pgstore.InteractionOffered, in.Target.ID, "", nil
			offered.ExcludedAgents = append(slices.Clone(offered.ExcludedAgents), from)
			offered.Offers++
			offered.Version++
			err := w.call(ctx, "HandOver", activities.HandoverRequest{
				FromAgentID: from, ToAgentID: in.Target.ID, QueueID: w.st.QueueID, Channel: w.st.Channel,
				Update: pgstore.InteractionUpdate{TenantID: w.st.TenantID, InteractionID: w.st.ID, State: offered,
					Events: []pgstore.TimelineEvent{{Type: events.InteractionTransferred, At: now, ActorID: in.ActorID, Data: detail}}},
				Voice:   w.voiceStep(ctx, from, routing.VoiceIdle),
				Publish: []activities.Publication{{Type: events.InteractionTransferred, Agents: []string{from, in.Target.ID}, Detail: detail}},
			}).Get(ctx, &res)
			if err != nil {
				return err
			}
			if !res.OK {
				return temporal.NewNonRetryableApplicationError(fmt.Sprintf("the agent cannot take the interaction now (%s)", strings.ReplaceAll(res.Reason, "_", " ")), ErrTypeTargetUnavailable, nil)
			}
			at, until := res.OfferedAt, res.RingUntil
			offered.OfferedAt = &at
			w.st.InteractionState, w.st.RingUntil = offered, &until
			w.upsert(ctx, StatusKey.ValueSet(string(offered.Status)), AgentIDKey.ValueSet(in.Target.ID))
			w.setVoice(ctx, in.Target.ID, routing.VoiceRinging, false)
			return nil
		}
		queueID, campaignID := w.st.QueueID, ""
		if in.Target.Kind == "campaign" {
			var c activities.CampaignInfo
			if err := w.call(ctx, "GetCampaign", activities.CampaignRequest{TenantID: w.st.TenantID, CampaignID: in.Target.ID}).Get(ctx, &c); err != nil {
				var app *temporal.ApplicationError
				if errors.As(err, &app) && app.Type() == ErrTypeUnknownTarget {
					return temporal.NewNonRetryableApplicationError("no such campaign in this tenant", ErrTypeUnknownTarget, nil, "target.id")
				}
				return err
			}
			campaignID = c.ID
			detail["campaignId"] = c.ID
			if c.DefaultQueueID != "" {
				queueID = c.DefaultQueueID
			}
		} else {
			queueID = in.Target.ID
		}
		detail["queueId"] = queueID
		next.Status, next.AgentID, next.ConnectedAt = pgstore.InteractionQueued, "", nil
		next.ExcludedAgents = append(slices.Clone(next.ExcludedAgents), from)
		next.QueuedAt = now
		next.Version++
		u := pgstore.InteractionUpdate{TenantID: w.st.TenantID, InteractionID: w.st.ID, State: next, CampaignID: campaignID,
			Events: []pgstore.TimelineEvent{{Type: events.InteractionTransferred, At: now, ActorID: in.ActorID, Data: detail}}}
		var res activities.MoveResult
		err := w.call(ctx, "MoveInteraction", activities.MoveRequest{
			Change:  pgstore.QueueChange{QueueID: queueID, Kept: u},
			Publish: []activities.Publication{{Type: events.InteractionTransferred, Agents: []string{from}, Detail: detail}},
		}).Get(ctx, &res)
		if err != nil {
			var app *temporal.ApplicationError
			if errors.As(err, &app) && app.Type() == activities.ErrTypeUnknownQueue {
				return temporal.NewNonRetryableApplicationError("no such queue in this tenant", ErrTypeUnknownTarget, nil, "target.id")
			}
			return err
		}
		if campaignID != "" {
			w.st.CampaignID = campaignID
		}
		w.st.QueueID = queueID
		w.releaseSlot(ctx, from, pgstore.InteractionUpdate{TenantID: w.st.TenantID, InteractionID: w.st.ID, State: next},
			w.voiceStep(ctx, from, routing.VoiceIdle))
		w.upsert(ctx, QueueIDKey.ValueSet(queueID), StatusKey.ValueSet(string(pgstore.InteractionQueued)), AgentIDKey.ValueUnset())
		return nil
	}))
}

// untilEnded answers an action that ends the interaction once the main loop ended it.
func (w *interaction) untilEnded(ctx workflow.Context) func(*InteractionState, error) (*InteractionState, error) {
	return func(st *InteractionState, err error) (*InteractionState, error) {
		if err != nil || w.end == nil {
			return st, err
		}
		if err := workflow.Await(ctx, func() bool { return !w.st.Status.Active() }); err != nil {
			return nil, err
		}
		return w.snapshot(), nil
	}
}

func (w *interaction) validateConference(in ConferenceInput) error {
	if err := w.checkHeld(in.Actor, "a conference"); err != nil {
		return err
	}
	switch in.Kind {
	case pgstore.ParticipantAgent, pgstore.ParticipantSupervisor:
		if uuid.Validate(in.UserID) != nil {
			return invalidAction("userId", "a %s participant needs the user's ID", in.Kind)
		}
		if in.UserID == w.st.AgentID {
			return invalidAction("userId", "the agent already holds the interaction")
		}
		for _, p := range w.st.Participants {
			if p.UserID == in.UserID && p.LeftAt == nil {
				return notAllowed("the user is already in the conference")
			}
		}
	case pgstore.ParticipantExternal:
		if !e164.MatchString(in.Number) {
			return invalidAction("number", "an external participant needs an E.164 number such as +14155550100")
		}
		if w.participant("", in.Number) >= 0 {
			return notAllowed("the number is already in the conference")
		}
	default:
		return invalidAction("kind", "kind must be agent, supervisor or external")
	}
	return nil
}

// onConference adds an agent, a supervisor (users of the tenant with that role) or an
// external number to the interaction; the media of a call joins them.
func (w *interaction) onConference(ctx workflow.Context, in ConferenceInput) (*InteractionState, error) {
	return w.act(ctx, func() error { return w.validateConference(in) }, func() error {
		if in.Kind != pgstore.ParticipantExternal {
			var u activities.UserInfo
			if err := w.call(ctx, "GetUser", activities.UserRequest{TenantID: w.st.TenantID, UserID: in.UserID}).Get(ctx, &u); err != nil {
				return err
			}
			want := pgstore.RoleAgent
			if in.Kind == pgstore.ParticipantSupervisor {
				want = pgstore.RoleSupervisor
			}
			if u.Role != want && !(in.Kind == pgstore.ParticipantSupervisor && u.Role == pgstore.RoleAdmin) {
				return invalidAction("userId", "the user is not a %s", in.Kind)
			}
		}
		next := w.st.InteractionState
		p := pgstore.Participant{Kind: in.Kind, UserID: in.UserID, Number: in.Number, AddedBy: in.ActorID, JoinedAt: workflow.Now(ctx)}
		next.Participants = append(slices.Clone(next.Participants), p)
		detail := map[string]any{"kind": string(in.Kind), "userId": in.UserID, "number": in.Number}
		return w.change(ctx, next, in.ActorID, nil, pgstore.TimelineEvent{Type: events.InteractionConferred, Data: detail},
			activities.Publication{Type: events.InteractionConferred, Agents: []string{w.st.AgentID, in.UserID}, Detail: detail})
	})
}

func (w *interaction) validateLeave(in LeaveConferenceInput) error {
	actor := in.Actor
	if actor.AgentID != "" && actor.AgentID == in.UserID && w.participant(in.UserID, "") >= 0 {
		// A participant may leave by themselves.
		actor.AgentID = ""
	}
	if err := w.checkHeld(actor, "a conference"); err != nil {
		return err
	}
	i := w.participant(in.UserID, in.Number)
	switch {
	case i < 0:
		return invalidAction("userId", "no such participant in the conference")
	case w.st.Participants[i].Consultation:
		return notAllowed("a consulted agent leaves by declining, or the transfer is cancelled")
	}
	return nil
}

func (w *interaction) participant(userID, number string) int {
	for i, p := range w.st.Participants {
		if p.LeftAt == nil && ((userID != "" && p.UserID == userID) || (number != "" && p.Number == number)) {
			return i
		}
	}
	return -1
}

func (w *interaction) onLeaveConference(ctx workflow.Context, in LeaveConferenceInput) (*InteractionState, error) {
	return w.act(ctx, func() error { return w.validateLeave(in) }, func() error {
		next := w.st.InteractionState
		next.Participants = slices.Clone(next.Participants)
		i := w.participant(in.UserID, in.Number)
		now := workflow.Now(ctx)
		next.Participants[i].LeftAt = &now
		detail := map[string]any{"userId": in.UserID, "number": in.Number}
		return w.change(ctx, next, in.ActorID, nil, pgstore.TimelineEvent{Type: "participantLeft", Data: detail},
			activities.Publication{Type: events.ParticipantLeft, Agents: []string{w.st.AgentID, in.UserID}, Detail: detail})
	})
}

func (w *interaction) validateNote(in NoteInput) error {
	if err := w.checkActor(in.Actor); err != nil {
		return err
	}
	switch {
	case !w.lifecycle:
		return notAllowed("this interaction started before notes were possible")
	case w.st.Status.Final():
		return notAllowed("the interaction is already %s", w.st.Status)
	case uuid.Validate(in.NoteID) != nil:
		return invalidAction("noteId", "must be a UUID chosen by the caller")
	}
	if err := pgstore.ValidateNoteBody("body", in.Body); err != nil {
		return invalidAction("body", "%s", err.Error())
	}
	return nil
}

// onNote keeps a note typed during the interaction or its wrap-up.
func (w *interaction) onNote(ctx workflow.Context, in NoteInput) (*InteractionState, error) {
	return w.act(ctx, func() error { return w.validateNote(in) }, func() error {
		now := workflow.Now(ctx)
		note := &pgstore.Note{ID: in.NoteID, TenantID: w.st.TenantID, InteractionID: w.st.ID, AuthorID: in.ActorID, Body: in.Body, CreatedAt: now}
		return w.change(ctx, w.st.InteractionState, in.ActorID, note, pgstore.TimelineEvent{Type: "noteAdded", Data: map[string]any{"noteId": in.NoteID}},
			activities.Publication{Type: events.NoteAdded, Detail: map[string]any{"noteId": in.NoteID}})
	})
}

func (w *interaction) validateSendMessage(in SendMessageInput) error {
	if err := w.checkHeld(in.Actor, "a message"); err != nil {
		return err
	}
	switch {
	case w.st.Channel == routing.Voice:
		return notAllowed("calls carry no messages")
	case uuid.Validate(in.MessageID) != nil:
		return invalidAction("messageId", "must be a UUID chosen by the caller")
	case strings.TrimSpace(in.Body) == "" && len(in.Attachments) == 0:
		return invalidAction("body", "a message needs a body or an attachment")
	}
	return nil
}

// onSendMessage sends the customer a message through the channel's adapter and keeps
// it in the transcript.
func (w *interaction) onSendMessage(ctx workflow.Context, in SendMessageInput) (*InteractionState, error) {
	return w.act(ctx, func() error { return w.validateSendMessage(in) }, func() error {
		now := workflow.Now(ctx)
		var res activities.MessageResult
		var a *activities.Activities
		opts := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
			StartToCloseTimeout: 30 * time.Second,
			RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second, MaximumAttempts: 5},
		})
		err := workflow.ExecuteActivity(opts, a.SendOutboundMessage, activities.OutboundMessage{
			TenantID: w.st.TenantID, InteractionID: w.st.ID, MessageID: in.MessageID, SenderKind: pgstore.SenderAgent,
			SenderID: in.ActorID, Body: in.Body, Attachments: in.Attachments, CreatedAt: now,
		}).Get(ctx, &res)
		if err != nil {
			var app *temporal.ApplicationError
			if errors.As(err, &app) && (app.Type() == activities.ErrTypeMessageRejected || app.Type() == activities.ErrTypeInvalidMessage) {
				return temporal.NewNonRetryableApplicationError("the message was not sent: "+app.Error(), ErrTypeInvalidAction, nil, "body")
			}
			return err
		}
		w.slaReply(ctx, SLAEventInput{At: now}, false)
		next := w.st.InteractionState
		detail := map[string]any{"messageId": in.MessageID, "seq": res.Seq, "status": string(res.Status)}
		return w.change(ctx, next, in.ActorID, nil, pgstore.TimelineEvent{Type: "messageSent", Data: detail},
			activities.Publication{Type: events.MessageSent, Detail: detail})
	})
}

// onInbound keeps a customer's message; a message on a solved conversation reopens it.
func (w *interaction) onInbound(ctx workflow.Context, m InboundMessageInput) {
	if err := w.lock(ctx); err != nil {
		return
	}
	defer w.unlock()
	if w.st.Status.Final() {
		workflow.GetLogger(ctx).Warn("message after the interaction closed", "message", m.MessageID)
		return
	}
	at := m.ReceivedAt
	if at.IsZero() {
		at = workflow.Now(ctx)
	}
	var res activities.MessageResult
	err := w.call(ctx, "RecordInboundMessage", activities.InboundMessage{
		TenantID: w.st.TenantID, InteractionID: w.st.ID, MessageID: m.MessageID, From: m.From, Body: m.Body,
		Attachments: m.Attachments, ReceivedAt: at,
	}).Get(ctx, &res)
	if err != nil {
		workflow.GetLogger(ctx).Error("inbound message not kept", "message", m.MessageID, "error", err)
		return
	}
	if !w.lifecycle {
		return
	}
	next := w.st.InteractionState
	detail := map[string]any{"messageId": m.MessageID, "seq": res.Seq}
	var reopened map[string]any
	if next.Status.Active() && (next.ConversationStatus == pgstore.ConversationSolved || next.ConversationStatus == pgstore.ConversationWaiting) {
		reopened = map[string]any{"from": string(next.ConversationStatus), "to": string(pgstore.ConversationOpen), "messageId": m.MessageID}
		if next.ConversationStatus == pgstore.ConversationSolved {
			next.ReopenCount++
			detail["reopened"] = true
			reopened["reopened"] = true
		}
		next.ConversationStatus = pgstore.ConversationOpen
	}
	tl := []pgstore.TimelineEvent{{Type: "messageReceived", At: at, Data: detail}}
	pubs := []activities.Publication{{Type: events.MessageReceived, Agents: []string{next.AgentID, next.OfferedAgentID}, Detail: detail}}
	if reopened != nil {
		// The customer's message opened the conversation again: a status change too.
		pubs = append(pubs, activities.Publication{Type: events.ConversationStatusChanged, Agents: []string{next.AgentID, next.OfferedAgentID}, Detail: reopened})
	}
	if next.Status.Active() && next.ConversationStatus == pgstore.ConversationSnoozed {
		tl, pubs = w.wakeByMessage(ctx, &next, m.MessageID, at, tl, pubs)
	}
	if err := w.changeAll(ctx, next, "", nil, tl, pubs...); err != nil {
		workflow.GetLogger(ctx).Error("inbound message not recorded", "message", m.MessageID, "error", err)
	}
	if next.Status.Active() {
		w.slaCustomer(ctx, SLAEventInput{At: at})
	}
}

// onHangup ends an interaction the customer left.
func (w *interaction) onHangup(h HangupInput) {
	if !w.st.Status.Active() || w.end != nil {
		return
	}
	reason := h.Reason
	if reason == "" {
		reason = "the customer left"
	}
	w.end = &EndInput{TenantID: w.st.TenantID, Reason: reason}
}

// onChannelEvent keeps a channel's event; an outcome ends an outbound interaction.
func (w *interaction) onChannelEvent(ctx workflow.Context, e ChannelEvent) {
	if e.Type == "outcome" {
		if !e.Outcome.Valid() || !w.st.Status.Active() || w.end != nil || w.st.Direction != pgstore.Outbound {
			workflow.GetLogger(ctx).Warn("channel outcome ignored", "outcome", e.Outcome, "status", w.st.Status)
			return
		}
		w.outcome = e.Outcome
		w.end = &EndInput{TenantID: w.st.TenantID, Reason: string(e.Outcome)}
		return
	}
	if !w.lifecycle || w.st.Status.Final() {
		return
	}
	if err := w.lock(ctx); err != nil {
		return
	}
	defer w.unlock()
	data := map[string]any{"type": e.Type}
	if len(e.Detail) > 0 {
		data["detail"] = e.Detail
	}
	if err := w.change(ctx, w.st.InteractionState, "", nil, pgstore.TimelineEvent{Type: "channelEvent", At: e.At, Data: data}); err != nil {
		workflow.GetLogger(ctx).Error("channel event not recorded", "type", e.Type, "error", err)
	}
}

func (w *interaction) validateConversationStatus(in ConversationStatusInput) error {
	if err := w.checkActor(in.Actor); err != nil {
		return err
	}
	switch {
	case !w.lifecycle:
		return notAllowed("this interaction started before conversation statuses were kept")
	case w.st.Channel == routing.Voice:
		return notAllowed("calls have no conversation status")
	case in.Status == pgstore.ConversationSnoozed:
		return invalidAction("status", "a conversation is snoozed by the snooze action, which says until when")
	case !in.Status.Valid():
		return invalidAction("status", "status must be open, waiting, solved or closed")
	case !w.st.Status.Active() || w.end != nil:
		return notAllowed("the conversation is already %s", w.st.Status)
	case in.Status == w.st.ConversationStatus:
		return notAllowed("the conversation is already %s", in.Status)
	}
	return nil
}

// onConversationStatus changes a digital conversation's status: open, waiting or
// solved (reopening a solved one counts), or closed, which ends it.
func (w *interaction) onConversationStatus(ctx workflow.Context, in ConversationStatusInput) (*InteractionState, error) {
	return w.untilEnded(ctx)(w.act(ctx, func() error { return w.validateConversationStatus(in) }, func() error {
		return w.setConversationStatus(ctx, in)
	}))
}

// setConversationStatus makes the status change, under the lock.
func (w *interaction) setConversationStatus(ctx workflow.Context, in ConversationStatusInput) error {
	if in.Status == pgstore.ConversationSolved || in.Status == pgstore.ConversationClosed {
		if err := w.checkForm(ctx, in.Status); err != nil {
			return err
		}
	}
	if in.Status == pgstore.ConversationClosed {
		w.end = &EndInput{TenantID: in.TenantID, ActorID: in.ActorID, AgentID: in.AgentID, Reason: "conversation closed"}
		return nil
	}
	next := w.st.InteractionState
	detail := map[string]any{"from": string(next.ConversationStatus), "to": string(in.Status)}
	if next.ConversationStatus == pgstore.ConversationSolved && in.Status == pgstore.ConversationOpen {
		next.ReopenCount++
		detail["reopened"] = true
	}
	next.ConversationStatus = in.Status
	if next.SnoozedUntil != nil {
		// A snoozed conversation given another status is no longer snoozed.
		detail["snoozedUntil"], next.SnoozedUntil = next.SnoozedUntil.UTC().Format(time.RFC3339Nano), nil
	}
	return w.change(ctx, next, in.ActorID, nil, pgstore.TimelineEvent{Type: "conversationStatusChanged", Data: detail},
		activities.Publication{Type: events.ConversationStatusChanged, Detail: detail})
}

func (w *interaction) validateLink(in LinkCustomerInput, link bool) error {
	if err := w.checkActor(in.Actor); err != nil {
		return err
	}
	switch {
	case !w.lifecycle:
		return notAllowed("this interaction started before customers could be linked")
	case w.st.Status.Final():
		return notAllowed("the interaction is already %s", w.st.Status)
	case link && (strings.TrimSpace(in.CustomerID) == "" || len(in.CustomerID) > 200):
		return invalidAction("customerId", "must be 1 to 200 characters")
	case link && in.CustomerID == w.st.CustomerID:
		return notAllowed("the customer is already linked")
	case !link && w.st.CustomerID == "":
		return notAllowed("no customer is linked")
	}
	return nil
}

func (w *interaction) onLinkCustomer(ctx workflow.Context, in LinkCustomerInput) (*InteractionState, error) {
	return w.act(ctx, func() error { return w.validateLink(in, true) }, func() error {
		next := w.st.InteractionState
		detail := map[string]any{"customerId": in.CustomerID, "previousCustomerId": next.CustomerID}
		next.CustomerID = in.CustomerID
		return w.change(ctx, next, in.ActorID, nil, pgstore.TimelineEvent{Type: events.CustomerLinkedToInteraction, Data: detail},
			activities.Publication{Type: events.CustomerLinkedToInteraction, Detail: detail})
	})
}

func (w *interaction) onUnlinkCustomer(ctx workflow.Context, in LinkCustomerInput) (*InteractionState, error) {
	return w.act(ctx, func() error { return w.validateLink(in, false) }, func() error {
		next := w.st.InteractionState
		detail := map[string]any{"customerId": next.CustomerID}
		next.CustomerID = ""
		return w.change(ctx, next, in.ActorID, nil, pgstore.TimelineEvent{Type: events.CustomerUnlinkedFromInteraction, Data: detail},
			activities.Publication{Type: events.CustomerUnlinkedFromInteraction, Detail: detail})
	})
}

func (w *interaction) validateDispose(in DisposeInput) error {
	if err := w.checkActor(in.Actor); err != nil {
		return err
	}
	switch {
	case !w.lifecycle:
		return notAllowed("this interaction started before dispositions were kept")
	case w.st.Status == pgstore.InteractionDisposed:
		return notAllowed("the interaction is already disposed")
	case w.st.Status != pgstore.InteractionEnded:
		return notAllowed("an interaction is disposed after it ends; it is %s", w.st.Status)
	case strings.TrimSpace(in.Code) == "":
		return invalidAction("dispositionCode", "is required: a code of the interaction's campaign, by ID or name")
	case strings.TrimSpace(in.Class) == "" && uuid.Validate(strings.TrimSpace(in.Code)) != nil:
		return invalidAction("dispositionClass", "is required to name a code by its name")
	case len(in.Notes) > 0 && in.NoteID != "" && uuid.Validate(in.NoteID) != nil:
		return invalidAction("noteId", "must be a UUID")
	}
	if in.Notes != "" {
		if err := pgstore.ValidateNoteBody("notes", in.Notes); err != nil {
			return invalidAction("notes", "%s", err.Error())
		}
	}
	if in.Callback != nil {
		return w.validateDisposalCallback(in.Callback)
	}
	return nil
}

func (w *interaction) onDispose(ctx workflow.Context, in DisposeInput) (*InteractionState, error) {
	return w.act(ctx, func() error { return w.validateDispose(in) }, func() error {
		return w.dispose(ctx, in, false)
	})
}

// dispose closes the wrap-up with the disposition named (or, auto, the campaign's
// default code), keeping the notes, and frees the agent of the wrap-up.
func (w *interaction) dispose(ctx workflow.Context, in DisposeInput, auto bool) error {
	now := workflow.Now(ctx)
	next := w.st.InteractionState
	next.Status, next.DisposedAt, next.DisposedBy, next.WrapUpUntil = pgstore.InteractionDisposed, &now, in.ActorID, nil
	next.Version++
	var note *pgstore.Note
	if in.Notes != "" && in.NoteID != "" {
		note = &pgstore.Note{ID: in.NoteID, TenantID: w.st.TenantID, InteractionID: w.st.ID, AuthorID: in.ActorID, Body: in.Notes, CreatedAt: now}
	}
	var callbackID string
	if in.Callback != nil {
		callbackID = DisposalCallbackID(w.st.ID)
	}
	var d *pgstore.AppliedDisposition
	err := w.call(ctx, "DisposeInteraction", activities.DisposeRequest{
		CampaignID: w.st.CampaignID, Class: in.Class, Code: in.Code, Auto: auto, Notes: in.Notes, Note: note, Params: in.Params,
		Update: pgstore.InteractionUpdate{TenantID: w.st.TenantID, InteractionID: w.st.ID, State: next,
			Events: []pgstore.TimelineEvent{{Type: events.InteractionDisposed, At: now, ActorID: in.ActorID}}},
		CallbackID: callbackID,
	}).Get(ctx, &d)
	if err != nil {
		return err
	}
	if in.Callback != nil {
		w.scheduleCallback(ctx, in, callbackID)
	}
	next.Disposition = d
	w.st.InteractionState = next
	w.upsert(ctx, StatusKey.ValueSet(string(next.Status)))
	if !w.voiceIdle {
		w.voiceIdle = true
		w.setVoice(ctx, w.st.AgentID, routing.VoiceIdle, true)
	}
	return nil
}

// wrapUpUntilDisposed waits for the agent's disposal or the campaign's wrap-up
// timeout, which disposes with the campaign's default code. A call's agent is
// Wrapping meanwhile, for their wrap-up time at most (then idle again, ready for
// calls), or until the disposal if that comes first.
func (w *interaction) wrapUpUntilDisposed(ctx workflow.Context, voiceUntil *time.Time) error {
	if voiceUntil == nil {
		w.voiceIdle = true
	}
	for w.st.Status == pgstore.InteractionEnded {
		var next *time.Time
		if !w.voiceIdle {
			next = voiceUntil
		}
		if u := w.st.WrapUpUntil; u != nil && (next == nil || u.Before(*next)) {
			next = u
		}
		cond := func() bool { return w.st.Status != pgstore.InteractionEnded }
		if next == nil {
			if err := workflow.Await(ctx, cond); err != nil {
				return err
			}
			continue
		}
		if d := next.Sub(workflow.Now(ctx)); d > 0 {
			if ok, err := workflow.AwaitWithTimeout(ctx, d, cond); err != nil || ok {
				if err != nil {
					return err
				}
				continue
			}
		}
		if err := w.lock(ctx); err != nil {
			return err
		}
		now := workflow.Now(ctx)
		if w.st.Status == pgstore.InteractionEnded && !w.voiceIdle && !now.Before(*voiceUntil) {
			w.voiceIdle = true
			w.setVoice(ctx, w.st.AgentID, routing.VoiceIdle, true)
		}
		if w.st.Status == pgstore.InteractionEnded && w.st.WrapUpUntil != nil && !now.Before(*w.st.WrapUpUntil) {
			if err := w.dispose(ctx, DisposeInput{Actor: Actor{TenantID: w.st.TenantID}}, true); err != nil {
				workflow.GetLogger(ctx).Error("automatic disposal failed", "error", err)
				w.unlock()
				// Try again shortly rather than leave the wrap-up open.
				if err := workflow.Sleep(ctx, 10*time.Second); err != nil {
					return err
				}
				continue
			}
		}
		w.unlock()
	}
	if !w.voiceIdle {
		w.voiceIdle = true
		w.setVoice(ctx, w.st.AgentID, routing.VoiceIdle, true)
	}
	return nil
}

// consultation is a warm transfer's consultation of another agent.
type consultation struct {
	AgentID string
	// ID names the target's consultation slot in presence.
	ID        string
	RingUntil time.Time
	// Connected: the target answered.
	Connected bool
}

// startConsult begins a warm transfer: the customer is put on hold and the target
// agent's consultation slot reserved (refused when they cannot take the interaction
// now); the target is offered the consultation and answers it like an offer (accept
// or reject), within the ring timeout.
func (w *interaction) startConsult(ctx workflow.Context, in TransferInput) error {
	now := workflow.Now(ctx)
	from, to := w.st.AgentID, in.Target.ID
	id := uuid.NewSHA1(uuid.MustParse(w.st.ID), []byte(fmt.Sprintf("consultation/%d", w.st.Version+1))).String()
	next := w.st.InteractionState
	pubs := []activities.Publication{{Type: events.ConsultationStarted, Agents: []string{from, to}, Detail: map[string]any{"from": from, "to": to}},
		{Type: events.InteractionOffered, Agents: []string{to}, Detail: map[string]any{"consultation": true, "from": from}}}
	if next.Status == pgstore.InteractionConnected {
		next.Status, next.HeldAt, next.Holds = pgstore.InteractionOnHold, &now, next.Holds+1
		pubs = append(pubs, activities.Publication{Type: events.InteractionHeld})
	}
	next.Participants = append(slices.Clone(next.Participants), pgstore.Participant{Kind: pgstore.ParticipantAgent, UserID: to,
		AddedBy: in.ActorID, JoinedAt: now, Consultation: true})
	next.Version++
	u := pgstore.InteractionUpdate{TenantID: w.st.TenantID, InteractionID: w.st.ID, State: next,
		Events: []pgstore.TimelineEvent{{Type: events.ConsultationStarted, At: now, ActorID: in.ActorID, Data: map[string]any{"from": from, "to": to, "reason": in.Reason}}}}
	var res activities.ConsultResult
	err := w.call(ctx, "ReserveConsultation", activities.ConsultRequest{
		TenantID: w.st.TenantID, AgentID: to, ConsultationID: id, QueueID: w.st.QueueID, Channel: w.st.Channel, Update: &u, Publish: pubs,
	}).Get(ctx, &res)
	if err != nil {
		return err
	}
	if !res.OK {
		return temporal.NewNonRetryableApplicationError("the agent cannot take the interaction now", ErrTypeTargetUnavailable, nil)
	}
	w.st.InteractionState = next
	w.upsert(ctx, StatusKey.ValueSet(string(next.Status)))
	c := &consultation{AgentID: to, ID: id, RingUntil: res.RingUntil}
	w.consult = c
	workflow.Go(w.root, func(ctx workflow.Context) {
		answered, err := workflow.AwaitWithTimeout(ctx, max(c.RingUntil.Sub(workflow.Now(ctx)), time.Millisecond), func() bool { return w.consult != c || c.Connected })
		if err != nil || answered {
			return
		}
		if err := w.lock(ctx); err != nil {
			return
		}
		defer w.unlock()
		if w.consult == c && !c.Connected {
			w.endConsult(ctx, "no answer")
		}
	})
	return nil
}

// answerConsult settles the consulted agent's answer.
func (w *interaction) answerConsult(ctx workflow.Context, c *consultation, accept bool, reason string) (*InteractionState, error) {
	if err := w.lock(ctx); err != nil {
		return nil, err
	}
	defer w.unlock()
	switch {
	case w.consult != c:
		return nil, offerNotOpen("the consultation is over")
	case c.Connected && accept:
		return w.snapshot(), nil
	case !accept:
		if reason == "" {
			reason = "declined"
		}
		w.endConsult(ctx, reason)
		return w.snapshot(), nil
	}
	now := workflow.Now(ctx)
	next := w.st.InteractionState
	next.Version++
	u := pgstore.InteractionUpdate{TenantID: w.st.TenantID, InteractionID: w.st.ID, State: next,
		Events: []pgstore.TimelineEvent{{Type: events.ConsultationConnected, At: now, ActorID: c.AgentID, Data: map[string]any{"agentId": c.AgentID}}}}
	var res activities.ConsultResult
	err := w.call(ctx, "ConfirmConsultation", activities.ConsultRequest{
		TenantID: w.st.TenantID, AgentID: c.AgentID, ConsultationID: c.ID, QueueID: w.st.QueueID, Channel: w.st.Channel, Update: &u,
		Publish: []activities.Publication{{Type: events.ConsultationConnected, Agents: []string{w.st.AgentID, c.AgentID}, Detail: map[string]any{"agentId": c.AgentID}}},
	}).Get(ctx, &res)
	if err != nil {
		return nil, actionError(err)
	}
	if !res.OK {
		w.endConsult(ctx, "the consultation expired before it was answered")
		return nil, offerNotOpen("the consultation expired before it was accepted")
	}
	w.st.InteractionState = next
	c.Connected = true
	return w.snapshot(), nil
}

// endConsult ends the consultation: the target's slot is freed and they leave; the
// first agent keeps the interaction (on hold).
func (w *interaction) endConsult(ctx workflow.Context, reason string) {
	c := w.consult
	now := workflow.Now(ctx)
	next := w.st.InteractionState
	next.Participants = slices.Clone(next.Participants)
	for i, p := range next.Participants {
		if p.Consultation && p.UserID == c.AgentID && p.LeftAt == nil {
			next.Participants[i].LeftAt = &now
		}
	}
	next.Version++
	detail := map[string]any{"agentId": c.AgentID, "reason": reason}
	u := pgstore.InteractionUpdate{TenantID: w.st.TenantID, InteractionID: w.st.ID, State: next,
		Events: []pgstore.TimelineEvent{{Type: events.ConsultationEnded, At: now, Data: detail}}}
	err := w.call(ctx, "ReleaseConsultation", activities.ConsultRequest{
		TenantID: w.st.TenantID, AgentID: c.AgentID, ConsultationID: c.ID, QueueID: w.st.QueueID, Channel: w.st.Channel, Update: &u,
		Publish: []activities.Publication{{Type: events.ConsultationEnded, Agents: []string{w.st.AgentID, c.AgentID}, Detail: detail}},
	}).Get(ctx, nil)
	if err != nil {
		// Only a write refused for good ends here; the slot lapses or was freed.
		workflow.GetLogger(ctx).Error("consultation not ended cleanly", "error", err)
	}
	w.st.InteractionState = next
	w.consult = nil
}

func (w *interaction) validateConsult(in HoldInput, complete bool) error {
	if err := w.checkHeld(in.Actor, "a warm transfer"); err != nil {
		return err
	}
	switch {
	case w.consult == nil:
		return notAllowed("no warm transfer is in progress")
	case complete && !w.consult.Connected:
		return notAllowed("the consulted agent has not answered yet")
	}
	return nil
}

func (w *interaction) onCancelTransfer(ctx workflow.Context, in HoldInput) (*InteractionState, error) {
	return w.act(ctx, func() error { return w.validateConsult(in, false) }, func() error {
		w.endConsult(ctx, "cancelled")
		return nil
	})
}

// onCompleteTransfer hands the interaction to the consulted agent, who takes the
// customer off hold; the first agent lets go.
func (w *interaction) onCompleteTransfer(ctx workflow.Context, in HoldInput) (*InteractionState, error) {
	return w.act(ctx, func() error { return w.validateConsult(in, true) }, func() error {
		c := w.consult
		now := workflow.Now(ctx)
		from := w.st.AgentID
		next := w.st.InteractionState
		unhold(ctx, &next)
		next.AgentID, next.Transferred, next.Transfers = c.AgentID, true, next.Transfers+1
		next.Participants = slices.Clone(next.Participants)
		for i, p := range next.Participants {
			if p.Consultation && p.UserID == c.AgentID && p.LeftAt == nil {
				next.Participants[i].LeftAt = &now
			}
		}
		next.Version++
		detail := map[string]any{"from": from, "to": c.AgentID, "kind": "agent", "mode": "warm"}
		var ok bool
		err := w.call(ctx, "CompleteTransfer", activities.CompleteTransferRequest{
			FromAgentID: from, ToAgentID: c.AgentID, ConsultationID: c.ID,
			Update: pgstore.InteractionUpdate{TenantID: w.st.TenantID, InteractionID: w.st.ID, State: next,
				Events: []pgstore.TimelineEvent{{Type: events.InteractionTransferred, At: now, ActorID: in.ActorID, Data: detail}}},
			Publish:   []activities.Publication{{Type: events.InteractionTransferred, Agents: []string{from, c.AgentID}, Detail: detail}},
			FromVoice: w.voiceStep(ctx, from, routing.VoiceIdle), ToVoice: w.voiceStep(ctx, c.AgentID, routing.VoiceInCall),
		}).Get(ctx, &ok)
		if err != nil {
			return err
		}
		if !ok {
			w.endConsult(ctx, "the consultation was lost")
			return notAllowed("the consultation is over; the interaction stays with its agent")
		}
		w.st.InteractionState = next
		w.consult = nil
		w.upsert(ctx, StatusKey.ValueSet(string(next.Status)), AgentIDKey.ValueSet(c.AgentID))
		return nil
	})
}

// startOutbound gives an interaction an agent starts to that agent at once. When the
// agent cannot take it (logged out, or no room on the channel) it ends as failed.
func (w *interaction) startOutbound(ctx workflow.Context) {
	agent := w.in.AgentID
	now := workflow.Now(ctx)
	next := w.st.InteractionState
	next.Status, next.AgentID, next.ConnectedAt = pgstore.InteractionConnected, agent, &now
	next.Version++
	var res activities.OutboundResult
	err := w.call(ctx, "StartOutbound", activities.OutboundRequest{
		Interaction: w.st.Interaction, AgentID: agent, Voice: w.voiceStep(ctx, agent, routing.VoiceInCall),
		Connected: pgstore.InteractionUpdate{TenantID: w.st.TenantID, InteractionID: w.st.ID, State: next,
			Events: []pgstore.TimelineEvent{{Type: events.InteractionConnected, At: now, ActorID: agent}}},
	}).Get(ctx, &res)
	if err == nil {
		w.enqueued = true
		if res.QueueID != "" && res.QueueID != w.st.QueueID {
			w.st.QueueID = res.QueueID
		}
	}
	if err != nil || !res.OK {
		reason := "the agent could not take the interaction (logged out, or no room on the channel)"
		var refused *temporal.ApplicationError
		if errors.As(err, &refused) && refused.Type() == activities.ErrTypeDoNotCall {
			reason = refused.Message()
		} else if err != nil {
			workflow.GetLogger(ctx).Error("outbound start failed", "error", err)
		}
		w.outcome = pgstore.OutcomeFailed
		w.end = &EndInput{TenantID: w.st.TenantID, ActorID: agent, Reason: reason}
		return
	}
	w.st.InteractionState = next
	w.upsert(ctx, StatusKey.ValueSet(string(next.Status)), AgentIDKey.ValueSet(agent))
}
