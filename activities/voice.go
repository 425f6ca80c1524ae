package activities

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"switchboard/pgstore"
	"switchboard/presence"
	"switchboard/routing"
)

// ErrTypeInvalidVoiceState marks a voice request that no retry can fix.
const ErrTypeInvalidVoiceState = "InvalidVoiceState"

// voiceRounds bounds how often a voice change is written again after finding that
// another call changed the agent's slots meanwhile.
const voiceRounds = 4

// VoiceStep is a change of an agent's voice sub-state that one call makes, and the
// agent's session workflow to tell of it.
type VoiceStep struct {
	// State is the call's part in the agent's sub-state: ringing while offered to
	// the agent, in_call once accepted, wrapping after it ended, idle once it no
	// longer concerns the agent (rejected, rung out, withdrawn, moved away, or the
	// wrap-up is over).
	State routing.VoiceState `json:"state"`
	// SessionWorkflowID is the agent's session workflow and SessionSignal the
	// signal (VoiceChange) that tells it; empty tells nobody.
	SessionWorkflowID string `json:"sessionWorkflowId,omitempty"`
	SessionSignal     string `json:"sessionSignal,omitempty"`
}

// VoiceChange is a change of an agent's voice sub-state as the agent's session
// workflow hears of it: dated by the presence clock, in a presence session.
type VoiceChange struct {
	// Session is the presence session; 0 means whichever session is open.
	Session int64              `json:"session,omitempty"`
	State   routing.VoiceState `json:"state"`
	At      time.Time          `json:"at"`
}

// VoiceRequest moves an agent's voice sub-state for one call on its own, outside an
// offer, an answer or a release: the call starts ringing, or the wrap-up is over.
type VoiceRequest struct {
	TenantID      string    `json:"tenantId"`
	AgentID       string    `json:"agentId"`
	InteractionID string    `json:"interactionId"`
	Step          VoiceStep `json:"step"`
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

// SetAgentVoice sets an agent's voice sub-state for one call (see setVoice) and,
// when asked, then gives the agent the waiting interactions they should take.
func (a *Activities) SetAgentVoice(ctx context.Context, in VoiceRequest) (VoiceResult, error) {
	out, err := a.setVoice(ctx, in.TenantID, in.AgentID, in.InteractionID, in.Step)
	if err != nil || !in.OfferWaiting {
		return out, err
	}
	if out.Woken, err = a.dispatcher().OfferWaiting(ctx, in.TenantID, in.AgentID, a.Wake); err != nil {
		return VoiceResult{}, err
	}
	return out, nil
}

// setVoice sets an agent's voice sub-state in presence for one call and tells the
// agent's session workflow, dated by the presence clock. The state is derived from
// the call's part and the agent's other calls, never only from the last writer:
// another call held by the agent shows in_call, one reserved for them ringing,
// another one ended less than the wrap-up time ago wrapping. So a call that lets go
// of the agent never overwrites a call that has just taken them, and a ringing or
// in_call state is never left behind without a slot under it (which would keep
// voice offers away from the agent). It checks the agent's slots again after
// writing and writes again when they changed. Repeating it changes nothing.
func (a *Activities) setVoice(ctx context.Context, tenantID, agentID, interactionID string, step VoiceStep) (VoiceResult, error) {
	if !step.State.Valid() || agentID == "" || interactionID == "" {
		return VoiceResult{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("voice state %q for agent %q and call %q", step.State, agentID, interactionID), ErrTypeInvalidVoiceState, nil)
	}
	var out VoiceResult
	othersWrapping := false
	if step.State == routing.VoiceWrapping || step.State == routing.VoiceIdle {
		wrap, lastEnded, err := a.Store.AgentWrapUp(ctx, tenantID, agentID, interactionID)
		if err != nil && !errors.Is(err, pgstore.ErrNotFound) {
			return VoiceResult{}, err
		}
		// Settings that are gone (the tenant is being deleted) still leave the agent
		// without a stale call: no wrap-up.
		if step.State == routing.VoiceWrapping {
			out.WrapUp = wrap
		}
		othersWrapping = !lastEnded.IsZero() && time.Since(lastEnded) < wrap
	}
	p, err := a.writeVoice(ctx, tenantID, agentID, interactionID, step.State, othersWrapping)
	if err != nil {
		return VoiceResult{}, err
	}
	out.State, out.Session, out.At = p.Voice, p.Session, p.At.UTC()
	if step.SessionWorkflowID == "" || p.Session == 0 {
		return out, nil // nobody to tell, or the agent never logged in
	}
	err = a.signal(ctx, step.SessionWorkflowID, step.SessionSignal, VoiceChange{Session: out.Session, State: out.State, At: out.At})
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		err = nil // the session ended: its durations are final
	}
	return out, err
}

// writeVoice writes the agent's voice sub-state derived from the call's part
// (AgentVoice) and checks the agent's slots again, writing again while they
// changed meanwhile. interaction is empty when no call takes part.
func (a *Activities) writeVoice(ctx context.Context, tenantID, agentID, interaction string, state routing.VoiceState, othersWrapping bool) (presence.Presence, error) {
	var p presence.Presence
	for round := 0; ; round++ {
		live, err := a.Presence.Snapshot(ctx, tenantID, []string{agentID})
		if err != nil {
			return p, err
		}
		want := AgentVoice(interaction, state, live[0].Slots, othersWrapping)
		if round > 0 && want == p.Voice || round == voiceRounds {
			return p, nil
		}
		if p, err = a.Presence.SetVoiceState(ctx, tenantID, agentID, want); err != nil {
			return p, err
		}
	}
}

// staleVoice puts an agent back to idle whose presence shows a call ringing or in
// progress without any voice slot under it, as it would after the call's run was
// held up past its reservation or stopped by hand: such a state keeps voice offers
// away from the agent. It returns the change, or nil when there was none to make.
func (a *Activities) staleVoice(ctx context.Context, tenantID, agentID string, voice routing.VoiceState) (*VoiceChange, error) {
	if voice != routing.VoiceRinging && voice != routing.VoiceInCall {
		return nil, nil
	}
	live, err := a.Presence.Snapshot(ctx, tenantID, []string{agentID})
	if err != nil {
		return nil, err
	}
	if slices.ContainsFunc(live[0].Slots, func(s presence.Slot) bool { return s.Channel == routing.Voice }) {
		return nil, nil
	}
	p, err := a.writeVoice(ctx, tenantID, agentID, "", routing.VoiceIdle, false)
	if err != nil || p.Voice == voice {
		return nil, err
	}
	return &VoiceChange{Session: p.Session, State: p.Voice, At: p.At.UTC()}, nil
}

// signal sends a signal to a workflow with Signal, else with the worker's client.
func (a *Activities) signal(ctx context.Context, workflowID, name string, arg any) error {
	if a.Signal != nil {
		return a.Signal(ctx, workflowID, name, arg)
	}
	if !activity.IsActivity(ctx) {
		return nil
	}
	return activity.GetClient(ctx).SignalWorkflow(ctx, workflowID, "", name, arg)
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
