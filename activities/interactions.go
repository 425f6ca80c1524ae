package activities

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"go.temporal.io/sdk/temporal"

	"switchboard/dispatch"
	"switchboard/events"
	"switchboard/pgstore"
	"switchboard/routing"
)

// ErrTypeInvalidInteraction marks an interaction write that is refused as it is;
// retrying cannot help.
const ErrTypeInvalidInteraction = "InvalidInteraction"

func (a *Activities) dispatcher() *dispatch.Dispatcher {
	if a.Dispatcher != nil {
		return a.Dispatcher
	}
	return &dispatch.Dispatcher{Store: a.Store, Presence: a.Presence}
}

// OfferRequest asks for the next offer of an interaction.
type OfferRequest struct {
	// Interaction is the interaction as the workflow holds it; it is written to the
	// read model first when Enqueue is set (its first offer), once.
	Interaction pgstore.Interaction `json:"interaction"`
	Enqueue     bool                `json:"enqueue,omitempty"`
	// Attempt numbers the offer (1, 2, …) and keys it in the offers log.
	Attempt int `json:"attempt"`
	// Version is the read-model version of the offered state.
	Version int64 `json:"version"`
}

// OfferResult says whether an agent's slot was reserved and the offer recorded.
type OfferResult struct {
	Offered bool   `json:"offered"`
	AgentID string `json:"agentId,omitempty"`
	// QueueID is the interaction's queue as stored: the Default queue when the
	// routed queue was deleted before the interaction was first written.
	QueueID string `json:"queueId"`
	// OfferedAt is when the agent's slot was reserved; RingUntil when the offer
	// stops ringing, before the reservation lapses.
	OfferedAt time.Time `json:"offeredAt"`
	RingUntil time.Time `json:"ringUntil"`
	// RingTimeout is the tenant's ring timeout.
	RingTimeout time.Duration  `json:"ringTimeout"`
	Score       *routing.Score `json:"score,omitempty"`
	// Manual: the queue does not assign this channel automatically.
	Manual bool `json:"manual,omitempty"`
	// Contended: the chosen agents were all taken meanwhile; decide again now.
	Contended  bool `json:"contended,omitempty"`
	Considered int  `json:"considered"`
	Eligible   int  `json:"eligible"`
}

// OfferInteraction makes the next offer of an interaction: it writes the interaction
// to the read model on its first offer, chooses the agent on a fresh snapshot
// (routing.Best: sticky agent, else the weighted sum, never an excluded agent),
// reserves one of their slots for the ring timeout plus a margin, and records the
// offer and the offered state together. A retry after a lost answer finds its own
// reservation and records that. Nobody eligible is not an error: Offered is false.
func (a *Activities) OfferInteraction(ctx context.Context, in OfferRequest) (OfferResult, error) {
	ix := in.Interaction
	queueID := ix.QueueID
	reserve := func() (dispatch.Decision, error) {
		return a.dispatcher().Reserve(ctx, dispatch.Request{
			TenantID: ix.TenantID, InteractionID: ix.ID, Channel: ix.Channel, QueueID: queueID,
			RequiredSkills: ix.RequiredSkills, Customer: ix.Customer, Excluded: ix.ExcludedAgents,
		})
	}
	enqueued := !in.Enqueue
	var dec dispatch.Decision
	var err error
	if in.Enqueue {
		// The first offer is decided before the interaction is written, so that it
		// is written once, offered (the read model takes an interaction after
		// presence does). A routed queue deleted meanwhile is written in the Default
		// queue first, and decided there.
		dec, err = reserve()
		if errors.Is(err, pgstore.ErrNotFound) {
			if queueID, err = a.Store.EnqueueInteraction(ctx, ix); err != nil {
				return OfferResult{}, storeError(err)
			}
			enqueued = true
			if err := a.publishInitiated(ctx, ix, queueID); err != nil {
				return OfferResult{}, err
			}
			dec, err = reserve()
		}
	} else {
		dec, err = reserve()
	}
	if err != nil {
		return OfferResult{}, storeError(err)
	}
	out := OfferResult{
		QueueID: queueID, RingTimeout: dec.RingTimeout, Score: dec.Score, Manual: dec.Manual,
		Contended: dec.Contended, Considered: dec.Considered, Eligible: dec.Eligible,
	}
	if dec.AgentID == "" && !enqueued {
		// Nobody now: written queued, then decided once more, so that an agent
		// freed between the decision and the write — whose bulk assignment did not
		// see the interaction yet — is not missed.
		if queueID, err = a.Store.EnqueueInteraction(ctx, ix); err != nil {
			return OfferResult{}, storeError(err)
		}
		enqueued = true
		if err := a.publishInitiated(ctx, ix, queueID); err != nil {
			return OfferResult{}, err
		}
		if dec, err = reserve(); err != nil {
			return OfferResult{}, storeError(err)
		}
		out = OfferResult{
			QueueID: queueID, RingTimeout: dec.RingTimeout, Score: dec.Score, Manual: dec.Manual,
			Contended: dec.Contended, Considered: dec.Considered, Eligible: dec.Eligible,
		}
	}
	if dec.AgentID == "" {
		return out, nil
	}
	at, until := dec.ReservedAt.UTC(), dec.RingUntil.UTC()
	if until.Before(at) {
		until = at
	}
	st := ix.InteractionState
	st.Status, st.OfferedAgentID, st.Offers, st.OfferedAt, st.Version = pgstore.InteractionOffered, dec.AgentID, in.Attempt, &at, in.Version
	offered := pgstore.InteractionUpdate{
		TenantID: ix.TenantID, InteractionID: ix.ID, State: st,
		Offer: &pgstore.Offer{Attempt: in.Attempt, AgentID: dec.AgentID, Channel: ix.Channel, OfferedAt: at,
			RingUntil: until, Score: dec.Score},
		Events: []pgstore.TimelineEvent{{Type: events.InteractionOffered, At: at,
			Data: map[string]any{"agentId": dec.AgentID, "attempt": in.Attempt, "ringUntil": until}}},
	}
	if !enqueued {
		// Written with its offer in one transaction.
		out.QueueID, err = a.Store.EnqueueInteraction(ctx, ix, offered)
		if err == nil {
			err = a.publishInitiated(ctx, ix, out.QueueID)
		}
	} else {
		_, err = a.Store.RecordInteraction(ctx, offered)
	}
	if err != nil {
		// The reservation stays: the retry adopts it, or it lapses by itself.
		return OfferResult{}, storeError(err)
	}
	e := interactionEvent(ix)
	e.Status, e.QueueID, e.OfferedAgentID, e.Attempt, e.RingUntil, e.Version = st.Status, out.QueueID, dec.AgentID, in.Attempt, &until, st.Version
	if e.ScreenPop, err = a.screenPop(ctx, ix, out.QueueID, dec.AgentID); err != nil {
		return OfferResult{}, err
	}
	if err := a.publish(ctx, ix.TenantID, events.InteractionOffered, e, dec.AgentID); err != nil {
		return OfferResult{}, err
	}
	if ix.Channel == routing.Voice {
		if err := a.publish(ctx, ix.TenantID, events.CallRinging, e, dec.AgentID); err != nil {
			return OfferResult{}, err
		}
	}
	out.Offered, out.AgentID, out.OfferedAt, out.RingUntil = true, dec.AgentID, at, until
	return out, nil
}

// publishInitiated tells the feed of a new interaction, as first written.
func (a *Activities) publishInitiated(ctx context.Context, ix pgstore.Interaction, queueID string) error {
	e := interactionEvent(ix)
	e.QueueID = queueID
	return a.publish(ctx, ix.TenantID, events.InteractionInitiated, e)
}

// ConfirmRequest turns an accepted offer into a held slot.
type ConfirmRequest struct {
	AgentID string `json:"agentId"`
	// Update is the connected state with the offer's answer, written once the slot
	// is held.
	Update pgstore.InteractionUpdate `json:"update"`
	// Voice, for a call, puts the agent in the call once it is theirs.
	Voice *VoiceStep `json:"voice,omitempty"`
	// Interaction is the interaction as the workflow holds it, for its screen
	// pop; without it the read model's is read.
	Interaction *pgstore.Interaction `json:"interaction,omitempty"`
}

// ConfirmOffer makes the agent's reservation a held slot (presence.Confirm) and
// records the interaction as connected; a call then puts the agent in the call. It
// reports false, writing nothing, when the reservation had lapsed: the offer is void
// and the workflow treats it as rung out. Repeating it after success changes nothing.
func (a *Activities) ConfirmOffer(ctx context.Context, in ConfirmRequest) (bool, error) {
	u := in.Update
	ok, err := a.Presence.Confirm(ctx, u.TenantID, in.AgentID, u.InteractionID)
	if err != nil || !ok {
		return false, err
	}
	if _, err := a.Store.RecordInteraction(ctx, u); err != nil {
		return false, storeError(err)
	}
	ix, err := a.interactionOf(ctx, in.Interaction, u.TenantID, u.InteractionID)
	if err != nil {
		return false, err
	}
	if err := a.publishConnected(ctx, ix, stateEvent(u.InteractionID, u.State), in.AgentID); err != nil {
		return false, err
	}
	if in.Voice != nil {
		if _, err := a.setVoice(ctx, u.TenantID, in.AgentID, u.InteractionID, *in.Voice); err != nil {
			return false, err
		}
	}
	return true, nil
}

// ReleaseRequest frees an agent's slot of an interaction and records the state that
// follows: queued again after a rejection or a timeout, abandoned or ended at the end.
type ReleaseRequest struct {
	// AgentID is the agent whose slot is freed. Empty for an interaction that ends
	// while queued: a reservation bulk assignment made for it meanwhile is freed.
	AgentID string                    `json:"agentId,omitempty"`
	Update  pgstore.InteractionUpdate `json:"update"`
	// Voice, for a call, moves the agent's voice sub-state first (idle, or wrapping
	// after the end), so that the bulk assignment that follows may give them a call.
	Voice *VoiceStep `json:"voice,omitempty"`
	// WrapUp, for an interaction that ended with an agent, starts its wrap-up: the
	// campaign's wrap-up timeout sets when it is disposed by itself.
	WrapUp *WrapUpRequest `json:"wrapUp,omitempty"`
}

// WrapUpRequest names the campaign whose wrap-up applies (empty: the Default one).
type WrapUpRequest struct {
	CampaignID string `json:"campaignId,omitempty"`
}

// ReleaseResult is the outcome of ReleaseCall.
type ReleaseResult struct {
	// Woken are the interactions bulk assignment gave the freed agent.
	Woken []string `json:"woken,omitempty"`
	// Voice is the agent's voice sub-state after the release, with their wrap-up
	// time when the call ended.
	Voice *VoiceResult `json:"voice,omitempty"`
	// Campaign is the interaction's campaign, read for its wrap-up (WrapUp): the
	// state was written with its deadline.
	Campaign *CampaignInfo `json:"campaign,omitempty"`
}

// ReleaseSlot writes the state, frees the agent's slot, reserved or held (idempotent),
// and then gives the agent, now with room, the waiting interactions they should take
// (bulk assignment: reserved for them and woken). It returns the interactions woken.
// The read model lets go of the interaction before presence does, as it takes it
// after presence did (OfferInteraction), so the read model never shows an agent
// holding more than presence allows.
func (a *Activities) ReleaseSlot(ctx context.Context, in ReleaseRequest) ([]string, error) {
	res, err := a.release(ctx, in)
	return res.Woken, err
}

// ReleaseCall is ReleaseSlot for a call: it moves the agent's voice sub-state first
// (in.Voice) and answers it, with the agent's wrap-up time after an ended call.
func (a *Activities) ReleaseCall(ctx context.Context, in ReleaseRequest) (ReleaseResult, error) {
	return a.release(ctx, in)
}

func (a *Activities) release(ctx context.Context, in ReleaseRequest) (ReleaseResult, error) {
	var out ReleaseResult
	u := in.Update
	if in.WrapUp != nil {
		c, err := a.GetCampaign(ctx, CampaignRequest{TenantID: u.TenantID, CampaignID: in.WrapUp.CampaignID, OrDefault: true})
		var app *temporal.ApplicationError
		switch {
		case errors.As(err, &app) && app.NonRetryable():
			// No campaign at all: the wrap-up waits for the agent.
		case err != nil:
			return out, err
		default:
			out.Campaign = &c
			if c.WrapUpTimeoutSeconds > 0 && u.State.EndedAt != nil {
				until := u.State.EndedAt.Add(time.Duration(c.WrapUpTimeoutSeconds) * time.Second)
				u.State.WrapUpUntil = &until
			}
		}
	}
	if in.Voice != nil && in.AgentID != "" {
		v, err := a.setVoice(ctx, u.TenantID, in.AgentID, u.InteractionID, *in.Voice)
		if err != nil {
			return out, err
		}
		out.Voice = &v
	}
	_, recErr := a.Store.RecordInteraction(ctx, u)
	if recErr != nil {
		recErr = storeError(recErr)
		var app *temporal.ApplicationError
		if !errors.As(recErr, &app) || !app.NonRetryable() {
			return out, recErr
		}
		// A write refused for good must not keep the slot: free it all the same.
	}
	agent := in.AgentID
	if agent == "" {
		held, ok, err := a.Presence.Holder(ctx, u.TenantID, u.InteractionID)
		if err != nil {
			return out, err
		}
		if ok && !held.Held {
			agent = held.Agent
		}
	}
	if agent == "" {
		return out, recErr
	}
	if _, err := a.Presence.Release(ctx, u.TenantID, agent, u.InteractionID); err != nil {
		return out, err
	}
	if recErr != nil {
		return out, recErr
	}
	if err := a.publishRelease(ctx, agent, u); err != nil {
		return out, err
	}
	var err error
	out.Woken, err = a.dispatcher().OfferWaiting(ctx, u.TenantID, agent, a.Wake)
	return out, err
}

// ErrTypeUnknownQueue marks a queue change to a queue the tenant does not have.
const ErrTypeUnknownQueue = "UnknownQueue"

// MoveRequest moves an interaction to another queue.
type MoveRequest struct {
	Change pgstore.QueueChange `json:"change"`
	// Enqueue is the interaction, written to the read model first, when it was not
	// yet (its first offer has not run).
	Enqueue *pgstore.Interaction `json:"enqueue,omitempty"`
	// Publish are events told after the move's own (a transfer's).
	Publish []Publication `json:"publish,omitempty"`
}

// MoveResult is the outcome of MoveInteraction.
type MoveResult struct {
	// Member: the agent the interaction rings on or is held by is a member of the
	// new queue and keeps it (always true without such an agent).
	Member bool `json:"member"`
	// Withdrawn is the agent whose reservation for the queued interaction, made
	// by bulk assignment in the old queue, was let go.
	Withdrawn string `json:"withdrawn,omitempty"`
	// Woken are the interactions bulk assignment then gave that agent.
	Woken []string `json:"woken,omitempty"`
}

// MoveInteraction moves an interaction to another queue and records the state that
// follows (pgstore.Store.MoveInteraction): kept by its agent when they are a member
// of the new queue, otherwise queued again without them; the caller frees that
// agent's slot afterwards, as the read model lets go of an interaction before
// presence does. A queued interaction may hold a reservation bulk assignment made for
// it in the old queue: it is let go (and that agent given other work), so that the
// next offer is decided in the new queue. A queue the tenant does not have is refused
// (ErrTypeUnknownQueue) with nothing written. Repeating it changes nothing.
func (a *Activities) MoveInteraction(ctx context.Context, req MoveRequest) (MoveResult, error) {
	if req.Enqueue != nil {
		if _, err := a.Store.EnqueueInteraction(ctx, *req.Enqueue); err != nil {
			return MoveResult{}, storeError(err)
		}
	}
	in := req.Change
	member, err := a.Store.MoveInteraction(ctx, in)
	if errors.Is(err, pgstore.ErrUnknownQueue) {
		return MoveResult{}, temporal.NewNonRetryableApplicationError("no such queue", ErrTypeUnknownQueue, err)
	}
	if err != nil {
		return MoveResult{}, storeError(err)
	}
	written := in.Kept
	if !member && in.Unassigned != nil {
		written = *in.Unassigned
	}
	e := stateEvent(written.InteractionID, written.State)
	e.QueueID = in.QueueID
	if err := a.publish(ctx, written.TenantID, events.InteractionQueueChanged, e, in.AgentID); err != nil {
		return MoveResult{}, err
	}
	if err := a.publishAll(ctx, written, req.Publish); err != nil {
		return MoveResult{}, err
	}
	out := MoveResult{Member: member}
	if in.AgentID != "" {
		return out, nil
	}
	u := in.Kept
	held, ok, err := a.Presence.Holder(ctx, u.TenantID, u.InteractionID)
	if err != nil || !ok || held.Held {
		return out, err
	}
	if _, err := a.Presence.Release(ctx, u.TenantID, held.Agent, u.InteractionID); err != nil {
		return out, err
	}
	out.Withdrawn = held.Agent
	out.Woken, err = a.dispatcher().OfferWaiting(ctx, u.TenantID, held.Agent, a.Wake)
	return out, err
}

// storeError makes the store's refusals non-retryable: an invalid write or a missing
// interaction comes back the same on every attempt.
func storeError(err error) error {
	var invalid *pgstore.ValidationError
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &invalid), errors.Is(err, pgstore.ErrNotFound):
		return temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeInvalidInteraction, err)
	case errors.As(err, &pgErr) && (strings.HasPrefix(pgErr.Code, "22") || strings.HasPrefix(pgErr.Code, "23")):
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("interaction write refused: %v", err), ErrTypeInvalidInteraction, err)
	}
	return err
}
