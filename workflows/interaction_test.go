package workflows_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"switchboard/activities"
	"switchboard/pgstore"
	"switchboard/routing"
	"switchboard/workflows"
)

const (
	interactionID = "6f1c2c3e-0000-4000-8000-0000000000d1"
	queueID       = "6f1c2c3e-0000-4000-8000-0000000000e1"
	ana           = "6f1c2c3e-0000-4000-8000-0000000000a1"
	bo            = "6f1c2c3e-0000-4000-8000-0000000000a2"
	cy            = "6f1c2c3e-0000-4000-8000-0000000000a3"
	ring          = 20 * time.Second
)

// desk drives one Interaction run with mocked activities. The mocked
// OfferInteraction offers to the first agent of ready who is not excluded and is a
// member of the interaction's queue; the other activities record what they were
// asked, and every activity and signal to an agent's session is also written to log
// in order.
type desk struct {
	t     *testing.T
	env   *testsuite.TestWorkflowEnvironment
	start time.Time
	input workflows.InteractionInput

	mu       sync.Mutex
	ready    []string
	offers   []activities.OfferRequest
	offerAt  []time.Duration
	confirms []activities.ConfirmRequest
	releases []activities.ReleaseRequest
	voices   []voiceChange
	moves    []activities.MoveRequest
	log      []string
	// lapsed makes ConfirmOffer report a lapsed reservation once.
	lapsed bool
	// freed is what ReleaseSlot answers: the interactions bulk assignment woke.
	freed []string
	// members lists the agents of the queues that are not everyone's; a queue
	// that is neither here nor the interaction's first queue does not exist.
	members map[string][]string
	// manual queues do not assign automatically.
	manual map[string]bool
	// wrapUp is the agent's wrap-up time SetAgentVoice reports.
	wrapUp time.Duration
	// offerErrors is how many offers fail for good, from the first.
	offerErrors int
	// queueAttrs are the values the QueueId search attribute was set to.
	queueAttrs []string
	updates    int
	// campaignWrap is the campaign's wrap-up timeout GetCampaign reports.
	campaignWrap time.Duration
	// changes are the RecordChange requests, in order.
	changes []activities.ChangeRequest
	// handovers are the HandOver requests; handoverRefused makes them fail.
	handovers       []activities.HandoverRequest
	handoverRefused string
	messages        []activities.OutboundMessage
	inbound         []activities.InboundMessage
	published       []activities.PublishRequest
	// formCheck answers CheckForm (nothing missing when nil).
	formCheck func(activities.FormCheckRequest) activities.FormCheck
	// sla is what the conversation's SLA clock (a real child) was answered and wrote.
	sla slaStore
}

// Campaign and disposition of the mocked lifecycle activities.
const (
	campaignID = "6f1c2c3e-0000-4000-8000-0000000000c1"
	classID    = "6f1c2c3e-0000-4000-8000-0000000000c2"
	resolvedID = "6f1c2c3e-0000-4000-8000-0000000000c3"
	noActionID = "6f1c2c3e-0000-4000-8000-0000000000c4"
)

// mockLifecycle mocks the activities of the lifecycle after the connection: the
// campaign (one class Closed with Resolved, the default, and No action), changes,
// handovers, messages and users (Ana, Bo and Cy are agents; supID a supervisor).
func (d *desk) mockLifecycle() {
	var a *activities.Activities
	d.env.OnActivity(a.GetCampaign, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.CampaignRequest) (activities.CampaignInfo, error) {
		if in.CampaignID != "" && in.CampaignID != campaignID && !in.OrDefault {
			return activities.CampaignInfo{}, temporal.NewNonRetryableApplicationError("no such campaign", activities.ErrTypeUnknownTarget, nil, "campaignId")
		}
		d.mu.Lock()
		defer d.mu.Unlock()
		d.log = append(d.log, "campaign")
		return activities.CampaignInfo{ID: campaignID, WrapUpTimeoutSeconds: int(d.campaignWrap / time.Second), DefaultQueueID: salesQueue}, nil
	})
	d.env.OnActivity(a.DisposeInteraction, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.DisposeRequest) (*pgstore.AppliedDisposition, error) {
		disp, err := resolveDisposition(in.Class, in.Code)
		if err != nil {
			return nil, err
		}
		applied := &pgstore.AppliedDisposition{ClassID: disp.ClassID, Class: disp.Class, CodeID: disp.CodeID, Code: disp.Code, Auto: in.Auto, Notes: in.Notes}
		u := in.Update
		u.State.Disposition = applied
		u.Events = slices.Clone(u.Events)
		u.Events[0].Data = map[string]any{"auto": in.Auto, "class": disp.Class, "code": disp.Code, "classId": disp.ClassID, "codeId": disp.CodeID}
		d.mu.Lock()
		defer d.mu.Unlock()
		d.changes = append(d.changes, activities.ChangeRequest{Update: u, Note: in.Note})
		d.log = append(d.log, "change "+u.Events[0].Type+" "+string(u.State.Status))
		return applied, nil
	})
	d.env.OnActivity(a.ResolveDisposition, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.DispositionRequest) (*pgstore.Disposition, error) {
		return resolveDisposition(in.Class, in.Code)
	})
	d.env.OnActivity(a.RecordChange, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.ChangeRequest) error {
		d.mu.Lock()
		defer d.mu.Unlock()
		d.changes = append(d.changes, in)
		d.log = append(d.log, "change "+in.Update.Events[0].Type+" "+string(in.Update.State.Status))
		return nil
	})
	d.env.OnActivity(a.CheckForm, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.FormCheckRequest) (activities.FormCheck, error) {
		if d.formCheck != nil {
			return d.formCheck(in), nil
		}
		return activities.FormCheck{}, nil
	})
	d.env.OnActivity(a.PublishEvents, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.PublishRequest) error {
		d.mu.Lock()
		defer d.mu.Unlock()
		d.published = append(d.published, in)
		return nil
	})
	d.env.OnActivity(a.HandOver, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.HandoverRequest) (activities.HandoverResult, error) {
		d.mu.Lock()
		defer d.mu.Unlock()
		d.handovers = append(d.handovers, in)
		if d.handoverRefused != "" {
			return activities.HandoverResult{Reason: d.handoverRefused}, nil
		}
		d.voice(in.FromAgentID, in.Voice, false)
		d.log = append(d.log, "handover "+in.FromAgentID+" "+in.ToAgentID)
		return activities.HandoverResult{OK: true, OfferedAt: d.env.Now(), RingUntil: d.env.Now().Add(ring)}, nil
	})
	d.env.OnActivity(a.GetUser, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.UserRequest) (activities.UserInfo, error) {
		switch in.UserID {
		case ana, bo, cy:
			return activities.UserInfo{ID: in.UserID, Role: pgstore.RoleAgent}, nil
		case supID:
			return activities.UserInfo{ID: in.UserID, Role: pgstore.RoleSupervisor}, nil
		}
		return activities.UserInfo{}, temporal.NewNonRetryableApplicationError("no such user", activities.ErrTypeUnknownTarget, nil, "userId")
	})
	d.env.OnActivity(a.SendOutboundMessage, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.OutboundMessage) (activities.MessageResult, error) {
		d.mu.Lock()
		defer d.mu.Unlock()
		d.messages = append(d.messages, in)
		return activities.MessageResult{MessageID: in.MessageID, Seq: int64(len(d.messages) + len(d.inbound)), Status: pgstore.DeliverySent}, nil
	})
	d.env.OnActivity(a.RecordInboundMessage, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.InboundMessage) (activities.MessageResult, error) {
		d.mu.Lock()
		defer d.mu.Unlock()
		d.inbound = append(d.inbound, in)
		return activities.MessageResult{MessageID: in.MessageID, Seq: int64(len(d.messages) + len(d.inbound))}, nil
	})
}

// voiceChange is a step of an agent's voice sub-state an activity was asked for.
type voiceChange struct {
	agent string
	step  activities.VoiceStep
	at    time.Duration
	// bulk: bulk assignment runs for the agent afterwards.
	bulk bool
}

// voice records a voice step asked of an activity.
func (d *desk) voice(agent string, step *activities.VoiceStep, bulk bool) {
	if step == nil {
		return
	}
	d.voices = append(d.voices, voiceChange{agent: agent, step: *step, at: d.env.Now().Sub(d.start), bulk: bulk})
	d.log = append(d.log, fmt.Sprintf("voice %s %s", agent, voiceName(step.State)))
}

func newDesk(t *testing.T, ready ...string) *desk {
	var suite testsuite.WorkflowTestSuite
	d := &desk{t: t, env: suite.NewTestWorkflowEnvironment(), ready: ready, input: interactionInput(),
		members: map[string][]string{}, manual: map[string]bool{}, campaignWrap: 10 * time.Minute}
	d.start = d.env.Now()
	registerMediaHost(d.env)
	d.env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: workflows.InteractionWorkflowID(interactionID)})
	var a *activities.Activities
	d.env.OnActivity(a.OfferInteraction, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.OfferRequest) (activities.OfferResult, error) {
		d.mu.Lock()
		defer d.mu.Unlock()
		d.offers = append(d.offers, in)
		d.offerAt = append(d.offerAt, d.env.Now().Sub(d.start))
		if d.offerErrors > 0 {
			d.offerErrors--
			return activities.OfferResult{}, temporal.NewNonRetryableApplicationError("refused", activities.ErrTypeInvalidInteraction, nil)
		}
		res := activities.OfferResult{QueueID: in.Interaction.QueueID, RingTimeout: ring, Considered: len(d.ready)}
		if d.manual[in.Interaction.QueueID] {
			res.Manual = true
			return res, nil
		}
		members, limited := d.members[in.Interaction.QueueID]
		for _, agent := range d.ready {
			if !slices.Contains(in.Interaction.ExcludedAgents, agent) && (!limited || slices.Contains(members, agent)) {
				d.log = append(d.log, "offer "+agent)
				res.Offered, res.AgentID, res.OfferedAt, res.RingUntil, res.Eligible = true, agent, d.env.Now(), d.env.Now().Add(ring), 1
				break
			}
		}
		return res, nil
	})
	d.env.OnActivity(a.ConfirmOffer, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.ConfirmRequest) (bool, error) {
		d.mu.Lock()
		defer d.mu.Unlock()
		d.confirms = append(d.confirms, in)
		if d.lapsed {
			d.lapsed = false
			return false, nil
		}
		d.voice(in.AgentID, in.Voice, false)
		return true, nil
	})
	d.env.OnActivity(a.ReleaseSlot, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.ReleaseRequest) ([]string, error) {
		d.mu.Lock()
		defer d.mu.Unlock()
		d.releases = append(d.releases, in)
		d.log = append(d.log, "release "+in.AgentID+" "+string(in.Update.State.Status))
		if in.AgentID == "" {
			return nil, nil
		}
		return d.freed, nil
	})
	d.env.OnActivity(a.ReleaseCall, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.ReleaseRequest) (activities.ReleaseResult, error) {
		d.mu.Lock()
		defer d.mu.Unlock()
		d.voice(in.AgentID, in.Voice, false)
		d.releases = append(d.releases, in)
		d.log = append(d.log, "release "+in.AgentID+" "+string(in.Update.State.Status))
		res := activities.ReleaseResult{Woken: d.freed}
		if in.Voice != nil {
			res.Voice = &activities.VoiceResult{State: in.Voice.State, At: d.env.Now()}
			if in.Voice.State == routing.VoiceWrapping {
				res.Voice.WrapUp = d.wrapUp
			}
		}
		if in.WrapUp != nil {
			res.Campaign = &activities.CampaignInfo{ID: campaignID, WrapUpTimeoutSeconds: int(d.campaignWrap / time.Second), DefaultQueueID: salesQueue}
		}
		return res, nil
	})
	d.env.OnActivity(a.SetAgentVoice, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.VoiceRequest) (activities.VoiceResult, error) {
		d.mu.Lock()
		defer d.mu.Unlock()
		d.voice(in.AgentID, &in.Step, in.OfferWaiting)
		return activities.VoiceResult{State: in.Step.State, At: d.env.Now()}, nil
	})
	d.env.OnActivity(a.MoveInteraction, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.MoveRequest) (activities.MoveResult, error) {
		d.mu.Lock()
		defer d.mu.Unlock()
		d.moves = append(d.moves, in)
		c := in.Change
		members, limited := d.members[c.QueueID]
		if !limited && c.QueueID != d.input.QueueID && !d.manual[c.QueueID] {
			return activities.MoveResult{}, temporal.NewNonRetryableApplicationError("no such queue", activities.ErrTypeUnknownQueue, nil)
		}
		member := c.AgentID == "" || !limited || slices.Contains(members, c.AgentID)
		d.log = append(d.log, fmt.Sprintf("move %s member %v", c.QueueID, member))
		return activities.MoveResult{Member: member}, nil
	})
	d.env.OnUpsertTypedSearchAttributes(mock.Anything).Run(func(args mock.Arguments) {
		if v, ok := args.Get(0).(temporal.SearchAttributes).GetKeyword(workflows.QueueIDKey); ok {
			d.queueAttrs = append(d.queueAttrs, v)
		}
	}).Return(nil)
	d.mockLifecycle()
	d.sla.mock(d.env)
	return d
}

func voiceName(v routing.VoiceState) string {
	if v == routing.VoiceIdle {
		return "idle"
	}
	return string(v)
}

func interactionInput() workflows.InteractionInput {
	return workflows.InteractionInput{
		TenantID: tenantID, ID: interactionID, Channel: routing.LiveChat, Source: "web_chat", Direction: pgstore.Inbound,
		From: "visitor-1", Customer: "visitor-1", QueueID: queueID, Priority: routing.PriorityHigh, CreatedAt: time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC),
	}
}

// outcome is what an update answered.
type outcome struct {
	rejected error
	done     bool
	err      error
	state    *workflows.InteractionState
}

// update sends an update at offset at.
func (d *desk) update(at time.Duration, name string, arg any) *outcome {
	o := &outcome{}
	d.env.RegisterDelayedCallback(func() {
		d.updates++
		d.env.UpdateWorkflow(name, fmt.Sprintf("u%d", d.updates), &testsuite.TestUpdateCallback{
			OnReject: func(err error) { o.rejected = err },
			OnComplete: func(v any, err error) {
				o.done, o.err = true, err
				if st, ok := v.(*workflows.InteractionState); ok {
					o.state = st
				}
			},
		}, arg)
	}, at)
	return o
}

func (d *desk) accept(at time.Duration, agent string) *outcome {
	return d.update(at, workflows.AcceptUpdate, workflows.AcceptInput{TenantID: tenantID, AgentID: agent})
}

func (d *desk) reject(at time.Duration, agent string) *outcome {
	return d.update(at, workflows.RejectUpdate, workflows.RejectInput{TenantID: tenantID, AgentID: agent, Reason: "busy"})
}

func (d *desk) end(at time.Duration) *outcome {
	return d.update(at, workflows.EndUpdate, workflows.EndInput{TenantID: tenantID, ActorID: supID, Reason: "customer hung up"})
}

func (d *desk) signal(at time.Duration, agent string) {
	d.env.RegisterDelayedCallback(func() {
		d.env.SignalWorkflow(workflows.AgentAvailableSignal, workflows.AgentAvailable{AgentID: agent})
	}, at)
}

func (d *desk) run() *workflows.InteractionState {
	d.t.Helper()
	d.env.ExecuteWorkflow(workflows.Interaction, d.input)
	if !d.env.IsWorkflowCompleted() {
		d.t.Fatal("workflow did not complete")
	}
	if err := d.env.GetWorkflowError(); err != nil {
		d.t.Fatalf("workflow error: %v", err)
	}
	var out workflows.InteractionState
	if err := d.env.GetWorkflowResult(&out); err != nil {
		d.t.Fatal(err)
	}
	return &out
}

// wantOK requires an update that was accepted and completed without error.
func wantOK(t *testing.T, what string, o *outcome) {
	t.Helper()
	if o.rejected != nil || !o.done || o.err != nil {
		t.Errorf("%s: rejected %v, done %v, error %v", what, o.rejected, o.done, o.err)
	}
}

// wantRefused requires an update refused (by its validator or its handler) with the
// application error type.
func wantRefused(t *testing.T, what string, o *outcome, errType string) {
	t.Helper()
	err := o.rejected
	if err == nil {
		err = o.err
	}
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || app.Type() != errType {
		t.Errorf("%s: got %v (done %v), want an error of type %s", what, err, o.done, errType)
	}
}

// The plain path: offered to Ana, accepted, ended; each step written once, in order,
// with growing versions.
func TestInteractionOfferAcceptEnd(t *testing.T) {
	d := newDesk(t, ana, bo)
	d.freed = []string{"6f1c2c3e-0000-4000-8000-0000000000f1", "6f1c2c3e-0000-4000-8000-0000000000f2"}
	var offered workflows.InteractionState
	d.env.RegisterDelayedCallback(func() {
		v, err := d.env.QueryWorkflow(workflows.InteractionQuery)
		if err == nil {
			err = v.Get(&offered)
		}
		if err != nil {
			t.Error(err)
		}
	}, time.Second)
	wrong := d.accept(2*time.Second, bo)
	ok := d.accept(3*time.Second, ana)
	again := d.accept(4*time.Second, ana)
	agentEnd := d.update(5*time.Second, workflows.EndUpdate, workflows.EndInput{TenantID: tenantID, AgentID: bo})
	otherTenant := d.update(5*time.Second, workflows.EndUpdate, workflows.EndInput{TenantID: "someone-else"})
	end := d.update(60*time.Second, workflows.EndUpdate, workflows.EndInput{TenantID: tenantID, AgentID: ana, Reason: "done"})
	st := d.run()

	if offered.Status != pgstore.InteractionOffered || offered.OfferedAgentID != ana || offered.RingUntil == nil || offered.Offers != 1 {
		t.Errorf("while ringing %+v", offered)
	}
	wantRefused(t, "accept by another agent", wrong, workflows.ErrTypeNotYourOffer)
	wantOK(t, "accept", ok)
	if ok.state == nil || ok.state.Status != pgstore.InteractionConnected || ok.state.AgentID != ana {
		t.Errorf("accept answered %+v", ok.state)
	}
	wantOK(t, "repeated accept", again)
	wantRefused(t, "end by an agent who does not hold it", agentEnd, workflows.ErrTypeNotYourInteraction)
	wantRefused(t, "end from another tenant", otherTenant, workflows.ErrTypeInteractionNotFound)
	wantOK(t, "end by the agent", end)

	if st.Status != pgstore.InteractionDisposed || st.AgentID != ana || st.ConnectedAt == nil || st.EndedAt == nil || st.EndReason != "done" {
		t.Errorf("final state %+v", st)
	}
	if len(d.offers) != 1 || !d.offers[0].Enqueue || d.offers[0].Attempt != 1 || d.offers[0].Version != 1 {
		t.Errorf("offers %+v", d.offers)
	}
	if len(d.confirms) != 1 || d.confirms[0].AgentID != ana || d.confirms[0].Update.State.Version != 2 ||
		d.confirms[0].Update.Response.Outcome != pgstore.OfferAccepted || d.confirms[0].Update.Response.Attempt != 1 {
		t.Errorf("confirms %+v", d.confirms)
	}
	if len(d.releases) != 1 || d.releases[0].AgentID != ana || d.releases[0].Update.State.Status != pgstore.InteractionEnded ||
		d.releases[0].Update.State.Version != 3 || d.releases[0].Update.Response != nil {
		t.Errorf("releases %+v", d.releases)
	}
}

// A rejection frees Ana's slot, excludes her and offers to Bo at once.
func TestInteractionRejectGoesToNextAgent(t *testing.T) {
	d := newDesk(t, ana, bo)
	rejected := d.reject(2*time.Second, ana)
	again := d.reject(3*time.Second, ana)
	accepted := d.accept(4*time.Second, bo)
	d.end(10 * time.Second)
	st := d.run()

	wantOK(t, "reject", rejected)
	wantRefused(t, "reject after the offer moved on", again, workflows.ErrTypeNotYourOffer)
	wantOK(t, "accept by Bo", accepted)
	if st.Status != pgstore.InteractionDisposed || st.AgentID != bo || !slices.Equal(st.ExcludedAgents, []string{ana}) || st.Offers != 2 {
		t.Errorf("final state %+v", st)
	}
	if len(d.offers) != 2 || d.offers[1].Attempt != 2 || d.offers[1].Enqueue || !slices.Equal(d.offers[1].Interaction.ExcludedAgents, []string{ana}) ||
		d.offerAt[1] != 2*time.Second {
		t.Errorf("second offer %+v at %v", d.offers, d.offerAt)
	}
	r := d.releases[0]
	if r.AgentID != ana || r.Update.Response.Outcome != pgstore.OfferRejected || r.Update.Response.Reason != "busy" ||
		r.Update.State.Status != pgstore.InteractionQueued || r.Update.State.OfferedAgentID != "" {
		t.Errorf("release after the rejection %+v", r)
	}
}

// No answer within the ring timeout: the offer goes to the next agent.
func TestInteractionTimeoutGoesToNextAgent(t *testing.T) {
	d := newDesk(t, ana, bo, cy)
	late := d.accept(ring+time.Second, ana)
	accepted := d.accept(ring+2*time.Second, bo)
	d.end(time.Minute)
	st := d.run()

	wantRefused(t, "accept after the ring timeout", late, workflows.ErrTypeNotYourOffer)
	wantOK(t, "accept by Bo", accepted)
	if st.AgentID != bo || st.Offers != 2 || !slices.Equal(st.ExcludedAgents, []string{ana}) {
		t.Errorf("final state %+v", st)
	}
	if d.offerAt[1] != ring || d.releases[0].Update.Response.Outcome != pgstore.OfferTimeout {
		t.Errorf("second offer at %v after %+v", d.offerAt, d.releases[0])
	}
}

// Nobody can take it: it waits, and an agent becoming available wakes it at once
// (long before the safety recheck).
func TestInteractionWaitsForAnAgent(t *testing.T) {
	d := newDesk(t)
	d.env.RegisterDelayedCallback(func() {
		d.mu.Lock()
		d.ready = []string{cy}
		d.mu.Unlock()
	}, 20*time.Second)
	d.signal(30*time.Second, cy)
	accepted := d.accept(31*time.Second, cy)
	d.end(40 * time.Second)
	st := d.run()

	wantOK(t, "accept", accepted)
	if st.AgentID != cy || len(d.offers) != 2 || d.offerAt[1] != 30*time.Second {
		t.Errorf("offers at %v, final %+v", d.offerAt, st)
	}
}

// The safety recheck finds an agent whose wake-up never came.
func TestInteractionRechecksWithoutAWakeUp(t *testing.T) {
	d := newDesk(t)
	d.env.RegisterDelayedCallback(func() {
		d.mu.Lock()
		d.ready = []string{bo}
		d.mu.Unlock()
	}, 10*time.Second)
	d.accept(61*time.Second, bo)
	d.end(70 * time.Second)
	st := d.run()
	if st.AgentID != bo || len(d.offers) != 2 || d.offerAt[1] != time.Minute {
		t.Errorf("offers at %v, final %+v", d.offerAt, st)
	}
}

// The customer leaves while queued: abandoned, no slot to free, no agent woken.
func TestInteractionAbandonedWhileQueued(t *testing.T) {
	d := newDesk(t)
	end := d.end(5 * time.Second)
	st := d.run()
	wantOK(t, "end", end)
	if st.Status != pgstore.InteractionAbandoned || st.AgentID != "" || st.EndReason != "customer hung up" {
		t.Errorf("final state %+v", st)
	}
	if len(d.releases) != 1 || d.releases[0].AgentID != "" || d.releases[0].Update.State.Status != pgstore.InteractionAbandoned {
		t.Errorf("releases %+v", d.releases)
	}
}

// The customer leaves while it rings: the offer is withdrawn and the slot freed.
func TestInteractionAbandonedWhileRinging(t *testing.T) {
	d := newDesk(t, ana)
	d.freed = []string{"6f1c2c3e-0000-4000-8000-0000000000f1"}
	end := d.end(5 * time.Second)
	st := d.run()
	wantOK(t, "end", end)
	if st.Status != pgstore.InteractionAbandoned || st.OfferedAgentID != "" {
		t.Errorf("final state %+v", st)
	}
	r := d.releases[0]
	if len(d.releases) != 1 || r.AgentID != ana || r.Update.Response.Outcome != pgstore.OfferReleased {
		t.Errorf("releases %+v", d.releases)
	}
}

// An accept whose reservation lapsed meanwhile is refused, and the interaction is
// offered again without that agent.
func TestInteractionAcceptAfterLapse(t *testing.T) {
	d := newDesk(t, ana, bo)
	d.lapsed = true
	lapsed := d.accept(2*time.Second, ana)
	ok := d.accept(3*time.Second, bo)
	d.end(10 * time.Second)
	st := d.run()
	wantRefused(t, "accept after the lapse", lapsed, workflows.ErrTypeOfferNotOpen)
	wantOK(t, "accept by Bo", ok)
	if st.AgentID != bo || d.releases[0].Update.Response.Outcome != pgstore.OfferTimeout || !slices.Equal(st.ExcludedAgents, []string{ana}) {
		t.Errorf("final state %+v, first release %+v", st, d.releases[0])
	}
}

// Wake-ups that arrive while the interaction is ringing or connected change nothing:
// bulk assignment only reserves agents for queued interactions.
func TestInteractionIgnoresWakeUpsWhileTaken(t *testing.T) {
	d := newDesk(t, ana)
	d.signal(time.Second, bo)
	d.accept(2*time.Second, ana)
	d.signal(3*time.Second, cy)
	d.end(10 * time.Second)
	st := d.run()
	if st.AgentID != ana || len(d.offers) != 1 {
		t.Errorf("offers %d, final %+v", len(d.offers), st)
	}
}

// A run without a valid channel, queue or tenant fails at once.
func TestInteractionInvalidInput(t *testing.T) {
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	in := interactionInput()
	in.Channel = "pigeon"
	env.ExecuteWorkflow(workflows.Interaction, in)
	var app *temporal.ApplicationError
	if err := env.GetWorkflowError(); !errors.As(err, &app) || app.Type() != "InvalidInput" {
		t.Errorf("workflow error %v", err)
	}
}

// resolveDisposition is the mocked campaign's disposition lookup.
func resolveDisposition(class, code string) (*pgstore.Disposition, error) {
	in := activities.DispositionRequest{Class: class, Code: code}
	resolved := &pgstore.Disposition{CampaignID: campaignID, ClassID: classID, Class: "Closed", CodeID: resolvedID, Code: "Resolved", Success: true}
	switch {
	case in.Class == "" && in.Code == "":
		return resolved, nil
	case (in.Class == "Closed" || in.Class == classID) && (in.Code == "Resolved" || in.Code == resolvedID):
		return resolved, nil
	case (in.Class == "Closed" || in.Class == classID) && in.Code == "No action":
		return &pgstore.Disposition{CampaignID: campaignID, ClassID: classID, Class: "Closed", CodeID: noActionID, Code: "No action"}, nil
	case in.Class != "Closed" && in.Class != classID:
		return nil, temporal.NewNonRetryableApplicationError("no disposition class", activities.ErrTypeInvalidDisposition, nil, "dispositionClass")
	}
	return nil, temporal.NewNonRetryableApplicationError("no code", activities.ErrTypeInvalidDisposition, nil, "dispositionCode")
}
