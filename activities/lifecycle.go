package activities

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"

	"switchboard/automation"
	"switchboard/dispatch"
	"switchboard/events"
	"switchboard/pgstore"
	"switchboard/routing"
)

// Application error types of the lifecycle activities.
const (
	// ErrTypeInvalidDisposition: the disposition named is not one of the
	// campaign's (the message names the field: dispositionClass or
	// dispositionCode).
	ErrTypeInvalidDisposition = "InvalidDisposition"
	// ErrTypeUnknownTarget: a transfer or conference target the tenant does not
	// have (no such user, queue or campaign).
	ErrTypeUnknownTarget = "UnknownTarget"
	// ErrTypeTargetUnavailable: the agent a transfer names cannot take the
	// interaction now (not logged in, not available, no room).
	ErrTypeTargetUnavailable = "TargetUnavailable"
)

// Publication is a lifecycle event a change publishes, with the agents it concerns.
type Publication struct {
	Type   string         `json:"type"`
	Agents []string       `json:"agents,omitempty"`
	Detail map[string]any `json:"detail,omitempty"`
	// Automation says the change was an automation's (see InteractionEvent).
	Automation *automation.Cause `json:"automation,omitempty"`
}

// ChangeRequest records one change of an interaction and tells the feed.
type ChangeRequest struct {
	Update  pgstore.InteractionUpdate `json:"update"`
	Publish []Publication             `json:"publish,omitempty"`
	// Note, when set, is written with the change (a note typed during the
	// interaction, or the disposal's notes).
	Note *pgstore.Note `json:"note,omitempty"`
}

// RecordChange writes an interaction's new state with its timeline entries (and a
// note), then publishes its lifecycle events. Every part is idempotent: the state by
// its version, the timeline by version and type, the note by its ID and the events by
// interaction, version and type.
func (a *Activities) RecordChange(ctx context.Context, in ChangeRequest) error {
	u := in.Update
	if in.Note != nil {
		// The note's tenant is not part of its JSON: it is the interaction's.
		n := *in.Note
		n.TenantID, n.InteractionID = u.TenantID, u.InteractionID
		if _, err := a.Store.AddNote(ctx, n); err != nil {
			return storeError(err)
		}
	}
	if _, err := a.Store.RecordInteraction(ctx, u); err != nil {
		return storeError(err)
	}
	return a.publishAll(ctx, u, in.Publish)
}

func (a *Activities) publishAll(ctx context.Context, u pgstore.InteractionUpdate, pubs []Publication) error {
	for _, p := range pubs {
		e := stateEvent(u.InteractionID, u.State)
		e.Detail, e.Automation = p.Detail, p.Automation
		agents := p.Agents
		if len(agents) == 0 {
			agents = []string{u.State.AgentID}
		}
		if err := a.publish(ctx, u.TenantID, p.Type, e, agents...); err != nil {
			return err
		}
	}
	return nil
}

// DispositionRequest asks which disposition of a campaign a class and code name.
type DispositionRequest struct {
	TenantID   string `json:"tenantId"`
	CampaignID string `json:"campaignId"`
	// Class and Code name the disposition by ID or name; both empty asks for the
	// campaign's default code.
	Class string `json:"class,omitempty"`
	Code  string `json:"code,omitempty"`
}

// ResolveDisposition finds the disposition an interaction is disposed with. A class
// or code the campaign does not have is refused for good (ErrTypeInvalidDisposition,
// the field named in the message); with neither named it answers the campaign's
// default code, or nothing when the campaign has none.
func (a *Activities) ResolveDisposition(ctx context.Context, in DispositionRequest) (*pgstore.Disposition, error) {
	if strings.TrimSpace(in.Class) == "" && strings.TrimSpace(in.Code) == "" {
		c, _, err := a.campaign(ctx, in.TenantID, in.CampaignID, false)
		if errors.Is(err, pgstore.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		if c.DefaultDisposition == nil {
			return nil, nil
		}
		d := *c.DefaultDisposition
		return &d, nil
	}
	var d pgstore.Disposition
	c, tree, err := a.campaign(ctx, in.TenantID, in.CampaignID, true)
	if err == nil {
		d, err = pgstore.ResolveIn(c, *tree, in.Class, in.Code)
	}
	var invalid *pgstore.ValidationError
	switch {
	case errors.As(err, &invalid):
		return nil, temporal.NewNonRetryableApplicationError(invalid.Error(), ErrTypeInvalidDisposition, invalid, invalid.Field)
	case errors.Is(err, pgstore.ErrNotFound):
		return nil, temporal.NewNonRetryableApplicationError("the interaction's campaign no longer exists", ErrTypeInvalidDisposition, err, "campaignId")
	case err != nil:
		return nil, err
	}
	return &d, nil
}

// CampaignRequest names a campaign of a tenant.
type CampaignRequest struct {
	TenantID   string `json:"tenantId"`
	CampaignID string `json:"campaignId"`
	// OrDefault answers the tenant's Default campaign when CampaignID is empty or
	// names no campaign (any more).
	OrDefault bool `json:"orDefault,omitempty"`
}

// CampaignInfo is what the interaction workflow needs of its campaign.
type CampaignInfo struct {
	ID string `json:"id"`
	// WrapUpTimeoutSeconds: 0 waits for the agent.
	WrapUpTimeoutSeconds int    `json:"wrapUpTimeoutSeconds"`
	DefaultQueueID       string `json:"defaultQueueId,omitempty"`
}

// GetCampaign reads a campaign of the tenant; an unknown one is refused for good
// (ErrTypeUnknownTarget).
func (a *Activities) GetCampaign(ctx context.Context, in CampaignRequest) (CampaignInfo, error) {
	var c pgstore.Campaign
	err := pgstore.ErrNotFound
	if in.CampaignID != "" {
		c, _, err = a.campaign(ctx, in.TenantID, in.CampaignID, false)
	}
	if in.OrDefault && errors.Is(err, pgstore.ErrNotFound) {
		c, _, err = a.campaign(ctx, in.TenantID, "", false)
		if errors.Is(err, pgstore.ErrNotFound) {
			return CampaignInfo{}, storeError(err)
		}
	}
	if errors.Is(err, pgstore.ErrNotFound) {
		return CampaignInfo{}, temporal.NewNonRetryableApplicationError("no such campaign in this tenant", ErrTypeUnknownTarget, err, "campaignId")
	}
	if err != nil {
		return CampaignInfo{}, err
	}
	out := CampaignInfo{ID: c.ID, WrapUpTimeoutSeconds: c.WrapUpTimeoutSeconds}
	if c.DefaultQueueID != nil {
		out.DefaultQueueID = *c.DefaultQueueID
	}
	return out, nil
}

// UserRequest names a user of a tenant.
type UserRequest struct {
	TenantID string `json:"tenantId"`
	UserID   string `json:"userId"`
}

// UserInfo is a user as a transfer or conference sees them.
type UserInfo struct {
	ID   string       `json:"id"`
	Role pgstore.Role `json:"role"`
}

// GetUser reads an enabled user of the tenant; an unknown or disabled one is refused
// for good (ErrTypeUnknownTarget).
func (a *Activities) GetUser(ctx context.Context, in UserRequest) (UserInfo, error) {
	u, err := a.Store.GetUser(ctx, in.TenantID, in.UserID)
	if errors.Is(err, pgstore.ErrNotFound) || (err == nil && u.Disabled) {
		return UserInfo{}, temporal.NewNonRetryableApplicationError("no such active user in this tenant", ErrTypeUnknownTarget, err, "userId")
	}
	if err != nil {
		return UserInfo{}, err
	}
	return UserInfo{ID: u.ID, Role: u.Role}, nil
}

// HandoverRequest transfers an interaction its agent holds to another agent: the
// target's slot is reserved (like an offer) and the source's freed at once.
type HandoverRequest struct {
	FromAgentID string `json:"fromAgentId"`
	ToAgentID   string `json:"toAgentId"`
	// QueueID is the interaction's queue (its ring timeout applies) and Channel
	// its channel.
	QueueID string          `json:"queueId"`
	Channel routing.Channel `json:"channel"`
	// Update is the state offered to the target, written once the reservation is
	// made, with its offer (the times are filled in here).
	Update pgstore.InteractionUpdate `json:"update"`
	// Voice, for a call, moves the source agent's voice sub-state (idle).
	Voice *VoiceStep `json:"voice,omitempty"`
	// Publish are the events told once the handover went through.
	Publish []Publication `json:"publish,omitempty"`
}

// HandoverResult says whether the target was reserved and until when it rings.
type HandoverResult struct {
	OK        bool      `json:"ok"`
	Reason    string    `json:"reason,omitempty"`
	OfferedAt time.Time `json:"offeredAt"`
	RingUntil time.Time `json:"ringUntil"`
	// Woken are the interactions bulk assignment then gave the source agent.
	Woken []string `json:"woken,omitempty"`
}

// HandOver moves an interaction from the agent who holds it to a reservation of the
// target agent (presence.Handover: the target must be able to take it now, exactly
// as for an offer), records it as offered to the target, publishes the transfer and
// the offer, and gives the source agent the waiting interactions they should take.
// When the target cannot take it, nothing changes and OK is false with the reason.
// A retry after the handover went through finds the reservation and goes on.
func (a *Activities) HandOver(ctx context.Context, in HandoverRequest) (HandoverResult, error) {
	u := in.Update
	q, err := a.Store.GetAssignmentQueue(ctx, u.TenantID, in.QueueID)
	if err != nil {
		return HandoverResult{}, storeError(err)
	}
	ch := in.Channel
	c, err := a.capacityOn(ctx, u.TenantID, in.ToAgentID, ch)
	if err != nil {
		return HandoverResult{}, targetError(err)
	}
	res, err := a.Presence.Handover(ctx, u.TenantID, in.FromAgentID, in.ToAgentID, u.InteractionID, ch, c, q.RingTimeout+dispatch.ReservationMargin)
	if err != nil {
		return HandoverResult{}, err
	}
	if !res.OK {
		return HandoverResult{Reason: res.Reason}, nil
	}
	until := res.Deadline.Add(-dispatch.ReservationMargin)
	at := until.Add(-q.RingTimeout)
	u.State.OfferedAt = &at
	u.Offer = &pgstore.Offer{Attempt: u.State.Offers, AgentID: in.ToAgentID, Channel: ch, OfferedAt: at, RingUntil: until}
	if in.Voice != nil {
		if _, err := a.setVoice(ctx, u.TenantID, in.FromAgentID, u.InteractionID, *in.Voice); err != nil {
			return HandoverResult{}, err
		}
	}
	if _, err := a.Store.RecordInteraction(ctx, u); err != nil {
		return HandoverResult{}, storeError(err)
	}
	if err := a.publishAll(ctx, u, in.Publish); err != nil {
		return HandoverResult{}, err
	}
	e := stateEvent(u.InteractionID, u.State)
	e.Attempt, e.RingUntil = u.State.Offers, &until
	if e.ScreenPop, err = a.storedScreenPop(ctx, u.TenantID, u.InteractionID, in.ToAgentID); err != nil {
		return HandoverResult{}, err
	}
	if err := a.publish(ctx, u.TenantID, events.InteractionOffered, e, in.ToAgentID); err != nil {
		return HandoverResult{}, err
	}
	out := HandoverResult{OK: true, OfferedAt: at, RingUntil: until}
	out.Woken, err = a.dispatcher().OfferWaiting(ctx, u.TenantID, in.FromAgentID, a.Wake)
	return out, err
}

// PublishRequest tells the feed of events of a state already recorded.
type PublishRequest struct {
	Update  pgstore.InteractionUpdate `json:"update"`
	Publish []Publication             `json:"publish"`
}

// PublishEvents publishes the events (idempotent, like every publish).
func (a *Activities) PublishEvents(ctx context.Context, in PublishRequest) error {
	return a.publishAll(ctx, in.Update, in.Publish)
}

// ConsultRequest reserves, confirms or releases the slot of a warm transfer's
// consultation: a slot of the target agent under the consultation's own ID, on the
// interaction's channel, so the consultation counts toward the target's capacity.
type ConsultRequest struct {
	TenantID       string          `json:"tenantId"`
	AgentID        string          `json:"agentId"`
	ConsultationID string          `json:"consultationId"`
	QueueID        string          `json:"queueId"`
	Channel        routing.Channel `json:"channel"`
	// Update, when set, is recorded once the slot changed, and Publish told.
	Update  *pgstore.InteractionUpdate `json:"update,omitempty"`
	Publish []Publication              `json:"publish,omitempty"`
}

// ConsultResult says whether the slot was reserved (or confirmed) and until when a
// reservation rings.
type ConsultResult struct {
	OK        bool      `json:"ok"`
	RingUntil time.Time `json:"ringUntil"`
}

// ReserveConsultation reserves the target agent's consultation slot for the ring
// timeout (the agent must be able to take the interaction now, as for an offer),
// then records the change. A retry finds its own reservation.
func (a *Activities) ReserveConsultation(ctx context.Context, in ConsultRequest) (ConsultResult, error) {
	q, err := a.Store.GetAssignmentQueue(ctx, in.TenantID, in.QueueID)
	if err != nil {
		return ConsultResult{}, storeError(err)
	}
	held, ok, err := a.Presence.Holder(ctx, in.TenantID, in.ConsultationID)
	if err != nil {
		return ConsultResult{}, err
	}
	var until time.Time
	if ok && held.Agent == in.AgentID {
		until = held.ExpiresAt.Add(-dispatch.ReservationMargin)
	} else {
		c, err := a.capacityOn(ctx, in.TenantID, in.AgentID, in.Channel)
		if err != nil {
			return ConsultResult{}, targetError(err)
		}
		reserved, err := a.Presence.Reserve(ctx, in.TenantID, in.AgentID, in.ConsultationID, in.Channel, c, q.RingTimeout+dispatch.ReservationMargin)
		if err != nil || !reserved {
			return ConsultResult{}, err
		}
		// The ring ends by the reservation's own deadline, as a retry reads it.
		s, live, err := a.Presence.Holder(ctx, in.TenantID, in.ConsultationID)
		if err != nil || !live {
			return ConsultResult{}, err
		}
		until = s.ExpiresAt.Add(-dispatch.ReservationMargin)
	}
	if err := a.recordConsult(ctx, in); err != nil {
		return ConsultResult{}, err
	}
	return ConsultResult{OK: true, RingUntil: until.UTC()}, nil
}

// ConfirmConsultation makes the target's consultation reservation a held slot (the
// target answered); false when it had lapsed.
func (a *Activities) ConfirmConsultation(ctx context.Context, in ConsultRequest) (ConsultResult, error) {
	ok, err := a.Presence.Confirm(ctx, in.TenantID, in.AgentID, in.ConsultationID)
	if err != nil || !ok {
		return ConsultResult{}, err
	}
	return ConsultResult{OK: true}, a.recordConsult(ctx, in)
}

// ReleaseConsultation frees the target's consultation slot (declined, rung out,
// cancelled, or the interaction ended), records the change, and gives the target the
// waiting interactions they should take.
func (a *Activities) ReleaseConsultation(ctx context.Context, in ConsultRequest) error {
	if _, err := a.Presence.Release(ctx, in.TenantID, in.AgentID, in.ConsultationID); err != nil {
		return err
	}
	if err := a.recordConsult(ctx, in); err != nil {
		return err
	}
	_, err := a.dispatcher().OfferWaiting(ctx, in.TenantID, in.AgentID, a.Wake)
	return err
}

func (a *Activities) recordConsult(ctx context.Context, in ConsultRequest) error {
	if in.Update == nil {
		return nil
	}
	if _, err := a.Store.RecordInteraction(ctx, *in.Update); err != nil {
		return storeError(err)
	}
	return a.publishAll(ctx, *in.Update, in.Publish)
}

// CompleteTransferRequest ends a warm transfer.
type CompleteTransferRequest struct {
	FromAgentID    string                    `json:"fromAgentId"`
	ToAgentID      string                    `json:"toAgentId"`
	ConsultationID string                    `json:"consultationId"`
	Update         pgstore.InteractionUpdate `json:"update"`
	Publish        []Publication             `json:"publish,omitempty"`
	// FromVoice and ToVoice, for a call, move both agents' voice sub-states (idle,
	// in a call).
	FromVoice *VoiceStep `json:"fromVoice,omitempty"`
	ToVoice   *VoiceStep `json:"toVoice,omitempty"`
}

// CompleteTransfer gives the interaction to the consulted agent (presence
// CompleteTransfer: one atomic step), records it as theirs, publishes the transfer,
// and gives the first agent the waiting interactions they should take. False when
// the consultation or the first agent's hold is gone; nothing changed then.
func (a *Activities) CompleteTransfer(ctx context.Context, in CompleteTransferRequest) (bool, error) {
	u := in.Update
	ok, err := a.Presence.CompleteTransfer(ctx, u.TenantID, in.FromAgentID, in.ToAgentID, u.InteractionID, in.ConsultationID)
	if err != nil || !ok {
		return false, err
	}
	for _, v := range []struct {
		agent string
		step  *VoiceStep
	}{{in.FromAgentID, in.FromVoice}, {in.ToAgentID, in.ToVoice}} {
		if v.step != nil {
			if _, err := a.setVoice(ctx, u.TenantID, v.agent, u.InteractionID, *v.step); err != nil {
				return false, err
			}
		}
	}
	if _, err := a.Store.RecordInteraction(ctx, u); err != nil {
		return false, storeError(err)
	}
	if err := a.publishAll(ctx, u, in.Publish); err != nil {
		return false, err
	}
	_, err = a.dispatcher().OfferWaiting(ctx, u.TenantID, in.FromAgentID, a.Wake)
	return true, err
}

// DisposeRequest closes an interaction's wrap-up.
type DisposeRequest struct {
	CampaignID string `json:"campaignId,omitempty"`
	// Class and Code name the disposition (by ID or name); both empty applies the
	// campaign's default code (the wrap-up timed out).
	Class string `json:"class,omitempty"`
	Code  string `json:"code,omitempty"`
	Auto  bool   `json:"auto,omitempty"`
	Notes string `json:"notes,omitempty"`
	// Update is the disposed state, without its disposition, with its timeline
	// entry; Note is the disposal's notes as a note.
	Update pgstore.InteractionUpdate `json:"update"`
	Note   *pgstore.Note             `json:"note,omitempty"`
	// CallbackID is the callback the disposal schedules (the code must have the
	// callback flag); a callback code needs one unless the disposal is Auto.
	CallbackID string `json:"callbackId,omitempty"`
	// Params are the disposal's custom attributes, kept in its timeline entry.
	Params map[string]string `json:"params,omitempty"`
}

// DisposeInteraction resolves the disposition (ResolveDisposition: a class or code
// the campaign does not have is refused for good, naming the field), records the
// disposed state with it, its timeline entry and the notes, and publishes
// interactionDisposed. A code with the callback flag needs the disposal's callback,
// and only such a code takes one (refused for good, naming the field). It answers
// the disposition applied (nil when the campaign has no codes). Retries are
// harmless, like RecordChange's.
func (a *Activities) DisposeInteraction(ctx context.Context, in DisposeRequest) (*pgstore.AppliedDisposition, error) {
	d, err := a.ResolveDisposition(ctx, DispositionRequest{TenantID: in.Update.TenantID, CampaignID: in.CampaignID, Class: in.Class, Code: in.Code})
	if err != nil {
		return nil, err
	}
	if err := checkDisposalCallback(d, in); err != nil {
		return nil, err
	}
	u := in.Update
	detail := map[string]any{"auto": in.Auto}
	if in.CallbackID != "" {
		detail["callbackId"] = in.CallbackID
	}
	if len(in.Params) > 0 {
		detail["params"] = in.Params
	}
	var applied *pgstore.AppliedDisposition
	if d != nil {
		applied = &pgstore.AppliedDisposition{ClassID: d.ClassID, Class: d.Class, CodeID: d.CodeID, Code: d.Code, Auto: in.Auto, Notes: in.Notes}
		detail["class"], detail["code"], detail["classId"], detail["codeId"] = d.Class, d.Code, d.ClassID, d.CodeID
		detail["blacklist"], detail["callback"], detail["success"] = d.Blacklist, d.Callback, d.Success
	}
	if d != nil && d.Blacklist {
		if err := a.listDisposedCustomer(ctx, u, d.Code, detail); err != nil {
			return nil, err
		}
	}
	u.State.Disposition = applied
	u.Events = slices.Clone(u.Events)
	for i := range u.Events {
		u.Events[i].Data = detail
	}
	err = a.RecordChange(ctx, ChangeRequest{Update: u, Note: in.Note,
		Publish: []Publication{{Type: events.InteractionDisposed, Detail: detail}}})
	return applied, err
}

// OutboundRequest starts an interaction an agent makes (outbound): it is written to
// the read model, the agent's slot taken (any status of a live session; the capacity
// checked as for an offer) and the interaction recorded as theirs.
type OutboundRequest struct {
	Interaction pgstore.Interaction `json:"interaction"`
	AgentID     string              `json:"agentId"`
	// Connected is the state once the agent holds it, with its timeline entry.
	Connected pgstore.InteractionUpdate `json:"connected"`
	Voice     *VoiceStep                `json:"voice,omitempty"`
}

// OutboundResult says whether the agent took the interaction.
type OutboundResult struct {
	OK bool `json:"ok"`
	// QueueID is the interaction's queue as stored.
	QueueID string `json:"queueId"`
}

// outboundHold is how long the reservation of an outbound interaction's slot lives
// before it is confirmed, in the same activity.
const outboundHold = 30 * time.Second

// StartOutbound writes the interaction, takes the agent's slot and records it as
// connected to the agent, publishing interactionInitiated and interactionConnected.
// OK is false (the interaction only written) when the agent is not logged in or has
// no room on the channel. A retry finds the slot it already holds.
func (a *Activities) StartOutbound(ctx context.Context, in OutboundRequest) (OutboundResult, error) {
	ix := in.Interaction
	queueID, err := a.Store.EnqueueInteraction(ctx, ix)
	if err != nil {
		return OutboundResult{}, storeError(err)
	}
	e := interactionEvent(ix)
	e.QueueID = queueID
	if err := a.publish(ctx, ix.TenantID, events.InteractionInitiated, e, in.AgentID); err != nil {
		return OutboundResult{}, err
	}
	held, ok, err := a.Presence.Holder(ctx, ix.TenantID, ix.ID)
	if err != nil {
		return OutboundResult{}, err
	}
	if !ok || held.Agent != in.AgentID {
		// Before the slot is taken: a retry that finds it taken was checked by the
		// attempt that took it.
		if err := a.refuseDoNotCall(ctx, ix); err != nil {
			return OutboundResult{}, err
		}
		c, err := a.capacityOn(ctx, ix.TenantID, in.AgentID, ix.Channel)
		if err != nil {
			return OutboundResult{}, storeError(err)
		}
		reserved, err := a.Presence.ReserveOwn(ctx, ix.TenantID, in.AgentID, ix.ID, ix.Channel, c, outboundHold)
		if err != nil {
			return OutboundResult{}, err
		}
		if !reserved {
			return OutboundResult{QueueID: queueID}, nil
		}
	}
	if ok, err := a.Presence.Confirm(ctx, ix.TenantID, in.AgentID, ix.ID); err != nil || !ok {
		return OutboundResult{QueueID: queueID}, err
	}
	if in.Voice != nil {
		if _, err := a.setVoice(ctx, ix.TenantID, in.AgentID, ix.ID, *in.Voice); err != nil {
			return OutboundResult{}, err
		}
	}
	u := in.Connected
	if _, err := a.Store.RecordInteraction(ctx, u); err != nil {
		return OutboundResult{}, storeError(err)
	}
	ce := stateEvent(u.InteractionID, u.State)
	ce.Channel, ce.QueueID, ce.CustomerPhone = ix.Channel, queueID, ix.CustomerPhone
	if err := a.publishConnected(ctx, ix, ce, in.AgentID); err != nil {
		return OutboundResult{}, err
	}
	return OutboundResult{OK: true, QueueID: queueID}, nil
}

// capacityOn is an agent's effective capacity on a channel: their own over the
// tenant's default over the system's (pgstore AgentCapacity). ErrNotFound for a user
// who is not an agent of the tenant.
func (a *Activities) capacityOn(ctx context.Context, tenantID, agentID string, ch routing.Channel) (int, error) {
	capacity, err := a.Store.AgentCapacity(ctx, tenantID, agentID)
	return capacity[ch], err
}

// targetError refuses for good a transfer target that is not an agent of the
// tenant, naming target.id; other store errors as storeError.
func targetError(err error) error {
	if errors.Is(err, pgstore.ErrNotFound) {
		return temporal.NewNonRetryableApplicationError("no such agent in this tenant", ErrTypeUnknownTarget, err, "target.id")
	}
	return storeError(err)
}
