package workflows_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"switchboard/activities"
	"switchboard/pgstore"
	"switchboard/routing"
	"switchboard/workflows"
)

// mediaHost mocks the activities of a call's media host on the desk, logging each.
type mediaHost struct {
	rings []workflows.MediaRingRequest
	// ringErr fails every ring: the host is gone.
	ringErr error
	// lostAfter fails the call's watch after that long (the host died); zero: the
	// watch ends when the call does, which the test does not wait for.
	lostAfter time.Duration
}

// registerMediaHost registers the media host's activities by name, so that tests
// mock them (mediaCall); a run that calls one unmocked fails.
func registerMediaHost(env *testsuite.TestWorkflowEnvironment) {
	notMocked := func(name string) error {
		return temporal.NewNonRetryableApplicationError(name+" is not mocked", "NotMocked", nil)
	}
	env.RegisterActivityWithOptions(func(context.Context, workflows.MediaRingRequest) (workflows.MediaRingResult, error) {
		return workflows.MediaRingResult{}, notMocked(workflows.MediaRingAgentActivity)
	}, activity.RegisterOptions{Name: workflows.MediaRingAgentActivity})
	env.RegisterActivityWithOptions(func(context.Context, workflows.MediaStopRequest) error {
		return notMocked(workflows.MediaStopRingingActivity)
	}, activity.RegisterOptions{Name: workflows.MediaStopRingingActivity})
	env.RegisterActivityWithOptions(func(context.Context, workflows.MediaHangupRequest) error {
		return notMocked(workflows.MediaHangupActivity)
	}, activity.RegisterOptions{Name: workflows.MediaHangupActivity})
	env.RegisterActivityWithOptions(func(context.Context, workflows.MediaWatchRequest) (workflows.MediaWatchResult, error) {
		return workflows.MediaWatchResult{}, notMocked(workflows.MediaWatchActivity)
	}, activity.RegisterOptions{Name: workflows.MediaWatchActivity})
	env.RegisterActivityWithOptions(func(context.Context, workflows.MediaDialRequest) error {
		return notMocked(workflows.MediaDialActivity)
	}, activity.RegisterOptions{Name: workflows.MediaDialActivity})
	env.RegisterActivityWithOptions(func(context.Context, workflows.MediaHoldRequest) error {
		return notMocked(workflows.MediaHoldActivity)
	}, activity.RegisterOptions{Name: workflows.MediaHoldActivity})
}

func (d *desk) mediaCall(h *mediaHost) {
	d.input.Channel, d.input.Source, d.input.From = routing.Voice, "sip", "+15550100"
	d.input.Media = &workflows.MediaCall{TaskQueue: workflows.MediaTaskQueue("host-a"), CallID: "call-1"}
	d.env.OnActivity(workflows.MediaRingAgentActivity, mock.Anything, mock.Anything).Return(func(_ context.Context, in workflows.MediaRingRequest) (workflows.MediaRingResult, error) {
		d.mu.Lock()
		defer d.mu.Unlock()
		if in.TenantID != tenantID || in.InteractionID != interactionID || in.CallID != "call-1" || in.From != "+15550100" || in.RingUntil.IsZero() {
			d.t.Errorf("ring request %+v", in)
		}
		d.log = append(d.log, fmt.Sprintf("media ring %s %d", in.AgentID, in.Attempt))
		h.rings = append(h.rings, in)
		if h.ringErr != nil {
			return workflows.MediaRingResult{}, h.ringErr
		}
		return workflows.MediaRingResult{Phones: 1}, nil
	})
	d.env.OnActivity(workflows.MediaStopRingingActivity, mock.Anything, mock.Anything).Return(func(_ context.Context, in workflows.MediaStopRequest) error {
		d.mu.Lock()
		defer d.mu.Unlock()
		d.log = append(d.log, fmt.Sprintf("media stop %s %d", in.AgentID, in.Attempt))
		return nil
	})
	d.env.OnActivity(workflows.MediaHoldActivity, mock.Anything, mock.Anything).Return(func(_ context.Context, in workflows.MediaHoldRequest) error {
		d.mu.Lock()
		defer d.mu.Unlock()
		d.log = append(d.log, fmt.Sprintf("media hold %v", in.Hold))
		return nil
	})
	watch := d.env.OnActivity(workflows.MediaWatchActivity, mock.Anything, mock.Anything)
	if h.lostAfter > 0 {
		watch.After(h.lostAfter).Return(workflows.MediaWatchResult{}, temporal.NewTimeoutError(0, errors.New("heartbeat timeout")))
	} else {
		watch.After(24*time.Hour).Return(workflows.MediaWatchResult{}, nil)
	}
	d.env.OnActivity(workflows.MediaHangupActivity, mock.Anything, mock.Anything).Return(func(_ context.Context, in workflows.MediaHangupRequest) error {
		d.mu.Lock()
		defer d.mu.Unlock()
		d.log = append(d.log, "media hangup "+in.Reason)
		return nil
	})
}

func (d *desk) mediaLog() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for _, l := range d.log {
		if len(l) > 6 && l[:6] == "media " || len(l) > 6 && l[:6] == "offer " {
			out = append(out, l)
		}
	}
	return out
}

// A SIP call rings each offered agent's phone on the call's media host; a declined
// offer stops that phone before the next rings, and the caller hanging up hangs up
// the call's legs.
func TestInteractionMediaCall(t *testing.T) {
	d := newDesk(t, ana, bo)
	h := &mediaHost{}
	d.mediaCall(h)
	declined := d.reject(2*time.Second, ana)
	answered := d.accept(3*time.Second, bo)
	d.env.RegisterDelayedCallback(func() {
		d.env.SignalWorkflow(workflows.HangupSignal, workflows.HangupInput{TenantID: tenantID, Reason: "the caller hung up"})
	}, 30*time.Second)
	st := d.run()

	wantOK(t, "decline", declined)
	wantOK(t, "answer", answered)
	if st.Status != pgstore.InteractionDisposed || st.AgentID != bo || st.EndReason != "the caller hung up" {
		t.Errorf("final state %+v", st)
	}
	want := []string{"offer " + ana, "media ring " + ana + " 1", "media stop " + ana + " 1", "offer " + bo, "media ring " + bo + " 2",
		"media hangup the caller hung up"}
	if got := d.mediaLog(); !slices.Equal(got, want) {
		t.Errorf("media log\n%q\nwant\n%q", got, want)
	}
	if !h.rings[0].RingUntil.Equal(d.start.Add(ring)) {
		t.Errorf("rings until %v, want %v", h.rings[0].RingUntil, d.start.Add(ring))
	}
}

// No answer: the ring timeout stops the phone; the caller leaving while it rings on
// the next agent hangs the call up.
func TestInteractionMediaCallRingsOut(t *testing.T) {
	d := newDesk(t, ana, bo)
	d.mediaCall(&mediaHost{})
	d.env.RegisterDelayedCallback(func() {
		d.env.SignalWorkflow(workflows.HangupSignal, workflows.HangupInput{TenantID: tenantID, Reason: "the caller hung up"})
	}, ring+5*time.Second)
	st := d.run()
	if st.Status != pgstore.InteractionAbandoned || st.Outcome != pgstore.OutcomeAbandoned {
		t.Errorf("final state %+v", st)
	}
	want := []string{"offer " + ana, "media ring " + ana + " 1", "media stop " + ana + " 1", "offer " + bo, "media ring " + bo + " 2",
		"media hangup the caller hung up"}
	if got := d.mediaLog(); !slices.Equal(got, want) {
		t.Errorf("media log\n%q\nwant\n%q", got, want)
	}
}

// A media host that cannot be reached has lost the call: the interaction ends
// instead of waiting for a caller who is gone.
func TestInteractionMediaHostLost(t *testing.T) {
	d := newDesk(t, ana)
	d.mediaCall(&mediaHost{ringErr: temporal.NewNonRetryableApplicationError("gone", "Gone", errors.New("host down"))})
	st := d.run()
	if st.Status != pgstore.InteractionAbandoned || st.EndReason != "the call's media host is unreachable" {
		t.Errorf("final state %+v", st)
	}
	if got := d.mediaLog(); len(got) != 3 || got[2] != "media hangup the call's media host is unreachable" {
		t.Errorf("media log %q", got)
	}
}

// The media host dying while the call is connected stops the call's watch: the
// interaction ends instead of staying connected to a call that no longer exists.
func TestInteractionMediaHostDiesWhileConnected(t *testing.T) {
	d := newDesk(t, ana)
	d.mediaCall(&mediaHost{lostAfter: time.Minute})
	answered := d.accept(3*time.Second, ana)
	st := d.run()
	wantOK(t, "answer", answered)
	if st.Status != pgstore.InteractionDisposed || st.AgentID != ana || st.EndReason != "the call's media host is unreachable" ||
		st.EndedAt == nil || st.EndedAt.Sub(d.start) != time.Minute {
		t.Errorf("final state %+v", st)
	}
	want := []string{"offer " + ana, "media ring " + ana + " 1", "media hangup the call's media host is unreachable"}
	if got := d.mediaLog(); !slices.Equal(got, want) {
		t.Errorf("media log\n%q\nwant\n%q", got, want)
	}
}

// An outbound call of an agent with a registered phone is placed by the phone's
// media host once the interaction starts connected; a busy customer, as the host
// reports it, ends it as busy and hangs the call up.
func TestInteractionMediaOutboundBusy(t *testing.T) {
	d := newDesk(t)
	h := &mediaHost{}
	d.mediaCall(h)
	d.input.Direction, d.input.AgentID, d.input.To, d.input.From = pgstore.Outbound, ana, "+385915550199", "+15550100"
	var a *activities.Activities
	d.env.OnActivity(a.StartOutbound, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.OutboundRequest) (activities.OutboundResult, error) {
		return activities.OutboundResult{OK: true, QueueID: in.Interaction.QueueID}, nil
	})
	var dials []workflows.MediaDialRequest
	d.env.OnActivity(workflows.MediaDialActivity, mock.Anything, mock.Anything).Return(func(_ context.Context, in workflows.MediaDialRequest) error {
		dials = append(dials, in)
		return nil
	})
	d.env.RegisterDelayedCallback(func() {
		d.env.SignalWorkflow(workflows.ChannelEventSignal, workflows.ChannelEvent{TenantID: tenantID, Type: "outcome",
			Outcome: pgstore.OutcomeBusy, Detail: map[string]string{"sipStatus": "486"}, At: d.env.Now()})
	}, 5*time.Second)
	st := d.run()
	if len(dials) != 1 || dials[0].AgentID != ana || dials[0].To != "+385915550199" || dials[0].From != "+15550100" || dials[0].CallID != "call-1" {
		t.Fatalf("dials %+v", dials)
	}
	if st.Outcome != pgstore.OutcomeBusy || st.EndedAt == nil {
		t.Errorf("final state %+v", st)
	}
	if got := d.mediaLog(); !slices.Equal(got, []string{"media hangup busy"}) {
		t.Errorf("media log %q", got)
	}
}

// A cold transfer of a SIP call: the transferring agent's phone is taken off the
// call and the target's phone rings; their answer connects them.
func TestInteractionMediaCallTransfer(t *testing.T) {
	d := newDesk(t, ana, bo)
	d.mediaCall(&mediaHost{})
	d.accept(2*time.Second, ana)
	transferred := d.update(10*time.Second, workflows.TransferUpdate, workflows.TransferInput{Actor: as(ana), Mode: "cold",
		Target: workflows.TransferTarget{Kind: "agent", ID: bo}})
	answered := d.accept(12*time.Second, bo)
	d.env.RegisterDelayedCallback(func() {
		d.env.SignalWorkflow(workflows.HangupSignal, workflows.HangupInput{TenantID: tenantID, Reason: "the caller hung up"})
	}, time.Minute)
	st := d.run()
	wantOK(t, "transfer", transferred)
	wantOK(t, "answer by Bo", answered)
	if st.AgentID != bo || st.EndReason != "the caller hung up" {
		t.Errorf("final state %+v", st)
	}
	want := []string{"offer " + ana, "media ring " + ana + " 1", "media stop " + ana + " 0", "media ring " + bo + " 2",
		"media hangup the caller hung up"}
	if got := d.mediaLog(); !slices.Equal(got, want) {
		t.Errorf("media log\n%q\nwant\n%q", got, want)
	}
}

// Hold and unhold of a SIP call put the caller on hold music on its media host and
// take them off it.
func TestInteractionMediaCallHold(t *testing.T) {
	d := newDesk(t, ana)
	d.mediaCall(&mediaHost{})
	d.accept(2*time.Second, ana)
	held := d.update(5*time.Second, workflows.HoldUpdate, workflows.HoldInput{Actor: as(ana)})
	resumed := d.update(15*time.Second, workflows.UnholdUpdate, workflows.HoldInput{Actor: as(ana)})
	d.env.RegisterDelayedCallback(func() {
		d.env.SignalWorkflow(workflows.HangupSignal, workflows.HangupInput{TenantID: tenantID, Reason: "the caller hung up"})
	}, time.Minute)
	st := d.run()
	wantOK(t, "hold", held)
	wantOK(t, "unhold", resumed)
	if st.Holds != 1 || st.HoldSeconds != 10 {
		t.Errorf("final state %+v", st)
	}
	want := []string{"offer " + ana, "media ring " + ana + " 1", "media hold true", "media hold false", "media hangup the caller hung up"}
	if got := d.mediaLog(); !slices.Equal(got, want) {
		t.Errorf("media log\n%q\nwant\n%q", got, want)
	}
}
