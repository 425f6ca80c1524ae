package workflows

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"switchboard/activities"
	"switchboard/automation"
	"switchboard/events"
	"switchboard/pgstore"
	"switchboard/routing"
)

// InteractionWorkflowID names the workflow of one interaction. It owns the whole life
// of the interaction; callers reach it by ID alone.
func InteractionWorkflowID(id string) string { return "interaction/" + id }

// Updates, signal and query of the interaction workflow.
const (
	// AcceptUpdate is the offered agent taking the interaction (AcceptInput).
	AcceptUpdate = "accept"
	// RejectUpdate is the offered agent declining it (RejectInput).
	RejectUpdate = "reject"
	// EndUpdate ends the interaction (EndInput): the customer hung up or closed
	// the conversation, or the agent or a supervisor ended it.
	EndUpdate = "end"
	// ChangeQueueUpdate moves the interaction to another queue (ChangeQueueInput).
	ChangeQueueUpdate = "change-queue"
	// AgentAvailableSignal tells a waiting interaction that bulk assignment
	// reserved an agent's slot for it (AgentAvailable): it looks again and adopts
	// the reservation as its next offer.
	AgentAvailableSignal = "agent-available"
	// InteractionQuery answers the InteractionState.
	InteractionQuery = "state"
)

// Error types of refused updates, which the API maps to HTTP answers.
const (
	// ErrTypeInteractionNotFound: the interaction is another tenant's.
	ErrTypeInteractionNotFound = "InteractionNotFound"
	// ErrTypeNotYourOffer: the interaction is offered to another agent.
	ErrTypeNotYourOffer = "NotYourOffer"
	// ErrTypeOfferNotOpen: no offer is open to answer (not offered yet, already
	// answered, rung out, withdrawn).
	ErrTypeOfferNotOpen = "OfferNotOpen"
	// ErrTypeNotYourInteraction: an agent acting on an interaction they do not hold.
	ErrTypeNotYourInteraction = "NotYourInteraction"
	// ErrTypeInteractionOver: the interaction already ended.
	ErrTypeInteractionOver = "InteractionOver"
	// ErrTypeUnknownQueue: a queue change to a queue the tenant does not have.
	ErrTypeUnknownQueue = "UnknownQueue"
)

// DefaultRingTimeout is used when an offer comes without its ring deadline.
const DefaultRingTimeout = 20 * time.Second

// assignRecheck is how long an interaction nobody can take waits before it looks
// again by itself. Agents becoming free wake it at once (AgentAvailableSignal); this
// safety net only covers a wake-up that never came, such as a queue whose automatic
// assignment was switched back on.
const assignRecheck = time.Minute

// maxOfferRounds bounds the offer rounds (offers, and looks that found nobody) of one
// run: an interaction that waits long continues as new before its history grows
// large, carrying its state, even when Temporal does not suggest it yet.
const maxOfferRounds = 100

// voiceChange marks in a run's history that it keeps its agent's voice sub-state
// (ringing, in call, wrapping): runs started before it did not, and replay the same.
const voiceChange = "agent-voice-states"

// InteractionInput starts the workflow of a new interaction, already routed.
type InteractionInput struct {
	TenantID string          `json:"tenantId"`
	ID       string          `json:"id"`
	Channel  routing.Channel `json:"channel"`
	// Source is the sub-channel as received ("whatsapp", "web_chat"…).
	Source        string            `json:"source,omitempty"`
	Direction     pgstore.Direction `json:"direction"`
	From          string            `json:"from,omitempty"`
	To            string            `json:"to,omitempty"`
	CustomerPhone string            `json:"customerPhone,omitempty"`
	// Customer identifies the customer for the sticky-agent rule.
	Customer     string   `json:"customer,omitempty"`
	CustomerName string   `json:"customerName,omitempty"`
	Tags         []string `json:"tags,omitempty"`
	// QueueID is the queue routing chose (a UUID: the Default queue's when no
	// route matched), with the route's priority and required skills.
	QueueID        string           `json:"queueId"`
	RouteID        string           `json:"routeId,omitempty"`
	Priority       routing.Priority `json:"priority"`
	RequiredSkills []string         `json:"requiredSkills,omitempty"`
	// AgentID is the agent who starts an outbound interaction: it is theirs at
	// once, never offered.
	AgentID string `json:"agentId,omitempty"`
	// CampaignID is the campaign named at creation (empty: the Default campaign).
	CampaignID string            `json:"campaignId,omitempty"`
	Metadata   map[string]string `json:"metadata,omitempty"`
	// CustomerID is the customer record it is linked to from the start.
	CustomerID string `json:"customerId,omitempty"`
	// FormID is the conversation form its facts chose (a form's trigger, else the
	// default form); empty shows the default form.
	FormID    string    `json:"formId,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	// OutsideHours is set when the queue was closed at the creation of a new
	// inbound conversation (live chat, messaging, email): it gets the away message,
	// then is closed or waits for the opening (see outsideHours).
	OutsideHours *OutsideHours `json:"outsideHours,omitempty"`
	// Waiting is the waiting strategy of the sender a new inbound conversation
	// reached (see startWaiting); nil: it waits without messages.
	Waiting *pgstore.WaitingStrategySettings `json:"waiting,omitempty"`
	// Carried is the state of a queued interaction handed over by continue-as-new;
	// a new interaction has none.
	Carried *InteractionCarry `json:"carried,omitempty"`
	// Media is the SIP call of a voice interaction a media host answered (see
	// MediaCall); nil for any other.
	Media *MediaCall `json:"media,omitempty"`
	// Facts are what the conversation's SLA policy conditions test (those its
	// route tested); nil: the interaction's own fields.
	Facts *routing.Facts `json:"facts,omitempty"`
}

// InteractionCarry is what a run hands to the next one when it continues as new.
type InteractionCarry struct {
	// State is the interaction as the run held it (queued), with its excluded
	// agents, offer count and read-model version.
	State InteractionState `json:"state"`
	// Enqueued: the read model has the interaction.
	Enqueued bool `json:"enqueued"`
	// Woken are the agents of wake-ups that arrived since the run last looked;
	// the next run's first look covers them.
	Woken []string `json:"woken,omitempty"`
	// Waiting is how far its waiting strategy went; nil when it has none.
	Waiting *WaitingProgress `json:"waiting,omitempty"`
	// SLA is what its SLA clock was told; nil when it feeds none.
	SLA *SLALink `json:"sla,omitempty"`
}

// InteractionState is the interaction as the workflow holds it: the query's answer,
// the updates' result and the workflow's result. Its read-model part is what the
// workflow writes to PostgreSQL.
type InteractionState struct {
	pgstore.Interaction
	// RingUntil is when the open offer stops ringing (status offered).
	RingUntil *time.Time `json:"ringUntil,omitempty"`
}

// AcceptInput is the offered agent accepting.
type AcceptInput struct {
	TenantID string `json:"tenantId"`
	AgentID  string `json:"agentId"`
}

// RejectInput is the offered agent declining.
type RejectInput struct {
	TenantID string `json:"tenantId"`
	AgentID  string `json:"agentId"`
	Reason   string `json:"reason,omitempty"`
}

// EndInput ends the interaction.
type EndInput struct {
	TenantID string `json:"tenantId"`
	// ActorID is who ended it (a user, or an integration's user).
	ActorID string `json:"actorId,omitempty"`
	// AgentID is set when the caller is an agent, who may end only an interaction
	// they hold.
	AgentID string `json:"agentId,omitempty"`
	Reason  string `json:"reason,omitempty"`
}

// ChangeQueueInput moves the interaction to another queue of the tenant.
type ChangeQueueInput struct {
	TenantID string `json:"tenantId"`
	// ActorID is who moved it.
	ActorID string `json:"actorId,omitempty"`
	// AgentID is set when the caller is an agent, who may move only an interaction
	// they hold.
	AgentID string `json:"agentId,omitempty"`
	QueueID string `json:"queueId"`
}

// AgentAvailable is the payload of AgentAvailableSignal.
type AgentAvailable struct {
	AgentID string `json:"agentId"`
}

// Interaction is the workflow of one interaction. This part of its life is the ACD's:
// queued → offered → connected → ended, or abandoned when the customer leaves first.
//
// While queued it makes offers: an activity chooses the agent on a fresh snapshot of
// PostgreSQL and Redis (routing.Choose: sticky agent, else the weighted sum, never an
// agent who already had it) and reserves one of their slots atomically, with a TTL of
// the ring timeout plus a margin, so a crash never leaves a slot reserved. The offer
// rings until the agent accepts or rejects (updates, validated so that only the
// offered agent may answer) or the ring timeout passes; a rejection or timeout frees
// the slot, excludes the agent and offers again. When nobody can take it, it waits
// durably: whoever frees or brings an agent (the API at login and on a status change
// to the Available group; any interaction that releases a slot) runs bulk assignment,
// which reserves the agent for the waiting interactions they should take, in priority
// then age order, and wakes them with AgentAvailableSignal; the woken interaction
// adopts its reservation as its next offer. A long timer is only a safety net, and a
// long wait continues as new before the history grows large.
//
// A queue change (ChangeQueueUpdate) moves it: an agent it rings on or who holds it
// keeps it when they are a member of the new queue, otherwise the offer is withdrawn
// or the agent unassigned (and excluded, as an agent who had it), and it is offered
// in the new queue. A call keeps its agent's voice sub-state: ringing while offered,
// in a call once accepted, wrapping for the agent's wrap-up time once ended (a
// durable timer, after which the agent gets the waiting interactions they should
// take), idle otherwise; each change is set in presence and told to the agent's
// session workflow, dated by the presence clock.
func Interaction(ctx workflow.Context, in InteractionInput) (*InteractionState, error) {
	w := &interaction{in: in}
	if err := w.setup(ctx); err != nil {
		return nil, err
	}
	return w.run(ctx)
}

type interaction struct {
	in   InteractionInput
	st   InteractionState
	wake workflow.ReceiveChannel
	// hints are wake-ups carried over from the previous run.
	hints []string
	// enqueued: the read model has the interaction.
	enqueued bool
	// offering: an offer is being made; an agent answering it meanwhile waits.
	offering bool
	// deciding: the open offer is being closed; it takes no new answers.
	deciding bool
	answer   *answer
	end      *EndInput
	// move is a queue change waiting for the main loop.
	move *queueMove
	// rounds counts this run's offer rounds.
	rounds int
	// voice: whether this run keeps the agent's voice sub-state (calls of runs
	// started since it does); nil until first needed.
	voice *bool
	// lifecycle: this run keeps the whole lifecycle (see lifecycleChange).
	lifecycle bool
	// local: this run calls its activities as local activities (see localChange).
	local bool
	// busy: a change of the state is being written (see lock).
	busy bool
	// transferOut is the state of a transfer to an external number, which ends
	// the interaction for its agent; transferDetail describes it.
	transferOut    *pgstore.InteractionState
	transferDetail map[string]any
	// outcome is how a channel said an outbound interaction ended.
	outcome pgstore.Outcome
	// voiceIdle: the agent's wrap-up of this call is over (or there is none);
	// voiceUntil is when it ends by itself.
	voiceIdle  bool
	voiceUntil *time.Time // consult is the consultation of a warm transfer in progress; root is the
	// workflow's context, for its ring timer.
	consult *consultation
	root    workflow.Context
	// snooze is the conversation's snooze timer (see armSnooze).
	snooze *snoozeTimer
	// waiting is the progress of the waiting strategy (see startWaiting).
	waiting *WaitingProgress
	// sla is what the conversation's SLA clock was told; nil when this run feeds
	// none (see setupSLA).
	sla *SLALink
	// cause is the automation whose change is being made, under the lock; its
	// events carry it (see AutomationUpdate).
	cause *automation.Cause
}

// answer is an agent's answer to the open offer, settled by the main loop.
type answer struct {
	attempt int
	agentID string
	accept  bool
	reason  string
	done    bool
	err     error
}

// queueMove is a queue change, settled by the main loop.
type queueMove struct {
	in   ChangeQueueInput
	done bool
	err  error
}

func (w *interaction) setup(ctx workflow.Context) error {
	in := w.in
	if in.TenantID == "" || in.ID == "" || in.QueueID == "" || !in.Channel.Valid() || in.CreatedAt.IsZero() {
		return temporal.NewNonRetryableApplicationError("an interaction needs a tenant, an ID, a channel, a queue and its creation time", "InvalidInput", nil)
	}
	direction := in.Direction
	if direction == "" {
		direction = pgstore.Inbound
	}
	w.st = InteractionState{Interaction: pgstore.Interaction{
		ID: in.ID, TenantID: in.TenantID, WorkflowID: workflow.GetInfo(ctx).WorkflowExecution.ID,
		Channel: in.Channel, Source: in.Source, Direction: direction, From: in.From, To: in.To,
		CustomerPhone: in.CustomerPhone, Customer: in.Customer, CustomerName: in.CustomerName,
		Tags: slices.Clone(in.Tags), QueueID: in.QueueID, RouteID: in.RouteID, Priority: in.Priority,
		CampaignID: in.CampaignID, Metadata: in.Metadata, FormID: in.FormID,
		RequiredSkills: slices.Clone(in.RequiredSkills), CreatedAt: in.CreatedAt,
		InteractionState: pgstore.InteractionState{Status: pgstore.InteractionQueued, QueuedAt: in.CreatedAt, CustomerID: in.CustomerID},
	}}
	if c := in.Carried; c != nil {
		if c.State.ID != in.ID || c.State.TenantID != in.TenantID || c.State.Status != pgstore.InteractionQueued || c.State.QueueID == "" {
			return temporal.NewNonRetryableApplicationError("a carried interaction must be this one, queued", "InvalidInput", nil)
		}
		w.st, w.enqueued, w.hints = c.State, c.Enqueued, slices.Clone(c.Woken)
	}
	w.lifecycle = workflow.GetVersion(ctx, lifecycleChange, workflow.DefaultVersion, 1) >= 1
	w.local = workflow.GetVersion(ctx, localChange, workflow.DefaultVersion, 1) >= 1
	if w.lifecycle && in.Carried == nil && in.Channel != routing.Voice {
		w.st.ConversationStatus = pgstore.ConversationOpen
	}
	if w.lifecycle {
		if err := w.registerLifecycle(ctx); err != nil {
			return err
		}
	}
	w.setupSLA(ctx)
	if err := workflow.SetQueryHandler(ctx, InteractionQuery, func() (InteractionState, error) { return w.st, nil }); err != nil {
		return err
	}
	handlers := []struct {
		name      string
		handler   any
		validator any
	}{
		{AcceptUpdate, w.onAccept, func(in AcceptInput) error { return w.validateAnswer(in.TenantID, in.AgentID, true) }},
		{RejectUpdate, w.onReject, func(in RejectInput) error { return w.validateAnswer(in.TenantID, in.AgentID, false) }},
		{EndUpdate, w.onEnd, w.validateEnd},
		{ChangeQueueUpdate, w.onChangeQueue, w.validateChangeQueue},
	}
	for _, h := range handlers {
		if err := workflow.SetUpdateHandlerWithOptions(ctx, h.name, h.handler, workflow.UpdateHandlerOptions{Validator: h.validator}); err != nil {
			return err
		}
	}
	w.wake = workflow.GetSignalChannel(ctx, AgentAvailableSignal)
	if _, ok := workflow.GetTypedSearchAttributes(ctx).GetKeyword(InteractionIDKey); ok && in.Carried == nil {
		return nil // started with its search attributes (the API always does)
	}
	attrs := []temporal.SearchAttributeUpdate{
		InteractionIDKey.ValueSet(in.ID), TenantIDKey.ValueSet(in.TenantID), ChannelKey.ValueSet(string(in.Channel)),
		DirectionKey.ValueSet(string(direction)), QueueIDKey.ValueSet(w.st.QueueID), StatusKey.ValueSet(string(w.st.Status)),
	}
	if in.CustomerPhone != "" {
		attrs = append(attrs, CustomerPhoneKey.ValueSet(in.CustomerPhone))
	}
	return workflow.UpsertTypedSearchAttributes(ctx, attrs...)
}

func (w *interaction) run(ctx workflow.Context) (*InteractionState, error) {
	if w.lifecycle && w.in.AgentID != "" && w.in.Carried == nil && !w.enqueued {
		w.startOutbound(ctx)
		w.mediaDial(ctx)
	}
	if w.lifecycle && w.in.OutsideHours != nil && w.in.AgentID == "" && w.in.Carried == nil && !w.enqueued &&
		w.st.Direction == pgstore.Inbound && w.st.Channel != routing.Voice &&
		workflow.GetVersion(ctx, hoursChange, workflow.DefaultVersion, 1) >= 1 {
		if err := w.outsideHours(ctx); err != nil {
			return nil, err
		}
	}
	if w.lifecycle && w.in.Waiting != nil {
		w.startWaiting(ctx)
	}
	w.watchMedia(ctx)
	for w.st.Status.Active() {
		var err error
		if w.st.Status.Held() {
			agent := w.st.AgentID
			err = w.connected(ctx)
			if err == nil && w.st.Status.Active() && !w.st.Status.Held() {
				w.mediaAgentLeft(ctx, agent) // transferred away
			}
		} else {
			err = w.assign(ctx)
		}
		if err != nil {
			return nil, err
		}
	}
	if m := w.move; m != nil {
		w.move, m.done, m.err = nil, true, interactionOver(w.st.Status)
	}
	w.takeHints() // wake-ups for a run that no longer waits
	if w.lifecycle {
		if err := w.wrapUpUntilDisposed(ctx, w.voiceUntil); err != nil {
			return nil, err
		}
	} else if err := w.wrapUp(ctx); err != nil {
		return nil, err
	}
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return nil, err
	}
	return &w.st, nil
}

// assign offers the interaction until an agent accepts it or it ends. It returns the
// continue-as-new error when the run has waited long enough.
func (w *interaction) assign(ctx workflow.Context) error {
	if w.st.Status == pgstore.InteractionOffered {
		// Handed over to an agent by a transfer: it rings on them first.
		w.mediaRing(ctx)
		if err := w.ring(ctx); err != nil {
			return err
		}
	}
	for w.st.Status == pgstore.InteractionQueued {
		if w.end != nil {
			return w.locked(ctx, w.finish)
		}
		if w.move != nil {
			if err := w.locked(ctx, w.applyMove); err != nil {
				return err
			}
			continue
		}
		if w.rounds >= maxOfferRounds || workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			// Never while an update is being handled: it would be lost with this run.
			if err := workflow.Await(ctx, func() bool {
				return workflow.AllHandlersFinished(ctx) || w.end != nil || w.move != nil
			}); err != nil {
				return err
			}
			if w.end != nil || w.move != nil {
				continue
			}
			return w.continueAsNew(ctx)
		}
		w.rounds++
		w.takeHints() // this look covers every wake-up so far
		if err := w.lock(ctx); err != nil {
			return err
		}
		res, err := w.offer(ctx)
		w.unlock()
		switch {
		case err != nil:
			workflow.GetLogger(ctx).Error("offer failed", "error", err)
		case res.Offered:
			w.setVoice(ctx, w.st.OfferedAgentID, routing.VoiceRinging, false)
			w.mediaRing(ctx)
			if err := w.ring(ctx); err != nil {
				return err
			}
			continue
		case res.Contended:
			continue
		}
		// Nobody can take it now: wait for bulk assignment to reserve an agent for
		// it (and wake it), or for the safety recheck.
		if _, err := workflow.AwaitWithTimeout(ctx, assignRecheck, func() bool {
			return w.wake.Len() > 0 || w.end != nil || w.move != nil
		}); err != nil {
			return err
		}
	}
	return nil
}

// continueAsNew hands the queued interaction to a new run, with the wake-ups that
// arrived since the last look.
func (w *interaction) continueAsNew(ctx workflow.Context) error {
	in := w.in
	in.Carried = &InteractionCarry{State: w.st, Enqueued: w.enqueued, Woken: w.takeHints()}
	if w.waiting != nil {
		p := *w.waiting
		in.Carried.Waiting = &p
	}
	if w.sla != nil {
		l := *w.sla
		in.Carried.SLA = &l
	}
	workflow.GetLogger(ctx).Info("continuing as new", "rounds", w.rounds, "offers", w.st.Offers)
	return workflow.NewContinueAsNewError(ctx, Interaction, in)
}

// offer runs one offer and, when an agent's slot was reserved, moves to offered.
func (w *interaction) offer(ctx workflow.Context) (activities.OfferResult, error) {
	w.offering = true
	defer func() { w.offering = false }()
	attempt := w.st.Offers + 1
	var res activities.OfferResult
	req := activities.OfferRequest{Interaction: w.st.Interaction, Enqueue: !w.enqueued, Attempt: attempt, Version: w.st.Version + 1}
	// In runs with local activities the first offer is made in the workflow task
	// that starts the run: no round trip through the activity task queue between a
	// new interaction and its first offer.
	err := w.call(ctx, "OfferInteraction", req).Get(ctx, &res)
	if err != nil {
		return res, err
	}
	w.enqueued = true
	if res.QueueID != "" && res.QueueID != w.st.QueueID {
		// The routed queue was deleted before the interaction was written.
		w.st.QueueID = res.QueueID
		w.upsert(ctx, QueueIDKey.ValueSet(res.QueueID))
	}
	if !res.Offered {
		return res, nil
	}
	at, until := res.OfferedAt, res.RingUntil
	if until.IsZero() {
		until = workflow.Now(ctx).Add(DefaultRingTimeout)
	}
	w.st.Status, w.st.OfferedAgentID, w.st.Offers, w.st.OfferedAt, w.st.RingUntil = pgstore.InteractionOffered, res.AgentID, attempt, &at, &until
	w.st.Version++
	w.upsert(ctx, StatusKey.ValueSet(string(pgstore.InteractionOffered)), AgentIDKey.ValueSet(res.AgentID))
	return res, nil
}

// ring waits for the offered agent's answer, the end of the ring (before the
// reservation lapses, so an offer never outlives its slot) or the end of the
// interaction, and settles the offer. A queue change meanwhile keeps the offer open
// when the agent is a member of the new queue and withdraws it otherwise.
func (w *interaction) ring(ctx workflow.Context) error {
	tctx, cancel := workflow.WithCancel(ctx)
	defer cancel()
	fired := false
	timer := workflow.NewTimer(tctx, max(w.st.RingUntil.Sub(workflow.Now(ctx)), time.Millisecond))
	workflow.Go(ctx, func(ctx workflow.Context) { fired = timer.Get(ctx, nil) == nil })
	for {
		if err := workflow.Await(ctx, func() bool { return fired || w.answer != nil || w.end != nil || w.move != nil }); err != nil {
			return err
		}
		if fired || w.answer != nil || w.end != nil {
			break
		}
		if err := w.locked(ctx, w.applyMove); err != nil {
			return err
		}
		if w.st.Status != pgstore.InteractionOffered {
			// Withdrawn: the agent is not in the new queue.
			if a := w.answer; a != nil && !a.done {
				a.done, a.err = true, offerNotOpen("the offer was withdrawn: the interaction moved to a queue the agent is not in")
			}
			w.answer = nil
			return nil
		}
	}
	w.deciding = true
	defer func() { w.deciding = false }()
	if err := w.lock(ctx); err != nil {
		return err
	}
	defer w.unlock()
	a := w.answer
	switch {
	case w.end != nil:
		w.release(ctx, pgstore.OfferReleased, "the interaction ended while ringing")
	case a != nil && a.accept:
		w.connect(ctx)
	case a != nil:
		w.release(ctx, pgstore.OfferRejected, a.reason)
		a.done = true
	default:
		w.release(ctx, pgstore.OfferTimeout, "no answer")
	}
	if a != nil && !a.done {
		a.done, a.err = true, offerNotOpen("the offer was withdrawn: the interaction ended")
	}
	w.answer = nil
	return nil
}

// connect confirms the offered agent's reservation as a held slot.
func (w *interaction) connect(ctx workflow.Context) {
	a := w.answer
	now := workflow.Now(ctx)
	next := w.st.InteractionState
	next.Status, next.AgentID, next.OfferedAgentID, next.ConnectedAt = pgstore.InteractionConnected, w.st.OfferedAgentID, "", &now
	next.Version++
	var ok bool
	// The interaction travels with the confirmation for its screen pop.
	ix := w.st.Interaction
	err := w.call(ctx, "ConfirmOffer", activities.ConfirmRequest{
		AgentID: w.st.OfferedAgentID,
		Update: pgstore.InteractionUpdate{TenantID: w.st.TenantID, InteractionID: w.st.ID, State: next,
			Response: &pgstore.OfferResponse{Attempt: a.attempt, Outcome: pgstore.OfferAccepted, RespondedAt: now},
			Events:   []pgstore.TimelineEvent{{Type: events.InteractionConnected, At: now, ActorID: w.st.OfferedAgentID}}},
		Voice:       w.voiceStep(ctx, w.st.OfferedAgentID, routing.VoiceInCall),
		Interaction: &ix,
	}).Get(ctx, &ok)
	if err != nil || !ok {
		// The reservation lapsed (the run was held up past it): the offer is void.
		if err != nil {
			workflow.GetLogger(ctx).Error("confirm failed", "error", err)
		}
		w.release(ctx, pgstore.OfferTimeout, "the reservation lapsed before the answer")
		a.done, a.err = true, offerNotOpen("the offer expired before it was accepted")
		return
	}
	w.st.InteractionState, w.st.RingUntil = next, nil
	w.upsert(ctx, StatusKey.ValueSet(string(pgstore.InteractionConnected)))
	a.done = true
}

// release frees the offered agent's slot: the interaction is queued again without
// that agent, or abandoned when it ended while ringing.
func (w *interaction) release(ctx workflow.Context, outcome pgstore.OfferOutcome, reason string) {
	agent := w.st.OfferedAgentID
	w.mediaOfferClosed(ctx, agent, outcome, reason)
	now := workflow.Now(ctx)
	next := w.st.InteractionState
	next.OfferedAgentID = ""
	if outcome == pgstore.OfferReleased {
		next.Status, next.EndedAt, next.EndReason = pgstore.InteractionAbandoned, &now, w.end.Reason
	} else {
		next.Status = pgstore.InteractionQueued
		next.ExcludedAgents = append(slices.Clone(next.ExcludedAgents), agent)
	}
	next.Version++
	if outcome == pgstore.OfferReleased && w.lifecycle {
		next.Outcome = pgstore.OutcomeAbandoned
		// The maximum wait of the waiting strategy closes the conversation even when
		// it rings on an agent who has not accepted yet.
		if next.ConversationStatus == pgstore.ConversationSnoozed || (w.end.Reason == MaxWaitReason && next.ConversationStatus != "") {
			next.ConversationStatus, next.SnoozedUntil = pgstore.ConversationClosed, nil
		}
	}
	w.releaseSlot(ctx, agent, pgstore.InteractionUpdate{TenantID: w.st.TenantID, InteractionID: w.st.ID, State: next,
		Response: &pgstore.OfferResponse{Attempt: w.st.Offers, Outcome: outcome, RespondedAt: now, Reason: reason},
		Events: []pgstore.TimelineEvent{{Type: events.InteractionOfferClosed, At: now,
			Data: map[string]any{"agentId": agent, "outcome": string(outcome), "reason": reason}}}},
		w.voiceStep(ctx, agent, routing.VoiceIdle))
	w.st.RingUntil = nil
	w.upsert(ctx, StatusKey.ValueSet(string(next.Status)), AgentIDKey.ValueUnset())
}

// connected waits for the end of a connected interaction, or for a queue change that
// takes it from its agent.
func (w *interaction) connected(ctx workflow.Context) error {
	for w.st.Status.Held() {
		if err := workflow.Await(ctx, func() bool { return w.end != nil || w.move != nil || !w.st.Status.Held() }); err != nil {
			return err
		}
		if !w.st.Status.Held() {
			return nil // transferred away
		}
		if w.end != nil {
			// A transfer holding the lock may take it from the agent meanwhile: then
			// the main loop ends it as it is by then (queued, or ringing on the
			// target, whose reservation is released).
			return w.locked(ctx, func(ctx workflow.Context) {
				if w.st.Status.Held() {
					w.finish(ctx)
				}
			})
		}
		if err := w.locked(ctx, w.applyMove); err != nil {
			return err
		}
	}
	return nil
}

// locked runs fn under the lock (see lock).
func (w *interaction) locked(ctx workflow.Context, fn func(workflow.Context)) error {
	if err := w.lock(ctx); err != nil {
		return err
	}
	defer w.unlock()
	fn(ctx)
	return nil
}

// finish ends a queued or connected interaction, freeing the agent's slot. An
// ended call puts its agent in wrap-up first, which wrapUp then waits out.
func (w *interaction) finish(ctx workflow.Context) {
	if w.consult != nil {
		w.endConsult(ctx, "the interaction ended")
	}
	w.mediaHangup(ctx, w.end.Reason)
	now := workflow.Now(ctx)
	next := w.st.InteractionState
	if w.transferOut != nil {
		next = *w.transferOut
	}
	next.Status = pgstore.InteractionAbandoned
	if next.AgentID != "" {
		next.Status = pgstore.InteractionEnded
	}
	next.EndedAt, next.EndReason = &now, w.end.Reason
	next.Version++
	var tl []pgstore.TimelineEvent
	if w.lifecycle {
		unhold(ctx, &next)
		next.Outcome = pgstore.OutcomeAbandoned
		if next.Status == pgstore.InteractionEnded {
			next.Outcome = pgstore.OutcomeCompleted
		}
		if w.outcome != "" {
			next.Outcome = w.outcome
		}
		if next.ConversationStatus != "" {
			next.ConversationStatus, next.SnoozedUntil = pgstore.ConversationClosed, nil
		}
		if w.transferOut != nil {
			tl = append(tl, pgstore.TimelineEvent{Type: events.InteractionTransferred, At: now, ActorID: w.end.ActorID, Data: w.transferDetail})
		}
		tl = append(tl, pgstore.TimelineEvent{Type: events.InteractionEnded, At: now, ActorID: w.end.ActorID,
			Data: map[string]any{"reason": w.end.Reason, "outcome": string(next.Outcome)}})
	}
	var voice *activities.VoiceStep
	if next.Status == pgstore.InteractionEnded {
		// Wrapping does not hold the voice slot: the bulk assignment that follows
		// the release may give the agent another call during the wrap-up.
		voice = w.voiceStep(ctx, next.AgentID, routing.VoiceWrapping)
	}
	var wrap *activities.WrapUpRequest
	if w.lifecycle && next.Status == pgstore.InteractionEnded {
		wrap = &activities.WrapUpRequest{CampaignID: w.st.CampaignID}
	}
	res := w.releaseWith(ctx, next.AgentID, pgstore.InteractionUpdate{TenantID: w.st.TenantID, InteractionID: w.st.ID, State: next, Events: tl}, voice, wrap)
	if c := res.Campaign; c != nil {
		w.st.CampaignID = c.ID
		if c.WrapUpTimeoutSeconds > 0 {
			until := now.Add(time.Duration(c.WrapUpTimeoutSeconds) * time.Second)
			w.st.WrapUpUntil = &until
		}
	}
	if w.transferOut != nil {
		w.publishTransfer(ctx)
	}
	if voice != nil {
		var wrap time.Duration
		if res.Voice != nil {
			wrap = res.Voice.WrapUp
		}
		until := now.Add(wrap)
		w.voiceUntil = &until
	}
	w.upsert(ctx, StatusKey.ValueSet(string(next.Status)))
}

// publishTransfer tells the feed of a transfer to an external number, once the
// interaction ended for its agent.
func (w *interaction) publishTransfer(ctx workflow.Context) {
	err := w.call(ctx, "PublishEvents", activities.PublishRequest{
		Update:  pgstore.InteractionUpdate{TenantID: w.st.TenantID, InteractionID: w.st.ID, State: w.st.InteractionState},
		Publish: []activities.Publication{{Type: events.InteractionTransferred, Detail: w.transferDetail}},
	}).Get(ctx, nil)
	if err != nil {
		workflow.GetLogger(ctx).Error("transfer not published", "error", err)
	}
}

// wrapUp waits out the agent's wrap-up after an ended call (a durable timer), then
// makes the agent idle and gives them the waiting interactions they should take.
func (w *interaction) wrapUp(ctx workflow.Context) error {
	if w.voiceUntil == nil {
		return nil
	}
	if d := w.voiceUntil.Sub(workflow.Now(ctx)); d > 0 {
		if err := workflow.Sleep(ctx, d); err != nil {
			return err
		}
	}
	w.setVoice(ctx, w.st.AgentID, routing.VoiceIdle, true)
	return nil
}

// applyMove settles the pending queue change in whatever state the interaction is.
// An activity checks the queue and whether the agent the interaction rings on or is
// held by is a member of it, and writes the state that follows: kept, or (not a
// member) queued again, the offer withdrawn or the agent unassigned and excluded, as
// an agent who had it is not offered it again. Then the agent's slot is freed (and
// bulk assignment runs for them); the main loop offers it in the new queue.
func (w *interaction) applyMove(ctx workflow.Context) {
	m := w.move
	defer func() { w.move, m.done = nil, true }()
	if !w.st.Status.Active() || w.end != nil {
		m.err = interactionOver(w.st.Status)
		return
	}
	if m.in.QueueID == w.st.QueueID {
		return
	}
	now := workflow.Now(ctx)
	kept := w.st.InteractionState
	kept.Version++
	moved := []pgstore.TimelineEvent{{Type: events.InteractionQueueChanged, At: now, ActorID: m.in.ActorID,
		Data: map[string]any{"from": w.st.QueueID, "to": m.in.QueueID}}}
	change := pgstore.QueueChange{QueueID: m.in.QueueID,
		Kept: pgstore.InteractionUpdate{TenantID: w.st.TenantID, InteractionID: w.st.ID, State: kept, Events: moved}}
	agent := ""
	switch w.st.Status {
	case pgstore.InteractionOffered:
		agent = w.st.OfferedAgentID
		next := kept
		next.Status, next.OfferedAgentID = pgstore.InteractionQueued, ""
		change.Unassigned = &pgstore.InteractionUpdate{TenantID: w.st.TenantID, InteractionID: w.st.ID, State: next, Events: moved,
			Response: &pgstore.OfferResponse{Attempt: w.st.Offers, Outcome: pgstore.OfferReleased, RespondedAt: now,
				Reason: "the interaction moved to a queue the agent is not in"}}
	case pgstore.InteractionConnected, pgstore.InteractionOnHold:
		agent = w.st.AgentID
		next := kept
		unhold(ctx, &next)
		next.Status, next.AgentID, next.ConnectedAt = pgstore.InteractionQueued, "", nil
		next.ExcludedAgents = append(slices.Clone(next.ExcludedAgents), agent)
		change.Unassigned = &pgstore.InteractionUpdate{TenantID: w.st.TenantID, InteractionID: w.st.ID, State: next, Events: moved}
	}
	change.AgentID = agent
	req := activities.MoveRequest{Change: change}
	if !w.enqueued {
		enqueue := w.st.Interaction
		req.Enqueue = &enqueue
	}
	var res activities.MoveResult
	if err := w.call(ctx, "MoveInteraction", req).Get(ctx, &res); err != nil {
		var app *temporal.ApplicationError
		if errors.As(err, &app) && app.Type() == activities.ErrTypeUnknownQueue {
			m.err = temporal.NewNonRetryableApplicationError("no such queue in this tenant", ErrTypeUnknownQueue, nil)
			return
		}
		workflow.GetLogger(ctx).Error("queue change failed", "queue", m.in.QueueID, "error", err)
		m.err = temporal.NewApplicationError("the queue change failed; try again", "QueueChangeFailed")
		return
	}
	w.enqueued = true
	w.st.QueueID = m.in.QueueID
	w.upsert(ctx, QueueIDKey.ValueSet(m.in.QueueID))
	if agent == "" || res.Member {
		w.st.InteractionState = kept
		return
	}
	w.releaseSlot(ctx, agent, *change.Unassigned, w.voiceStep(ctx, agent, routing.VoiceIdle))
	w.st.RingUntil = nil
	w.upsert(ctx, StatusKey.ValueSet(string(pgstore.InteractionQueued)), AgentIDKey.ValueUnset())
}

// releaseSlot runs ReleaseSlot (ReleaseCall with a voice step, for a call), which
// also gives the freed agent the waiting interactions they should take, and takes
// its state.
func (w *interaction) releaseSlot(ctx workflow.Context, agent string, u pgstore.InteractionUpdate, voice *activities.VoiceStep) activities.ReleaseResult {
	return w.releaseWith(ctx, agent, u, voice, nil)
}

// releaseWith is releaseSlot that also starts the wrap-up of an ended interaction.
func (w *interaction) releaseWith(ctx workflow.Context, agent string, u pgstore.InteractionUpdate, voice *activities.VoiceStep, wrap *activities.WrapUpRequest) activities.ReleaseResult {
	var res activities.ReleaseResult
	req := activities.ReleaseRequest{AgentID: agent, Update: u, Voice: voice, WrapUp: wrap}
	var err error
	if voice != nil || wrap != nil {
		err = w.call(ctx, "ReleaseCall", req).Get(ctx, &res)
	} else {
		err = w.call(ctx, "ReleaseSlot", req).Get(ctx, &res.Woken)
	}
	if err != nil {
		// Only a write refused as invalid ends here (others are retried): the run
		// goes on; the slot was freed all the same.
		workflow.GetLogger(ctx).Error("release failed", "error", err)
	}
	w.st.InteractionState = u.State
	return res
}

// tracksVoice reports whether this run keeps its agent's voice sub-state: calls
// only, and only runs whose history says so (see voiceChange).
func (w *interaction) tracksVoice(ctx workflow.Context) bool {
	if w.st.Channel != routing.Voice {
		return false
	}
	if w.voice == nil {
		on := workflow.GetVersion(ctx, voiceChange, workflow.DefaultVersion, 1) >= 1
		w.voice = &on
	}
	return *w.voice
}

// voiceStep is the step of the agent's voice sub-state for this call, with the
// agent's session workflow to tell; nil for an interaction that keeps none.
func (w *interaction) voiceStep(ctx workflow.Context, agent string, state routing.VoiceState) *activities.VoiceStep {
	if agent == "" || !w.tracksVoice(ctx) {
		return nil
	}
	return &activities.VoiceStep{State: state, SessionWorkflowID: AgentSessionWorkflowID(w.st.TenantID, agent), SessionSignal: AgentVoiceSignal}
}

// setVoice moves the agent's voice sub-state for this call on its own (the call
// rings, or the wrap-up is over), from the workflow's state, so that a retried or
// replayed step sets the same; offerWaiting then runs bulk assignment for the agent.
// The activity tells the agent's session workflow, dated by the presence clock.
func (w *interaction) setVoice(ctx workflow.Context, agent string, state routing.VoiceState, offerWaiting bool) {
	step := w.voiceStep(ctx, agent, state)
	if step == nil {
		return
	}
	var res activities.VoiceResult
	err := w.call(ctx, "SetAgentVoice", activities.VoiceRequest{
		TenantID: w.st.TenantID, AgentID: agent, InteractionID: w.st.ID, Step: *step, OfferWaiting: offerWaiting,
	}).Get(ctx, &res)
	if err != nil {
		workflow.GetLogger(ctx).Error("voice state not set", "agent", agent, "state", state, "error", err)
	}
}

// takeHints takes every wake-up received so far (and those carried over from the
// previous run) and returns their agents, once each, sorted.
func (w *interaction) takeHints() []string {
	out := w.hints
	w.hints = nil
	for {
		var v AgentAvailable
		if !w.wake.ReceiveAsync(&v) {
			break
		}
		if v.AgentID != "" && !slices.Contains(out, v.AgentID) {
			out = append(out, v.AgentID)
		}
	}
	slices.Sort(out)
	return out
}

func (w *interaction) upsert(ctx workflow.Context, attrs ...temporal.SearchAttributeUpdate) {
	if err := workflow.UpsertTypedSearchAttributes(ctx, attrs...); err != nil {
		workflow.GetLogger(ctx).Warn("search attributes not set", "error", err)
	}
}

// validateAnswer admits an accept or reject from the offered agent only. While an
// offer is being made the answer is admitted and waits to see whom it went to: the
// read model shows the offer before this run has seen the activity's result.
func (w *interaction) validateAnswer(tenantID, agentID string, accept bool) error {
	st := &w.st
	if c := w.consult; c != nil && tenantID == st.TenantID && agentID == c.AgentID {
		if c.Connected && !accept {
			return offerNotOpen("the consultation was already answered")
		}
		return nil
	}
	switch {
	case tenantID != st.TenantID:
		return notFound()
	case accept && st.Status == pgstore.InteractionConnected && st.AgentID == agentID:
		return nil // accepted already: a retried request
	case st.Status == pgstore.InteractionQueued && w.offering:
		return nil
	case st.Status != pgstore.InteractionOffered:
		return offerNotOpen(fmt.Sprintf("the interaction is %s, not offered", st.Status))
	case st.OfferedAgentID != agentID:
		return temporal.NewNonRetryableApplicationError("the interaction is offered to another agent", ErrTypeNotYourOffer, nil)
	case w.answer != nil && (w.answer.agentID != agentID || w.answer.accept != accept):
		return offerNotOpen("the offer was already answered")
	case w.answer == nil && w.deciding:
		return offerNotOpen("the offer is closing (it rang out or the interaction ended)")
	}
	return nil
}

func (w *interaction) onAccept(ctx workflow.Context, in AcceptInput) (*InteractionState, error) {
	if c := w.consult; c != nil && in.AgentID == c.AgentID {
		return w.answerConsult(ctx, c, true, "")
	}
	return w.onAnswer(ctx, in.AgentID, true, "", func() error { return w.validateAnswer(in.TenantID, in.AgentID, true) })
}

func (w *interaction) onReject(ctx workflow.Context, in RejectInput) (*InteractionState, error) {
	if c := w.consult; c != nil && in.AgentID == c.AgentID {
		return w.answerConsult(ctx, c, false, in.Reason)
	}
	return w.onAnswer(ctx, in.AgentID, false, in.Reason, func() error { return w.validateAnswer(in.TenantID, in.AgentID, false) })
}

// onAnswer hands the answer to the main loop and waits until it is settled.
func (w *interaction) onAnswer(ctx workflow.Context, agentID string, accept bool, reason string, validate func() error) (*InteractionState, error) {
	if w.offering {
		if err := workflow.Await(ctx, func() bool { return !w.offering }); err != nil {
			return nil, err
		}
		if err := validate(); err != nil {
			return nil, err
		}
	}
	if accept && w.st.Status == pgstore.InteractionConnected && w.st.AgentID == agentID {
		return w.snapshot(), nil
	}
	if w.answer == nil {
		w.answer = &answer{attempt: w.st.Offers, agentID: agentID, accept: accept, reason: reason}
	}
	a := w.answer
	if err := workflow.Await(ctx, func() bool { return a.done }); err != nil {
		return nil, err
	}
	if a.err != nil {
		return nil, a.err
	}
	return w.snapshot(), nil
}

// validateEnd admits an end of an interaction that is not over; an agent may end only
// an interaction they hold.
func (w *interaction) validateEnd(in EndInput) error {
	st := &w.st
	switch {
	case in.TenantID != st.TenantID:
		return notFound()
	case !st.Status.Active():
		return interactionOver(st.Status)
	case in.AgentID != "" && (!st.Status.Held() || st.AgentID != in.AgentID):
		return temporal.NewNonRetryableApplicationError("agents may end only an interaction they hold", ErrTypeNotYourInteraction, nil)
	}
	return nil
}

func (w *interaction) onEnd(ctx workflow.Context, in EndInput) (*InteractionState, error) {
	if w.end == nil {
		w.end = &in
	}
	if err := workflow.Await(ctx, func() bool {
		return w.st.Status == pgstore.InteractionEnded || w.st.Status == pgstore.InteractionAbandoned
	}); err != nil {
		return nil, err
	}
	return w.snapshot(), nil
}

// validateChangeQueue admits a queue change of an interaction that is not over and
// not ending; an agent may move only an interaction they hold. Whether the queue
// exists is the API's to check (and the move's, which refuses an unknown queue with
// nothing changed).
func (w *interaction) validateChangeQueue(in ChangeQueueInput) error {
	st := &w.st
	switch {
	case in.TenantID != st.TenantID:
		return notFound()
	case !st.Status.Active():
		return interactionOver(st.Status)
	case w.end != nil:
		return temporal.NewNonRetryableApplicationError("the interaction is ending", ErrTypeInteractionOver, nil)
	case in.AgentID != "" && (!st.Status.Held() || st.AgentID != in.AgentID):
		return temporal.NewNonRetryableApplicationError("agents may move only an interaction they hold", ErrTypeNotYourInteraction, nil)
	case uuid.Validate(in.QueueID) != nil:
		return temporal.NewNonRetryableApplicationError("the queue must be a queue ID", ErrTypeUnknownQueue, nil)
	case w.consult != nil:
		return notAllowed("a warm transfer is in progress: complete or cancel it first")
	}
	return nil
}

// onChangeQueue hands the queue change to the main loop, one at a time and never
// while an offer is being made (whose queue is decided then), and waits until it is
// settled. It answers the interaction as it is afterwards.
func (w *interaction) onChangeQueue(ctx workflow.Context, in ChangeQueueInput) (*InteractionState, error) {
	if err := workflow.Await(ctx, func() bool { return w.move == nil && !w.offering }); err != nil {
		return nil, err
	}
	// The interaction may have moved on while this change waited its turn.
	if err := w.validateChangeQueue(in); err != nil {
		return nil, err
	}
	if in.QueueID == w.st.QueueID {
		return w.snapshot(), nil
	}
	m := &queueMove{in: in}
	w.move = m
	if err := workflow.Await(ctx, func() bool { return m.done }); err != nil {
		return nil, err
	}
	if m.err != nil {
		return nil, m.err
	}
	workflow.GetLogger(ctx).Info("queue changed", "queue", in.QueueID, "actor", in.ActorID, "status", w.st.Status)
	return w.snapshot(), nil
}

func (w *interaction) snapshot() *InteractionState {
	st := w.st
	return &st
}

func notFound() error {
	return temporal.NewNonRetryableApplicationError("no such interaction in this tenant", ErrTypeInteractionNotFound, nil)
}

func interactionOver(status pgstore.InteractionStatus) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf("the interaction is already %s", status), ErrTypeInteractionOver, nil)
}

func offerNotOpen(msg string) error {
	return temporal.NewNonRetryableApplicationError(msg, ErrTypeOfferNotOpen, nil)
}

// localChange marks runs whose activities (but sending a message over a channel)
// run as local activities, in the workflow task of the change that calls them: an
// agent's action costs one workflow task instead of three, and no round trip through
// the activity task queue. Runs started before call them through the queue, and
// replay the same.
const localChange = "local-activities"

// call runs an activity of the interaction by its registered name: as a local
// activity in runs that do so (see localChange), else through the task queue. Each is
// short and idempotent, and retried until PostgreSQL and Redis answer.
func (w *interaction) call(ctx workflow.Context, name string, arg any) workflow.Future {
	if w.local {
		return workflow.ExecuteLocalActivity(localOptions(ctx), name, arg)
	}
	return workflow.ExecuteActivity(activityOptions(ctx), name, arg)
}

// localOptions are those of a local activity on the assignment path: retried like
// the activities, each attempt short.
func localOptions(ctx workflow.Context) workflow.Context {
	return workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 200 * time.Millisecond, BackoffCoefficient: 2, MaximumInterval: 10 * time.Second},
	})
}

// activityOptions are those of the assignment activities: short, and retried until
// PostgreSQL and Redis answer, since an interaction must not be dropped for a
// dependency's hiccup. Their writes are idempotent.
func activityOptions(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 200 * time.Millisecond, BackoffCoefficient: 2, MaximumInterval: 10 * time.Second},
	})
}
