package workflows_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/workflow"

	"switchboard/pgstore"
	"switchboard/routing"
	"switchboard/workflows"
)

const (
	salesQueue   = "6f1c2c3e-0000-4000-8000-0000000000e2" // Ana and Bo
	billingQueue = "6f1c2c3e-0000-4000-8000-0000000000e3" // Bo and Cy
	manualQueue  = "6f1c2c3e-0000-4000-8000-0000000000e4" // nobody is offered its chats
	unknownQueue = "6f1c2c3e-0000-4000-8000-0000000000e9"
)

// newVoiceDesk is a desk for an inbound call, with the queues above.
func newVoiceDesk(t *testing.T, ready ...string) *desk {
	d := newDesk(t, ready...)
	d.input.Channel, d.input.Source, d.input.From, d.input.Customer = routing.Voice, "call", "+385100", "+385100"
	d.queues()
	return d
}

func (d *desk) queues() {
	d.members[salesQueue] = []string{ana, bo}
	d.members[billingQueue] = []string{bo, cy}
	d.manual[manualQueue] = true
}

func (d *desk) changeQueue(at time.Duration, queue, agent string) *outcome {
	return d.update(at, workflows.ChangeQueueUpdate, workflows.ChangeQueueInput{TenantID: tenantID, ActorID: supID, AgentID: agent, QueueID: queue})
}

// query reads the workflow's state at offset at into st.
func (d *desk) query(at time.Duration, st *workflows.InteractionState) {
	d.env.RegisterDelayedCallback(func() {
		v, err := d.env.QueryWorkflow(workflows.InteractionQuery)
		if err == nil {
			err = v.Get(st)
		}
		if err != nil {
			d.t.Error(err)
		}
	}, at)
}

// voiceSteps lists the voice requests as "agent state @offset".
func (d *desk) voiceSteps() []string {
	out := make([]string, len(d.voices))
	for i, v := range d.voices {
		out[i] = fmt.Sprintf("%s %s @%v", name(v.agent), voiceName(v.step.State), v.at)
		if v.bulk {
			out[i] += " +bulk"
		}
	}
	return out
}

func name(agent string) string {
	switch agent {
	case ana:
		return "ana"
	case bo:
		return "bo"
	case cy:
		return "cy"
	}
	return agent
}

// indexOf is the position of the first log line that starts with prefix.
func (d *desk) indexOf(prefix string) int {
	return slices.IndexFunc(d.log, func(l string) bool { return strings.HasPrefix(l, prefix) })
}

// A call rings on Ana, she takes it, the caller hangs up: Ana is ringing, in a call,
// then wrapping for her wrap-up time (a durable timer, the run stays open), then idle
// with bulk assignment run for her. Each step names her session workflow, which the
// activity tells. Wrapping is set before her slot is freed (in the same activity),
// so the bulk assignment that follows may already give her the next call.
func TestVoiceCallRingsTalksAndWrapsUp(t *testing.T) {
	d := newVoiceDesk(t, ana)
	d.wrapUp = 30 * time.Second
	accepted := d.accept(2*time.Second, ana)
	ended := d.end(60 * time.Second)
	var wrapping workflows.InteractionState
	d.query(75*time.Second, &wrapping)
	endAgain := d.end(75 * time.Second)
	moveAfter := d.changeQueue(75*time.Second, salesQueue, "")
	st := d.run()

	wantOK(t, "accept", accepted)
	wantOK(t, "end", ended)
	wantRefused(t, "end during the wrap-up", endAgain, workflows.ErrTypeInteractionOver)
	wantRefused(t, "queue change during the wrap-up", moveAfter, workflows.ErrTypeInteractionOver)
	want := []string{"ana ringing @0s", "ana in_call @2s", "ana wrapping @1m0s", "ana idle @1m30s +bulk"}
	if got := d.voiceSteps(); !slices.Equal(got, want) {
		t.Errorf("voice steps %v, want %v", got, want)
	}
	if d.indexOf("voice "+ana+" wrapping") > d.indexOf("release "+ana+" ended") {
		t.Errorf("wrapping set after the slot was freed: %v", d.log)
	}
	if d.indexOf("voice "+ana+" idle") < d.indexOf("release "+ana) {
		t.Errorf("idle before the call ended: %v", d.log)
	}
	// The agent's wrap-up time (90 s) frees them for calls; the campaign's wrap-up
	// timeout (10 min) disposes the call with the default code.
	if wrapping.Status != pgstore.InteractionEnded || wrapping.WrapUpUntil == nil || !wrapping.WrapUpUntil.Equal(d.start.Add(11*time.Minute)) {
		t.Errorf("during the wrap-up %+v", wrapping)
	}
	if got := d.env.Now().Sub(d.start); got != 11*time.Minute {
		t.Errorf("the run ended at %v, want at the campaign's wrap-up timeout, 11m0s", got)
	}
	if st.Status != pgstore.InteractionDisposed || st.AgentID != ana || st.Disposition == nil || !st.Disposition.Auto || st.Disposition.CodeID != resolvedID {
		t.Errorf("final %+v", st)
	}
	for i, v := range d.voices {
		if v.step.SessionWorkflowID != workflows.AgentSessionWorkflowID(tenantID, ana) || v.step.SessionSignal != workflows.AgentVoiceSignal {
			t.Errorf("step %d tells %q by %q", i, v.step.SessionWorkflowID, v.step.SessionSignal)
		}
	}
}

// Rejected or rung out, the agent is idle again before their slot is freed (so bulk
// assignment may offer them a call); with no wrap-up time the agent is idle as soon
// as the call ends.
func TestVoiceRejectedAndRungOutGoIdle(t *testing.T) {
	d := newVoiceDesk(t, ana, bo, cy)
	d.reject(2*time.Second, ana)
	d.accept(2*time.Second+ring+time.Second, cy)
	d.end(time.Minute)
	st := d.run()

	want := []string{"ana ringing @0s", "ana idle @2s", "bo ringing @2s", "bo idle @22s", "cy ringing @22s", "cy in_call @23s",
		"cy wrapping @1m0s", "cy idle @1m0s +bulk"}
	if got := d.voiceSteps(); !slices.Equal(got, want) {
		t.Errorf("voice steps %v, want %v", got, want)
	}
	for _, agent := range []string{ana, bo} {
		if d.indexOf("voice "+agent+" idle") > d.indexOf("release "+agent) {
			t.Errorf("%s idle after the slot was freed: %v", name(agent), d.log)
		}
	}
	if st.AgentID != cy || !slices.Equal(st.ExcludedAgents, []string{ana, bo}) {
		t.Errorf("final %+v", st)
	}
}

// The caller hangs up while it rings: the agent is idle again, with no wrap-up.
func TestVoiceAbandonedWhileRinging(t *testing.T) {
	d := newVoiceDesk(t, ana)
	d.wrapUp = 30 * time.Second
	d.end(5 * time.Second)
	st := d.run()
	if got, want := d.voiceSteps(), []string{"ana ringing @0s", "ana idle @5s"}; !slices.Equal(got, want) {
		t.Errorf("voice steps %v, want %v", got, want)
	}
	if st.Status != pgstore.InteractionAbandoned || st.WrapUpUntil != nil || d.env.Now().Sub(d.start) != 5*time.Second {
		t.Errorf("final %+v at %v", st, d.env.Now().Sub(d.start))
	}
}

// Chats have no voice sub-state.
func TestChatKeepsNoVoiceState(t *testing.T) {
	d := newDesk(t, ana)
	d.accept(time.Second, ana)
	d.end(10 * time.Second)
	d.run()
	if len(d.voices) != 0 {
		t.Errorf("voice steps %v", d.voices)
	}
	for _, r := range d.releases {
		if r.Voice != nil {
			t.Errorf("release with a voice step %+v", r)
		}
	}
}

// Ana holds the chat and it moves to a queue she works: she keeps it, the read model
// and the QueueId search attribute follow, nothing is released.
func TestQueueChangeKeepsAMemberAgent(t *testing.T) {
	d := newDesk(t, ana, bo)
	d.queues()
	d.accept(time.Second, ana)
	moved := d.changeQueue(5*time.Second, salesQueue, ana)
	d.end(10 * time.Second)
	st := d.run()

	wantOK(t, "queue change by the agent who holds it", moved)
	if moved.state == nil || moved.state.Status != pgstore.InteractionConnected || moved.state.QueueID != salesQueue || moved.state.AgentID != ana {
		t.Errorf("answered %+v", moved.state)
	}
	if len(d.moves) != 1 {
		t.Fatalf("moves %+v", d.moves)
	}
	c := d.moves[0].Change
	if c.QueueID != salesQueue || c.AgentID != ana || c.Kept.State.Status != pgstore.InteractionConnected || c.Kept.State.Version != 3 ||
		c.Unassigned == nil || c.Unassigned.State.Status != pgstore.InteractionQueued || c.Unassigned.State.AgentID != "" ||
		!slices.Equal(c.Unassigned.State.ExcludedAgents, []string{ana}) || d.moves[0].Enqueue != nil {
		t.Errorf("move %+v", d.moves[0])
	}
	if st.QueueID != salesQueue || st.AgentID != ana || st.Status != pgstore.InteractionDisposed || st.Version != 5 {
		t.Errorf("final %+v", st)
	}
	if len(d.releases) != 1 || d.releases[0].Update.State.Status != pgstore.InteractionEnded {
		t.Errorf("releases %+v", d.releases)
	}
	if !slices.Equal(d.queueAttrs, []string{queueID, salesQueue}) {
		t.Errorf("QueueId search attribute set to %v", d.queueAttrs)
	}
}

// Ana holds the call and it moves to a queue she does not work: she is unassigned
// (idle before her slot is freed, and excluded as an agent who had it), and single
// assignment runs in the new queue at once: Bo, a member, gets it.
func TestQueueChangeUnassignsAndOffersInTheNewQueue(t *testing.T) {
	d := newVoiceDesk(t, ana, bo, cy)
	d.accept(time.Second, ana)
	moved := d.changeQueue(5*time.Second, billingQueue, "")
	lateEnd := d.update(6*time.Second, workflows.EndUpdate, workflows.EndInput{TenantID: tenantID, AgentID: ana})
	taken := d.accept(7*time.Second, bo)
	d.end(20 * time.Second)
	st := d.run()

	wantOK(t, "queue change", moved)
	if moved.state == nil || moved.state.Status != pgstore.InteractionQueued || moved.state.AgentID != "" || moved.state.QueueID != billingQueue {
		t.Errorf("answered %+v", moved.state)
	}
	wantRefused(t, "end by the unassigned agent", lateEnd, workflows.ErrTypeNotYourInteraction)
	wantOK(t, "accept in the new queue", taken)
	if len(d.releases) < 1 || d.releases[0].AgentID != ana || d.releases[0].Update.State.Status != pgstore.InteractionQueued ||
		d.releases[0].Update.Response != nil {
		t.Fatalf("releases %+v", d.releases)
	}
	if d.indexOf("voice "+ana+" idle") > d.indexOf("release "+ana) || d.indexOf("move ") > d.indexOf("release "+ana) {
		t.Errorf("order %v", d.log)
	}
	if len(d.offers) != 2 || d.offers[1].Interaction.QueueID != billingQueue || !slices.Equal(d.offers[1].Interaction.ExcludedAgents, []string{ana}) ||
		d.offerAt[1] != 5*time.Second || d.offers[1].Attempt != 2 {
		t.Errorf("offers %+v at %v", d.offers, d.offerAt)
	}
	if st.AgentID != bo || st.QueueID != billingQueue || !slices.Equal(st.ExcludedAgents, []string{ana}) || st.Status != pgstore.InteractionDisposed {
		t.Errorf("final %+v", st)
	}
	want := []string{"ana ringing @0s", "ana in_call @1s", "ana idle @5s", "bo ringing @5s", "bo in_call @7s", "bo wrapping @20s", "bo idle @20s +bulk"}
	if got := d.voiceSteps(); !slices.Equal(got, want) {
		t.Errorf("voice steps %v, want %v", got, want)
	}
}

// A waiting chat nobody in its queue can take moves to a queue with an available
// member: it is offered there at once, not at the next safety recheck.
func TestQueueChangeWhileQueued(t *testing.T) {
	d := newDesk(t, cy)
	d.queues()
	d.members[queueID] = []string{ana}
	moved := d.changeQueue(10*time.Second, billingQueue, "")
	d.accept(11*time.Second, cy)
	d.end(20 * time.Second)
	st := d.run()

	wantOK(t, "queue change", moved)
	if len(d.offers) != 2 || d.offerAt[1] != 10*time.Second || d.offers[1].Interaction.QueueID != billingQueue {
		t.Errorf("offers at %v: %+v", d.offerAt, d.offers)
	}
	if c := d.moves[0].Change; c.AgentID != "" || c.Unassigned != nil || c.Kept.State.Status != pgstore.InteractionQueued {
		t.Errorf("move %+v", c)
	}
	if st.AgentID != cy || st.QueueID != billingQueue || len(st.ExcludedAgents) != 0 {
		t.Errorf("final %+v", st)
	}
}

// A chat moved to a queue that does not assign automatically waits for its agents.
func TestQueueChangeToAManualQueueWaits(t *testing.T) {
	d := newDesk(t)
	d.queues()
	moved := d.changeQueue(10*time.Second, manualQueue, "")
	d.end(5 * time.Minute)
	st := d.run()
	wantOK(t, "queue change", moved)
	for i, o := range d.offers[1:] {
		if o.Interaction.QueueID != manualQueue {
			t.Errorf("offer %d in %s", i+2, o.Interaction.QueueID)
		}
	}
	if st.Status != pgstore.InteractionAbandoned || st.QueueID != manualQueue {
		t.Errorf("final %+v", st)
	}
}

// The open offer moves with the interaction when the agent it rings on works the new
// queue; otherwise it is withdrawn (released, the agent not excluded: they never had
// it), and it rings on a member of the new queue.
func TestQueueChangeWhileRinging(t *testing.T) {
	t.Run("member keeps ringing", func(t *testing.T) {
		d := newDesk(t, ana, bo)
		d.queues()
		moved := d.changeQueue(5*time.Second, salesQueue, "")
		taken := d.accept(10*time.Second, ana)
		d.end(30 * time.Second)
		st := d.run()
		wantOK(t, "queue change", moved)
		wantOK(t, "accept after the change", taken)
		if moved.state == nil || moved.state.Status != pgstore.InteractionOffered || moved.state.RingUntil == nil ||
			!moved.state.RingUntil.Equal(d.start.Add(ring)) {
			t.Errorf("answered %+v", moved.state)
		}
		if st.AgentID != ana || st.QueueID != salesQueue || len(d.offers) != 1 || len(d.releases) != 1 {
			t.Errorf("final %+v after %d offers, %d releases", st, len(d.offers), len(d.releases))
		}
	})
	t.Run("withdrawn from a non-member", func(t *testing.T) {
		d := newVoiceDesk(t, ana, bo, cy)
		moved := d.changeQueue(5*time.Second, billingQueue, "")
		late := d.accept(6*time.Second, ana)
		taken := d.accept(7*time.Second, bo)
		d.end(30 * time.Second)
		st := d.run()
		wantOK(t, "queue change", moved)
		wantRefused(t, "accept of the withdrawn offer", late, workflows.ErrTypeNotYourOffer)
		wantOK(t, "accept in the new queue", taken)
		r := d.releases[0]
		if r.AgentID != ana || r.Update.Response == nil || r.Update.Response.Outcome != pgstore.OfferReleased || r.Update.Response.Attempt != 1 ||
			r.Update.State.Status != pgstore.InteractionQueued {
			t.Errorf("withdrawal %+v", r)
		}
		if st.AgentID != bo || len(st.ExcludedAgents) != 0 || d.offers[1].Interaction.QueueID != billingQueue {
			t.Errorf("final %+v", st)
		}
		if got := d.voiceSteps()[:3]; !slices.Equal(got, []string{"ana ringing @0s", "ana idle @5s", "bo ringing @5s"}) {
			t.Errorf("voice steps %v", d.voiceSteps())
		}
	})
	t.Run("answer during the change waits for it", func(t *testing.T) {
		d := newDesk(t, ana, bo)
		d.queues()
		d.members[salesQueue] = []string{bo}
		moved := d.changeQueue(5*time.Second, salesQueue, "")
		same := d.accept(5*time.Second, ana)
		d.end(30 * time.Second)
		st := d.run()
		wantOK(t, "queue change", moved)
		wantRefused(t, "accept racing the withdrawal", same, workflows.ErrTypeOfferNotOpen)
		if st.Status != pgstore.InteractionAbandoned || st.AgentID != "" {
			t.Errorf("final %+v", st)
		}
	})
}

// Refused queue changes change nothing: another tenant's, an unknown or malformed
// queue, an agent who does not hold the interaction, an interaction that is ending
// (one that is over: TestVoiceCallRingsTalksAndWrapsUp). The same queue again is
// answered as it is, without a move.
func TestQueueChangeRefusals(t *testing.T) {
	d := newDesk(t, ana, bo)
	d.queues()
	notHeld := d.changeQueue(time.Second, salesQueue, ana) // ringing, not held yet
	d.accept(2*time.Second, ana)
	var before workflows.InteractionState
	d.query(3*time.Second, &before)
	otherTenant := d.update(4*time.Second, workflows.ChangeQueueUpdate, workflows.ChangeQueueInput{TenantID: "someone-else", QueueID: salesQueue})
	unknown := d.changeQueue(5*time.Second, unknownQueue, "")
	malformed := d.changeQueue(6*time.Second, "sales", "")
	otherAgent := d.changeQueue(7*time.Second, salesQueue, bo)
	same := d.changeQueue(8*time.Second, queueID, ana)
	var after workflows.InteractionState
	d.query(9*time.Second, &after)
	d.end(10 * time.Second)
	ending := d.changeQueue(10*time.Second, salesQueue, "")
	st := d.run()

	wantRefused(t, "an agent moving an offer", notHeld, workflows.ErrTypeNotYourInteraction)
	wantRefused(t, "another tenant", otherTenant, workflows.ErrTypeInteractionNotFound)
	wantRefused(t, "unknown queue", unknown, workflows.ErrTypeUnknownQueue)
	if unknown.rejected != nil {
		t.Error("an unknown queue is found by the move, past the validator")
	}
	wantRefused(t, "malformed queue", malformed, workflows.ErrTypeUnknownQueue)
	if malformed.rejected == nil {
		t.Error("a malformed queue ID passed the validator")
	}
	wantRefused(t, "an agent who does not hold it", otherAgent, workflows.ErrTypeNotYourInteraction)
	wantOK(t, "the same queue again", same)
	wantRefused(t, "while it ends", ending, workflows.ErrTypeInteractionOver)
	if ending.rejected == nil {
		t.Error("a change of an ending interaction passed the validator")
	}
	if len(d.moves) != 1 || d.moves[0].Change.QueueID != unknownQueue {
		t.Errorf("moves %+v", d.moves)
	}
	if after.Version != before.Version || after.QueueID != queueID || after.Status != pgstore.InteractionConnected || after.AgentID != ana ||
		len(d.releases) != 1 || st.QueueID != queueID {
		t.Errorf("refusals changed the interaction: before %+v, after %+v, releases %d", before.InteractionState, after.InteractionState, len(d.releases))
	}
}

// A change that comes before the interaction was first written (its first offer
// failed) writes it with the move; the next offer does not write it again.
func TestQueueChangeBeforeTheFirstWrite(t *testing.T) {
	d := newDesk(t, bo)
	d.queues()
	d.offerErrors = 1
	moved := d.changeQueue(10*time.Second, billingQueue, "")
	d.accept(11*time.Second, bo)
	d.end(20 * time.Second)
	st := d.run()
	wantOK(t, "queue change", moved)
	if len(d.moves) != 1 || d.moves[0].Enqueue == nil || d.moves[0].Enqueue.QueueID != queueID || d.moves[0].Change.Kept.State.Version != 1 {
		t.Fatalf("moves %+v", d.moves)
	}
	if len(d.offers) != 2 || !d.offers[0].Enqueue || d.offers[1].Enqueue || d.offers[1].Version != 2 || d.offerAt[1] != 10*time.Second {
		t.Errorf("offers %+v at %v", d.offers, d.offerAt)
	}
	if st.QueueID != billingQueue || st.AgentID != bo {
		t.Errorf("final %+v", st)
	}
}

// A chat that waits long continues as new after a bounded number of offer rounds,
// only once the update it is answering has finished, carrying its state and the
// wake-ups that arrived since its last look; the next run goes on from there.
func TestLongWaitContinuesAsNew(t *testing.T) {
	const rounds = 100
	agents := make([]string, rounds+1)
	for i := range agents {
		agents[i] = fmt.Sprintf("6f1c2c3e-0000-4000-8000-%012d", 100+i)
	}
	d := newDesk(t, agents[:rounds]...)
	// Each agent in turn rejects half a second after the offer.
	var last *outcome
	for i := range rounds {
		last = d.reject(time.Duration(i+1)*500*time.Millisecond, agents[i])
	}
	d.signal(time.Duration(rounds)*500*time.Millisecond-250*time.Millisecond, agents[rounds])
	d.env.ExecuteWorkflow(workflows.Interaction, d.input)

	var can *workflow.ContinueAsNewError
	if err := d.env.GetWorkflowError(); !errors.As(err, &can) {
		t.Fatalf("workflow ended with %v, want continue-as-new", err)
	}
	wantOK(t, "the last rejection", last)
	var next workflows.InteractionInput
	if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &next); err != nil {
		t.Fatal(err)
	}
	c := next.Carried
	if c == nil || !c.Enqueued || c.State.Status != pgstore.InteractionQueued || c.State.Offers != rounds ||
		!slices.Equal(c.State.ExcludedAgents, agents[:rounds]) || c.State.Version != 2*rounds || c.State.ID != interactionID ||
		!slices.Equal(c.Woken, []string{agents[rounds]}) {
		t.Fatalf("carried %+v", c)
	}
	if next.ID != interactionID || next.QueueID != queueID || next.Channel != routing.LiveChat {
		t.Errorf("next input %+v", next)
	}

	// The next run offers at once, to the one agent left, without writing the
	// interaction again, numbering on.
	n := newDesk(t, agents...)
	n.input = next
	accepted := n.accept(time.Second, agents[rounds])
	n.end(10 * time.Second)
	st := n.run()
	wantOK(t, "accept in the next run", accepted)
	if len(n.offers) != 1 || n.offers[0].Enqueue || n.offers[0].Attempt != rounds+1 || n.offers[0].Version != 2*rounds+1 || n.offerAt[0] != 0 {
		t.Errorf("offers of the next run %+v", n.offers)
	}
	if st.Status != pgstore.InteractionDisposed || st.AgentID != agents[rounds] || len(st.ExcludedAgents) != rounds {
		t.Errorf("final %+v", st)
	}
}

// Waiting with nobody to take it, the safety rechecks alone bring a run to its bound.
func TestWaitingWithoutAgentsContinuesAsNew(t *testing.T) {
	d := newDesk(t)
	d.env.ExecuteWorkflow(workflows.Interaction, d.input)
	var can *workflow.ContinueAsNewError
	if err := d.env.GetWorkflowError(); !errors.As(err, &can) {
		t.Fatalf("workflow ended with %v, want continue-as-new", err)
	}
	if len(d.offers) != 100 || d.offerAt[99] != 99*time.Minute {
		t.Errorf("%d looks, the last at %v", len(d.offers), d.offerAt[len(d.offerAt)-1])
	}
	var next workflows.InteractionInput
	if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &next); err != nil || next.Carried == nil ||
		next.Carried.State.Offers != 0 || !next.Carried.Enqueued {
		t.Errorf("carried %+v, %v", next.Carried, err)
	}
}

// A carried state that is not this queued interaction is refused.
func TestInteractionCarriedMustBeQueued(t *testing.T) {
	d := newDesk(t)
	in := d.input
	in.Carried = &workflows.InteractionCarry{State: workflows.InteractionState{Interaction: pgstore.Interaction{
		ID: interactionID, TenantID: tenantID, QueueID: queueID, InteractionState: pgstore.InteractionState{Status: pgstore.InteractionConnected}}}}
	d.env.ExecuteWorkflow(workflows.Interaction, in)
	if err := d.env.GetWorkflowError(); err == nil || !strings.Contains(err.Error(), "InvalidInput") {
		t.Errorf("workflow error %v", err)
	}
}
