package activities

import (
	"context"
	"errors"

	"go.temporal.io/sdk/temporal"

	"switchboard/dispatch"
	"switchboard/pgstore"
	"switchboard/routing"
)

// Application error types of the callback activities.
const (
	// ErrTypeInvalidCallback: a callback's write was refused as invalid.
	ErrTypeInvalidCallback = "InvalidCallback"
)

// callbackHold is how long the slot a due callback reserves for its agent lives
// before the callback's interaction confirms it: the interaction starts at once, and
// a crash between the two frees the slot by itself.
const callbackHold = dispatch.CallbackHold

// CallbackWrite records one change of a callback with its history entry.
type CallbackWrite struct {
	State pgstore.Callback      `json:"state"`
	Event pgstore.CallbackEvent `json:"event"`
}

// RecordCallback writes a callback's state and its history entry (pgstore
// RecordCallback: idempotent by the state's version). A write refused as invalid
// fails for good (ErrTypeInvalidCallback).
func (a *Activities) RecordCallback(ctx context.Context, in CallbackWrite) error {
	_, err := a.Store.RecordCallback(ctx, in.State, in.Event)
	var invalid *pgstore.ValidationError
	if errors.As(err, &invalid) {
		return temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeInvalidCallback, err, invalid.Field)
	}
	return err
}

// CallbackCheck asks whether a due callback may be dialled now, and where.
type CallbackCheck struct {
	Callback pgstore.Callback `json:"callback"`
	// AgentID is the agent who is to take the call (a self-callback's agent, or
	// whoever dials it now); empty routes it to the queue.
	AgentID string `json:"agentId,omitempty"`
	// AnyStatus: the agent dials it themselves, so any status of a live session
	// will do; otherwise the agent must be in an Available-group status.
	AnyStatus bool `json:"anyStatus,omitempty"`
	// InteractionID is the interaction the fire will start, for which the agent's
	// slot is reserved.
	InteractionID string `json:"interactionId"`
}

// CallbackVerdict is what CheckCallback found.
type CallbackVerdict struct {
	// DoNotCall: the number is on the tenant's do-not-call list; nothing was
	// reserved.
	DoNotCall bool `json:"doNotCall,omitempty"`
	// AgentGone: the agent is not an active agent of the tenant (any more).
	AgentGone bool `json:"agentGone,omitempty"`
	// Ready: the call may start now; for an agent, their slot is reserved for
	// InteractionID.
	Ready bool `json:"ready"`
	// CampaignID and QueueID are where the interaction goes: the callback's
	// campaign (the Default one when it has none or it was deleted) and its
	// queue, else the campaign's default queue, else the Default queue.
	CampaignID string `json:"campaignId,omitempty"`
	QueueID    string `json:"queueId,omitempty"`
}

// CheckCallback decides whether a due callback may be dialled now. A number on the
// do-not-call list is refused before anything else. For an agent it reserves one of
// their voice slots for the callback's interaction, which that interaction's start
// confirms: the agent must be logged in, have room for a call and (unless they dial
// it themselves) be in an Available-group status. A retry finds the slot it already
// reserved.
func (a *Activities) CheckCallback(ctx context.Context, in CallbackCheck) (CallbackVerdict, error) {
	c := in.Callback
	listed, err := a.Store.DoNotCallListed(ctx, c.TenantID, c.Phone)
	if err != nil {
		return CallbackVerdict{}, storeError(err)
	}
	if listed {
		return CallbackVerdict{DoNotCall: true}, nil
	}
	var out CallbackVerdict
	campaign, _, err := a.campaign(ctx, c.TenantID, c.CampaignID, false)
	if errors.Is(err, pgstore.ErrNotFound) && c.CampaignID != "" {
		campaign, _, err = a.campaign(ctx, c.TenantID, "", false)
	}
	if err != nil {
		return CallbackVerdict{}, storeError(err)
	}
	out.CampaignID = campaign.ID
	if c.QueueID != "" {
		if _, err := a.Store.GetAssignmentQueue(ctx, c.TenantID, c.QueueID); err == nil {
			out.QueueID = c.QueueID
		} else if !errors.Is(err, pgstore.ErrNotFound) {
			return CallbackVerdict{}, err
		}
	}
	if out.QueueID == "" && campaign.DefaultQueueID != nil {
		out.QueueID = *campaign.DefaultQueueID
	}
	if out.QueueID == "" {
		if out.QueueID, err = a.Store.DefaultQueueID(ctx, c.TenantID); err != nil {
			return CallbackVerdict{}, storeError(err)
		}
	}
	if in.AgentID == "" {
		out.Ready = true
		return out, nil
	}
	u, err := a.Store.GetUser(ctx, c.TenantID, in.AgentID)
	if errors.Is(err, pgstore.ErrNotFound) || (err == nil && (u.Role != pgstore.RoleAgent || u.Disabled)) {
		out.AgentGone = true
		return out, nil
	}
	if err != nil {
		return CallbackVerdict{}, err
	}
	held, ok, err := a.Presence.Holder(ctx, c.TenantID, in.InteractionID)
	if err != nil {
		return CallbackVerdict{}, err
	}
	if ok {
		out.Ready = held.Agent == in.AgentID
		return out, nil
	}
	capacity, err := a.capacityOn(ctx, c.TenantID, in.AgentID, routing.Voice)
	if errors.Is(err, pgstore.ErrNotFound) {
		out.AgentGone = true
		return out, nil
	}
	if err != nil {
		return CallbackVerdict{}, err
	}
	reserve := a.Presence.Reserve
	if in.AnyStatus {
		reserve = a.Presence.ReserveOwn
	}
	if out.Ready, err = reserve(ctx, c.TenantID, in.AgentID, in.InteractionID, routing.Voice, capacity, callbackHold); err != nil {
		return CallbackVerdict{}, err
	}
	return out, nil
}

// checkDisposalCallback checks a disposal against the callback flag of its code: a
// callback code needs the callback's time (unless the wrap-up timed out and the
// default code applied), and only a callback code may schedule one.
func checkDisposalCallback(d *pgstore.Disposition, in DisposeRequest) error {
	callbackCode := d != nil && d.Callback
	switch {
	case callbackCode && in.CallbackID == "" && !in.Auto:
		return temporal.NewNonRetryableApplicationError(
			"the disposition code "+d.Code+" schedules a callback: give its time (callback.at or callback.in)",
			ErrTypeInvalidDisposition, nil, "callback.at")
	case !callbackCode && in.CallbackID != "":
		return temporal.NewNonRetryableApplicationError(
			"the disposition code does not schedule callbacks: leave callback out, or choose a callback code",
			ErrTypeInvalidDisposition, nil, "callback")
	}
	return nil
}
