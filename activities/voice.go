package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"

	"switchboard/pgstore"
	"switchboard/presence"
	"switchboard/routing"
)

// ErrTypeInvalidVoiceState marks a voice request that no retry can fix.
const ErrTypeInvalidVoiceState = "InvalidVoiceState"

// voiceRounds bounds how often SetAgentVoice writes the agent's voice sub-state
// again after finding that another call changed the agent's slots meanwhile.
const voiceRounds = 4

// VoiceRequest moves an agent's voice sub-state as one call goes through its life.
type VoiceRequest struct {
	TenantID      string `json:"tenantId"`
	AgentID       string `json:"agentId"`
	InteractionID string `json:"interactionId"`
	// State is this call's part in it: ringing while offered to the agent, in_call
	// once accepted, wrapping after it ended, idle once it no longer concerns the
	// agent (rejected, rung out, withdrawn, moved away, or the wrap-up is over).
	State routing.VoiceState `json:"state"`
	// OfferWaiting runs bulk assignment for the agent afterwards: at the end of a
	// wrap-up the agent is idle again.
	OfferWaiting bool `json:"offerWaiting,omitempty"`
}

// VoiceResult is the agent's voice sub-state as presence shows it after the change.
type VoiceResult struct {
	// State can differ from the one asked for when another call of the agent's
	// weighs more: a call in progress over one ringing, over a wrap-up, over idle.
	State routing.VoiceState `json:"state"`
	// Session is the agent's presence session; At is the change by the presence
	// clock, with which the agent's session workflow dates it.
	Session int64     `json:"session"`
	At      time.Time `json:"at"`
	// WrapUp is the agent's effective wrap-up time (asked for wrapping only).
	WrapUp time.Duration `json:"wrapUp,omitempty"`
	// Woken are the interactions bulk assignment gave the agent (OfferWaiting).
	Woken []string `json:"woken,omitempty"`
}

// SetAgentVoice sets an agent's voice sub-state in presence for one call and returns
// it, dated by the presence clock. The state is derived from the call's part and the
// agent's other calls, never only from the last writer: another call held by the agent
// shows in_call, one reserved for them ringing, another one ended less than the
// wrap-up time ago wrapping. So a call that lets go of the agent never overwrites a
// call that has just taken them, and a ringing or in_call state is never left behind
// without a slot under it (which would keep voice offers away from the agent). It
// checks the agent's slots again after writing and writes again when they changed.
// Repeating it changes nothing.
func (a *Activities) SetAgentVoice(ctx context.Context, in VoiceRequest) (VoiceResult, error) {
	if !in.State.Valid() || in.AgentID == "" || in.InteractionID == "" {
		return VoiceResult{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("voice state %q for agent %q and call %q", in.State, in.AgentID, in.InteractionID), ErrTypeInvalidVoiceState, nil)
	}
	var out VoiceResult
	othersWrapping := false
	if in.State == routing.VoiceWrapping || in.State == routing.VoiceIdle {
		wrap, lastEnded, err := a.Store.AgentWrapUp(ctx, in.TenantID, in.AgentID, in.InteractionID)
		if err != nil {
			return VoiceResult{}, voiceStoreError(err)
		}
		if in.State == routing.VoiceWrapping {
			out.WrapUp = wrap
		}
		othersWrapping = !lastEnded.IsZero() && time.Since(lastEnded) < wrap
	}
	var p presence.Presence
	for round := 0; ; round++ {
		live, err := a.Presence.Snapshot(ctx, in.TenantID, []string{in.AgentID})
		if err != nil {
			return VoiceResult{}, err
		}
		want := AgentVoice(in.InteractionID, in.State, live[0].Slots, othersWrapping)
		if round > 0 && want == p.Voice || round == voiceRounds {
			break
		}
		if p, err = a.Presence.SetVoiceState(ctx, in.TenantID, in.AgentID, want); err != nil {
			return VoiceResult{}, err
		}
	}
	out.State, out.Session, out.At = p.Voice, p.Session, p.At.UTC()
	if in.OfferWaiting {
		woken, err := a.dispatcher().OfferWaiting(ctx, in.TenantID, in.AgentID, a.Wake)
		if err != nil {
			return VoiceResult{}, err
		}
		out.Woken = woken
	}
	return out, nil
}

// AgentVoice is the voice sub-state an agent shows while call interaction is in
// state, given the agent's live slots and whether another of their calls is in its
// wrap-up: the weightiest of them, in_call over ringing over wrapping over idle.
// Another call held by the agent is in progress; one reserved for them rings.
func AgentVoice(interaction string, state routing.VoiceState, slots []presence.Slot, othersWrapping bool) routing.VoiceState {
	best := state
	if othersWrapping {
		best = weightier(best, routing.VoiceWrapping)
	}
	for _, s := range slots {
		if s.Channel != routing.Voice || s.Interaction == interaction {
			continue
		}
		if s.Held {
			best = weightier(best, routing.VoiceInCall)
		} else {
			best = weightier(best, routing.VoiceRinging)
		}
	}
	return best
}

func weightier(a, b routing.VoiceState) routing.VoiceState {
	rank := func(v routing.VoiceState) int {
		switch v {
		case routing.VoiceInCall:
			return 3
		case routing.VoiceRinging:
			return 2
		case routing.VoiceWrapping:
			return 1
		}
		return 0
	}
	if rank(b) > rank(a) {
		return b
	}
	return a
}

func voiceStoreError(err error) error {
	var invalid *pgstore.ValidationError
	if errors.As(err, &invalid) || errors.Is(err, pgstore.ErrNotFound) {
		return temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeInvalidVoiceState, err)
	}
	return err
}
