package workflows

import (
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"switchboard/pgstore"
	"switchboard/routing"
)

// A SIP call and its interaction.
//
// The media host that answered a call holds its media: the caller's dialog and RTP
// leg live in that process, and only it can ring an agent's phone for the call,
// bridge the two, or hang up. So the interaction's workflow, which decides, asks that
// host through activities on the host's own task queue (MediaTaskQueue), named in
// the interaction's input (MediaCall); the host reports what the phones do through
// the same updates and signals the API uses for the agent's desktop and the
// customer:
//
//   - INVITE to a number → the host answers it (SDP, caller leg) and starts the
//     interaction with the number's tenant and campaign, as the API starts an
//     inbound one (routed by the tenant's routes), keyed by the Call-ID;
//   - an offer to an agent → MediaRingAgentActivity: the host sends an INVITE to
//     the agent's registered phone; the phone answering → AcceptUpdate on the
//     agent's behalf, and once accepted the host bridges caller and agent; the phone
//     declining, or no phone registered → RejectUpdate; no answer → the workflow's
//     ring timeout, which withdraws the offer → MediaStopRingingActivity (CANCEL);
//   - the caller hanging up (BYE, or CANCEL before the answer) → HangupSignal;
//   - the agent hanging up → EndUpdate as the agent;
//   - the interaction ending any other way (the API, the waiting strategy's
//     maximum wait, a transfer away) → MediaHangupActivity: the host hangs up
//     every leg of the call (BYE).
//
// The media activities are best effort: a host that is gone (its process died) has
// taken the call with it, so a media activity that cannot reach the host ends the
// interaction instead of leaving it waiting for a call that no longer exists. And
// for as long as the interaction is active, MediaWatchActivity runs on the host,
// heartbeating while the call lives: a host killed mid-call stops the heartbeats,
// and the interaction ends as soon as the heartbeat timeout passes, whether it was
// queued, ringing or connected.

// MediaTaskQueue is the task queue of one media host's activities.
func MediaTaskQueue(host string) string { return "media/" + host }

// The media host's activities, registered under these names.
const (
	MediaRingAgentActivity   = "MediaRingAgent"
	MediaStopRingingActivity = "MediaStopRinging"
	MediaHangupActivity      = "MediaHangup"
	MediaWatchActivity       = "MediaWatch"
	MediaDialActivity        = "MediaDial"
	MediaHoldActivity        = "MediaHold"
)

// MediaHoldRequest puts the caller of a connected call on hold (hearing hold music)
// or takes them off it.
type MediaHoldRequest struct {
	CallID string `json:"callId"`
	Hold   bool   `json:"hold"`
}

// MediaDialRequest places an outbound interaction's call from its media host: the
// agent's registered phone first, then the customer through the carrier trunk. How
// the customer's side ends before an answer comes back as the channel's outcome
// (ChannelEventSignal): busy (486, 600), no_answer (no answer in time, 408, 480),
// failed (any other refusal, or no way to reach them).
type MediaDialRequest struct {
	CallID        string `json:"callId"`
	TenantID      string `json:"tenantId"`
	InteractionID string `json:"interactionId"`
	AgentID       string `json:"agentId"`
	// To is the customer's number; From the caller ID presented to them.
	To   string `json:"to"`
	From string `json:"from,omitempty"`
}

// mediaHeartbeat is the heartbeat timeout of MediaWatchActivity: how long a call
// whose host died can go unnoticed.
const mediaHeartbeat = 15 * time.Second

// MediaWatchRequest watches a call on its host until it ends.
type MediaWatchRequest struct {
	CallID string `json:"callId"`
}

// MediaWatchResult is how the watched call ended.
type MediaWatchResult struct {
	// Gone: the host has no such call (it ended before the watch began).
	Gone bool `json:"gone,omitempty"`
}

// MediaCall is the SIP call of a voice interaction: the media host holding the
// caller's leg, and the leg's Call-ID there.
type MediaCall struct {
	TaskQueue string `json:"taskQueue"`
	CallID    string `json:"callId"`
}

// MediaRingRequest asks the call's media host to ring an agent's phone for an offer.
type MediaRingRequest struct {
	CallID        string    `json:"callId"`
	TenantID      string    `json:"tenantId"`
	InteractionID string    `json:"interactionId"`
	AgentID       string    `json:"agentId"`
	Attempt       int       `json:"attempt"`
	RingUntil     time.Time `json:"ringUntil"`
	// From is the caller, shown on the agent's phone.
	From string `json:"from,omitempty"`
}

// MediaRingResult says how the ringing started.
type MediaRingResult struct {
	// Phones is how many registered phones of the agent ring; 0 when the agent has
	// none (the host declines the offer for them).
	Phones int `json:"phones"`
	// Gone: the call no longer exists on the host.
	Gone bool `json:"gone,omitempty"`
}

// MediaStopRequest stops ringing an agent's phone for an offer that closed, or,
// with Attempt 0, takes the agent's phone off the call whatever the offer was (a
// transfer took the call from them): the caller waits again, hearing the waiting
// treatment.
type MediaStopRequest struct {
	CallID  string `json:"callId"`
	AgentID string `json:"agentId"`
	Attempt int    `json:"attempt"`
	Reason  string `json:"reason,omitempty"`
}

// MediaHangupRequest hangs up every leg of a call.
type MediaHangupRequest struct {
	CallID string `json:"callId"`
	Reason string `json:"reason,omitempty"`
}

// End reasons of calls whose media host lost them.
const (
	mediaHostLost = "the call's media host is unreachable"
	mediaCallGone = "the call is no longer on its media host"
)

// media runs an activity on the call's media host. The schedule-to-start timeout
// tells a host that is gone from one that is busy: nobody polls a dead host's queue.
func (w *interaction) media(ctx workflow.Context, name string, arg, result any) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:              w.in.Media.TaskQueue,
		ScheduleToStartTimeout: 10 * time.Second,
		StartToCloseTimeout:    10 * time.Second,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: 200 * time.Millisecond, MaximumAttempts: 3},
	})
	return workflow.ExecuteActivity(ctx, name, arg).Get(ctx, result)
}

// mediaDial places an outbound call that started connected to its agent; a host
// that cannot be reached fails it.
func (w *interaction) mediaDial(ctx workflow.Context) {
	if !w.mediaCall() || w.end != nil || w.st.Direction != pgstore.Outbound {
		return
	}
	err := w.media(ctx, MediaDialActivity, MediaDialRequest{CallID: w.in.Media.CallID, TenantID: w.st.TenantID,
		InteractionID: w.st.ID, AgentID: w.st.AgentID, To: w.st.To, From: w.st.From}, nil)
	if err != nil {
		workflow.GetLogger(ctx).Error("placing the call failed", "error", err)
		w.outcome = pgstore.OutcomeFailed
		w.end = &EndInput{TenantID: w.st.TenantID, ActorID: w.st.AgentID, Reason: mediaHostLost}
	}
}

// watchMedia watches the call on its host while the interaction is active (see
// MediaWatchActivity). The watch returns when the call ends, which the host also
// reports as a hangup; it fails when the host stops heartbeating, which ends the
// interaction. Each run starts its own watch: a continued run's pending activities
// are not its own.
func (w *interaction) watchMedia(ctx workflow.Context) {
	if !w.mediaCall() {
		return
	}
	wctx, cancel := workflow.WithCancel(ctx)
	wctx = workflow.WithActivityOptions(wctx, workflow.ActivityOptions{
		TaskQueue:              w.in.Media.TaskQueue,
		ScheduleToStartTimeout: 10 * time.Second,
		StartToCloseTimeout:    24 * time.Hour,
		HeartbeatTimeout:       mediaHeartbeat,
		WaitForCancellation:    false,
		RetryPolicy:            &temporal.RetryPolicy{MaximumAttempts: 1},
	})
	f := workflow.ExecuteActivity(wctx, MediaWatchActivity, MediaWatchRequest{CallID: w.in.Media.CallID})
	workflow.Go(ctx, func(ctx workflow.Context) {
		defer cancel()
		var res MediaWatchResult
		err := f.Get(ctx, &res)
		if !w.st.Status.Active() || wctx.Err() != nil {
			return
		}
		var canceled *temporal.CanceledError
		if errors.As(err, &canceled) {
			return
		}
		switch {
		case err != nil:
			workflow.GetLogger(ctx).Warn("the call's media host stopped answering; the interaction ends", "error", err)
			w.mediaLost()
		case res.Gone:
			// Unknown to the host: it restarted since it answered the call.
			if w.end == nil {
				w.end = &EndInput{TenantID: w.st.TenantID, Reason: mediaCallGone}
			}
		}
	})
}

// mediaCall reports whether the interaction is a SIP call with media on a host.
func (w *interaction) mediaCall() bool {
	return w.in.Media != nil && w.in.Media.TaskQueue != "" && w.st.Channel == routing.Voice
}

// mediaRing rings the offered agent's phone. A host that is gone, or has no call
// any more, ends the interaction: the caller is not there to be connected.
func (w *interaction) mediaRing(ctx workflow.Context) {
	if !w.mediaCall() {
		return
	}
	var res MediaRingResult
	until := workflow.Now(ctx).Add(DefaultRingTimeout)
	if w.st.RingUntil != nil {
		until = *w.st.RingUntil
	}
	err := w.media(ctx, MediaRingAgentActivity, MediaRingRequest{CallID: w.in.Media.CallID, TenantID: w.st.TenantID,
		InteractionID: w.st.ID, AgentID: w.st.OfferedAgentID, Attempt: w.st.Offers, RingUntil: until, From: w.st.From}, &res)
	switch {
	case err != nil:
		workflow.GetLogger(ctx).Error("ringing the agent's phone failed; the call is ended", "error", err)
		w.mediaLost()
	case res.Gone:
		w.mediaLost()
	}
}

// mediaLost ends the interaction whose call is gone.
func (w *interaction) mediaLost() {
	if w.end == nil {
		w.end = &EndInput{TenantID: w.st.TenantID, Reason: mediaHostLost}
	}
}

// mediaOfferClosed stops ringing the phone of an agent whose offer closed without
// an answer, and hangs the call up when it closed because the interaction ended.
func (w *interaction) mediaOfferClosed(ctx workflow.Context, agent string, outcome pgstore.OfferOutcome, reason string) {
	if !w.mediaCall() {
		return
	}
	if outcome == pgstore.OfferReleased {
		if w.end != nil {
			reason = w.end.Reason
		}
		w.mediaHangup(ctx, reason)
		return
	}
	err := w.media(ctx, MediaStopRingingActivity, MediaStopRequest{CallID: w.in.Media.CallID, AgentID: agent,
		Attempt: w.st.Offers, Reason: reason}, nil)
	if err != nil {
		workflow.GetLogger(ctx).Error("stopping the agent's phone failed", "error", err)
	}
}

// mediaAgentLeft takes the phone of an agent a transfer took the call from off the
// call.
func (w *interaction) mediaAgentLeft(ctx workflow.Context, agent string) {
	if !w.mediaCall() || agent == "" {
		return
	}
	err := w.media(ctx, MediaStopRingingActivity, MediaStopRequest{CallID: w.in.Media.CallID, AgentID: agent,
		Reason: "the call was transferred"}, nil)
	if err != nil {
		workflow.GetLogger(ctx).Error("taking the agent's phone off the call failed", "error", err)
	}
}

// mediaHold puts the caller on hold or takes them off it.
func (w *interaction) mediaHold(ctx workflow.Context, hold bool) {
	if !w.mediaCall() {
		return
	}
	if err := w.media(ctx, MediaHoldActivity, MediaHoldRequest{CallID: w.in.Media.CallID, Hold: hold}, nil); err != nil {
		workflow.GetLogger(ctx).Error("holding the call failed", "hold", hold, "error", err)
	}
}

// mediaHangup hangs up every leg of the call; a host that is gone has done so.
func (w *interaction) mediaHangup(ctx workflow.Context, reason string) {
	if !w.mediaCall() {
		return
	}
	err := w.media(ctx, MediaHangupActivity, MediaHangupRequest{CallID: w.in.Media.CallID, Reason: reason}, nil)
	if err != nil {
		workflow.GetLogger(ctx).Warn("hanging up the call failed; its media host is gone", "error", err)
	}
}
