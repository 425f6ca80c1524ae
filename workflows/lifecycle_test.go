package workflows_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"switchboard/pgstore"
	"switchboard/workflows"
)

// IDs the lifecycle tests choose as callers do.
const (
	note1         = "6f1c2c3e-0000-4000-8000-000000000101"
	note2         = "6f1c2c3e-0000-4000-8000-000000000102"
	note3         = "6f1c2c3e-0000-4000-8000-000000000103"
	msg1          = "6f1c2c3e-0000-4000-8000-000000000201"
	msg2          = "6f1c2c3e-0000-4000-8000-000000000202"
	msg3          = "6f1c2c3e-0000-4000-8000-000000000203"
	msg4          = "6f1c2c3e-0000-4000-8000-000000000204"
	nobodyID      = "6f1c2c3e-0000-4000-8000-0000000000b9" // a valid ID of no user
	otherCampaign = "6f1c2c3e-0000-4000-8000-0000000000c9" // the campaign the interaction starts in
	externalNum   = "+14155550100"
)

// as is an agent acting on an interaction they hold.
func as(agent string) workflows.Actor {
	return workflows.Actor{TenantID: tenantID, ActorID: agent, AgentID: agent}
}

// sup is a supervisor, who may act on any interaction of the tenant.
func sup() workflows.Actor { return workflows.Actor{TenantID: tenantID, ActorID: supID} }

// stranger is a user of another tenant.
func stranger() workflows.Actor {
	return workflows.Actor{TenantID: "6f1c2c3e-0000-4000-8000-0000000000ff", ActorID: supID}
}

func (d *desk) hold(at time.Duration, a workflows.Actor) *outcome {
	return d.update(at, workflows.HoldUpdate, workflows.HoldInput{Actor: a})
}

func (d *desk) unhold(at time.Duration, a workflows.Actor) *outcome {
	return d.update(at, workflows.UnholdUpdate, workflows.HoldInput{Actor: a})
}

func (d *desk) transfer(at time.Duration, a workflows.Actor, kind, id, number string) *outcome {
	return d.update(at, workflows.TransferUpdate, workflows.TransferInput{Actor: a, Mode: "cold",
		Target: workflows.TransferTarget{Kind: kind, ID: id, Number: number}, Reason: "needs sales"})
}

func (d *desk) conference(at time.Duration, a workflows.Actor, kind pgstore.ParticipantKind, user, number string) *outcome {
	return d.update(at, workflows.ConferenceUpdate, workflows.ConferenceInput{Actor: a, Kind: kind, UserID: user, Number: number})
}

func (d *desk) leave(at time.Duration, a workflows.Actor, user, number string) *outcome {
	return d.update(at, workflows.LeaveConferenceUpdate, workflows.LeaveConferenceInput{Actor: a, UserID: user, Number: number})
}

func (d *desk) note(at time.Duration, a workflows.Actor, id, body string) *outcome {
	return d.update(at, workflows.AddNoteUpdate, workflows.NoteInput{Actor: a, NoteID: id, Body: body})
}

func (d *desk) send(at time.Duration, a workflows.Actor, id, body string) *outcome {
	return d.update(at, workflows.SendMessageUpdate, workflows.SendMessageInput{Actor: a, MessageID: id, Body: body})
}

func (d *desk) conversation(at time.Duration, a workflows.Actor, st pgstore.ConversationStatus) *outcome {
	return d.update(at, workflows.ConversationStatusUpdate, workflows.ConversationStatusInput{Actor: a, Status: st})
}

func (d *desk) link(at time.Duration, a workflows.Actor, customer string) *outcome {
	return d.update(at, workflows.LinkCustomerUpdate, workflows.LinkCustomerInput{Actor: a, CustomerID: customer})
}

func (d *desk) unlink(at time.Duration, a workflows.Actor) *outcome {
	return d.update(at, workflows.UnlinkCustomerUpdate, workflows.LinkCustomerInput{Actor: a})
}

func (d *desk) dispose(at time.Duration, a workflows.Actor, class, code string) *outcome {
	return d.update(at, workflows.DisposeUpdate, workflows.DisposeInput{Actor: a, Class: class, Code: code})
}

// endBy ends the interaction as its agent.
func (d *desk) endBy(at time.Duration, agent string) *outcome {
	return d.update(at, workflows.EndUpdate, workflows.EndInput{TenantID: tenantID, ActorID: agent, AgentID: agent, Reason: "done"})
}

// send a workflow signal at offset at.
func (d *desk) signalAt(at time.Duration, name string, arg any) {
	d.env.RegisterDelayedCallback(func() { d.env.SignalWorkflow(name, arg) }, at)
}

// timeline lists the timeline entries RecordChange wrote, in order, as
// "type status".
func (d *desk) timeline() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for _, c := range d.changes {
		for _, e := range c.Update.Events {
			out = append(out, e.Type+" "+string(c.Update.State.Status))
		}
	}
	return out
}

// story is the activity log with the IDs of the tests named.
func (d *desk) story() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	r := strings.NewReplacer(ana, "ana", bo, "bo", cy, "cy", salesQueue, "sales", billingQueue, "billing", queueID, "default")
	out := make([]string, len(d.log))
	for i, l := range d.log {
		out[i] = r.Replace(l)
	}
	return out
}

// versions requires the versions RecordChange wrote to grow one at a time.
func (d *desk) checkVersions(t *testing.T) {
	t.Helper()
	for i := 1; i < len(d.changes); i++ {
		if a, b := d.changes[i-1].Update.State.Version, d.changes[i].Update.State.Version; b <= a {
			t.Errorf("change %d wrote version %d after %d", i, b, a)
		}
	}
}

// wantField requires a refusal of the type naming the field.
func wantField(t *testing.T, what string, o *outcome, errType, field string) {
	t.Helper()
	wantRefused(t, what, o, errType)
	err := o.rejected
	if err == nil {
		err = o.err
	}
	var app *temporal.ApplicationError
	var got string
	if errors.As(err, &app) && app.HasDetails() {
		_ = app.Details(&got)
	}
	if got != field {
		t.Errorf("%s: field %q, want %q (%v)", what, got, field, err)
	}
}

// subsequence reports whether want appears in got in order (not necessarily
// adjacent).
func subsequence(got, want []string) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	return i == len(want)
}

// Hold and unhold count the holds and their seconds; a hold of an interaction on
// hold, an unhold of one that is not, another agent's and another tenant's actions
// are refused with nothing written.
func TestLifecycleHoldAndUnhold(t *testing.T) {
	d := newDesk(t, ana, bo)
	d.accept(time.Second, ana)
	held := d.hold(10*time.Second, as(ana))
	twice := d.hold(15*time.Second, as(ana))
	var onHold workflows.InteractionState
	d.query(20*time.Second, &onHold)
	byBo := d.unhold(21*time.Second, as(bo))
	byStranger := d.unhold(22*time.Second, stranger())
	resumed := d.unhold(40*time.Second, as(ana))
	notHeld := d.unhold(45*time.Second, as(ana))
	heldBySup := d.hold(50*time.Second, sup())
	resumedBySup := d.unhold(60*time.Second, sup())
	d.endBy(100*time.Second, ana)
	st := d.run()

	wantOK(t, "hold", held)
	if held.state == nil || held.state.Status != pgstore.InteractionOnHold || held.state.Holds != 1 || held.state.HeldAt == nil {
		t.Errorf("hold answered %+v", held.state)
	}
	wantRefused(t, "hold twice", twice, workflows.ErrTypeNotAllowed)
	if onHold.Status != pgstore.InteractionOnHold || onHold.HeldAt == nil || !onHold.HeldAt.Equal(d.start.Add(10*time.Second)) || onHold.AgentID != ana {
		t.Errorf("on hold %+v", onHold)
	}
	wantRefused(t, "unhold by another agent", byBo, workflows.ErrTypeNotYourInteraction)
	wantRefused(t, "unhold from another tenant", byStranger, workflows.ErrTypeInteractionNotFound)
	wantOK(t, "unhold", resumed)
	if resumed.state == nil || resumed.state.Status != pgstore.InteractionConnected || resumed.state.HeldAt != nil || resumed.state.HoldSeconds != 30 {
		t.Errorf("unhold answered %+v", resumed.state)
	}
	wantRefused(t, "unhold when not held", notHeld, workflows.ErrTypeNotAllowed)
	wantOK(t, "hold by a supervisor", heldBySup)
	wantOK(t, "unhold by a supervisor", resumedBySup)

	if st.Holds != 2 || st.HoldSeconds != 40 || st.HeldAt != nil || st.Status != pgstore.InteractionDisposed {
		t.Errorf("final %+v", st)
	}
	want := []string{"interactionHeld on_hold", "interactionResumed connected", "interactionHeld on_hold", "interactionResumed connected",
		"interactionDisposed disposed"}
	if got := d.timeline(); !slices.Equal(got, want) {
		t.Errorf("timeline %v, want %v", got, want)
	}
	if d.changes[2].Update.Events[0].ActorID != supID || d.changes[0].Update.Events[0].ActorID != ana {
		t.Errorf("actors %q %q", d.changes[0].Update.Events[0].ActorID, d.changes[2].Update.Events[0].ActorID)
	}
	if p := d.changes[0].Publish; len(p) != 1 || p[0].Type != "interactionHeld" {
		t.Errorf("hold published %+v", p)
	}
	d.checkVersions(t)
}

// Before an agent holds it (queued, then ringing) no agent action is allowed, and an
// agent it only rings on is not its holder.
func TestLifecycleActionsBeforeConnectedRefused(t *testing.T) {
	d := newDesk(t)
	type try struct {
		what string
		o    *outcome
		want string
	}
	var tries []try
	actions := func(at time.Duration, phase string) {
		tries = append(tries,
			try{phase + " hold", d.hold(at, sup()), workflows.ErrTypeNotAllowed},
			try{phase + " unhold", d.unhold(at, sup()), workflows.ErrTypeNotAllowed},
			try{phase + " transfer", d.transfer(at, sup(), "queue", salesQueue, ""), workflows.ErrTypeNotAllowed},
			try{phase + " conference", d.conference(at, sup(), pgstore.ParticipantAgent, bo, ""), workflows.ErrTypeNotAllowed},
			try{phase + " leave", d.leave(at, sup(), bo, ""), workflows.ErrTypeNotAllowed},
			try{phase + " send-message", d.send(at, sup(), msg1, "hello"), workflows.ErrTypeNotAllowed},
			try{phase + " dispose", d.dispose(at, sup(), "Closed", "Resolved"), workflows.ErrTypeNotAllowed},
			try{phase + " hold by an agent", d.hold(at, as(ana)), workflows.ErrTypeNotYourInteraction},
			try{phase + " note by an agent", d.note(at, as(ana), note1, "hi"), workflows.ErrTypeNotYourInteraction},
		)
	}
	actions(5*time.Second, "queued:")
	d.env.RegisterDelayedCallback(func() {
		d.mu.Lock()
		d.ready = []string{ana}
		d.mu.Unlock()
	}, 9*time.Second)
	d.signal(10*time.Second, ana)
	var ringing workflows.InteractionState
	d.query(11*time.Second, &ringing)
	actions(12*time.Second, "offered:")
	supNote := d.note(13*time.Second, sup(), note2, "VIP customer")
	d.accept(14*time.Second, ana)
	d.endBy(20*time.Second, ana)
	st := d.run()

	if ringing.Status != pgstore.InteractionOffered || ringing.OfferedAgentID != ana {
		t.Fatalf("not ringing on Ana: %+v", ringing)
	}
	for _, tr := range tries {
		wantRefused(t, tr.what, tr.o, tr.want)
	}
	wantOK(t, "a supervisor's note while it rings", supNote)
	if st.Status != pgstore.InteractionDisposed || st.AgentID != ana || st.Holds != 0 || st.Transfers != 0 || len(st.Participants) != 0 {
		t.Errorf("final %+v", st)
	}
	want := []string{"noteAdded offered", "interactionDisposed disposed"}
	if got := d.timeline(); !slices.Equal(got, want) {
		t.Errorf("timeline %v, want %v", got, want)
	}
}

// Ended while on hold: the running hold is folded into the hold time and the
// interaction is ended, not on hold, for its wrap-up.
func TestLifecycleEndWhileOnHold(t *testing.T) {
	d := newDesk(t, ana)
	d.accept(time.Second, ana)
	d.hold(10*time.Second, as(ana))
	ended := d.endBy(70*time.Second, ana)
	st := d.run()

	wantOK(t, "end", ended)
	if ended.state == nil || ended.state.Status != pgstore.InteractionEnded || ended.state.HoldSeconds != 60 || ended.state.HeldAt != nil ||
		ended.state.Holds != 1 || ended.state.Outcome != pgstore.OutcomeCompleted || ended.state.WrapUpUntil == nil {
		t.Errorf("end answered %+v", ended.state)
	}
	r := d.releases[len(d.releases)-1]
	if r.AgentID != ana || r.Update.State.Status != pgstore.InteractionEnded || r.Update.State.HoldSeconds != 60 ||
		len(r.Update.Events) != 1 || r.Update.Events[0].Type != "interactionEnded" {
		t.Errorf("release %+v", r)
	}
	if st.HoldSeconds != 60 || st.Status != pgstore.InteractionDisposed || st.ConversationStatus != pgstore.ConversationClosed {
		t.Errorf("final %+v", st)
	}
}

// A transfer to a queue queues the interaction again without its agent (excluded,
// slot freed), counted as a transfer, and offers it in the new queue; a running hold
// is folded in.
func TestLifecycleTransferToQueue(t *testing.T) {
	d := newDesk(t, ana, bo, cy)
	d.queues()
	d.accept(time.Second, ana)
	d.hold(5*time.Second, as(ana))
	moved := d.transfer(10*time.Second, as(ana), "queue", billingQueue, "")
	lost := d.hold(11*time.Second, as(ana))
	var offered workflows.InteractionState
	d.query(12*time.Second, &offered)
	taken := d.accept(13*time.Second, bo)
	d.endBy(30*time.Second, bo)
	st := d.run()

	wantOK(t, "transfer", moved)
	if s := moved.state; s == nil || s.Status != pgstore.InteractionQueued || s.AgentID != "" || s.QueueID != billingQueue ||
		!s.Transferred || s.Transfers != 1 || !slices.Equal(s.ExcludedAgents, []string{ana}) || s.HoldSeconds != 5 || s.HeldAt != nil ||
		s.ConnectedAt != nil || !s.QueuedAt.Equal(d.start.Add(10*time.Second)) {
		t.Errorf("transfer answered %+v", moved.state)
	}
	wantRefused(t, "hold by the agent who let it go", lost, workflows.ErrTypeNotYourInteraction)
	if offered.Status != pgstore.InteractionOffered || offered.OfferedAgentID != bo || offered.QueueID != billingQueue {
		t.Errorf("after the transfer %+v", offered)
	}
	wantOK(t, "accept in the new queue", taken)
	want := []string{"offer ana", "change interactionHeld on_hold", "move billing member true", "release ana queued", "offer bo"}
	if got := d.story(); !subsequence(got, want) {
		t.Errorf("log %v, want in order %v", got, want)
	}
	m := d.moves[0]
	if m.Change.QueueID != billingQueue || m.Change.AgentID != "" || m.Change.Kept.State.Status != pgstore.InteractionQueued ||
		len(m.Change.Kept.Events) != 1 || m.Change.Kept.Events[0].Type != "interactionTransferred" ||
		m.Change.Kept.Events[0].Data["kind"] != "queue" || m.Change.Kept.Events[0].Data["queueId"] != billingQueue ||
		m.Change.Kept.Events[0].Data["from"] != ana || len(m.Publish) != 1 || m.Publish[0].Type != "interactionTransferred" {
		t.Errorf("move %+v", m)
	}
	if r := d.releases[0]; r.AgentID != ana || r.Update.State.Status != pgstore.InteractionQueued {
		t.Errorf("release %+v", r)
	}
	if o := d.offers[len(d.offers)-1]; o.Interaction.QueueID != billingQueue || !slices.Equal(o.Interaction.ExcludedAgents, []string{ana}) {
		t.Errorf("offer in the new queue %+v", o.Interaction)
	}
	if !slices.Contains(d.queueAttrs, billingQueue) {
		t.Errorf("queue attributes %v", d.queueAttrs)
	}
	if st.AgentID != bo || st.QueueID != billingQueue || st.Transfers != 1 || !st.Transferred || st.Offers != 2 || st.Status != pgstore.InteractionDisposed {
		t.Errorf("final %+v", st)
	}
}

// A transfer to a campaign goes to the campaign's default queue and into the
// campaign, whose wrap-up then applies.
func TestLifecycleTransferToCampaign(t *testing.T) {
	d := newDesk(t, ana, bo)
	d.queues()
	d.input.CampaignID = otherCampaign
	d.accept(time.Second, ana)
	unknown := d.transfer(5*time.Second, as(ana), "campaign", nobodyID, "")
	moved := d.transfer(10*time.Second, as(ana), "campaign", campaignID, "")
	d.accept(12*time.Second, bo)
	d.endBy(20*time.Second, bo)
	st := d.run()

	wantField(t, "transfer to an unknown campaign", unknown, workflows.ErrTypeUnknownTarget, "target.id")
	wantOK(t, "transfer", moved)
	if s := moved.state; s == nil || s.QueueID != salesQueue || s.CampaignID != campaignID || s.Status != pgstore.InteractionQueued || s.Transfers != 1 {
		t.Errorf("transfer answered %+v", moved.state)
	}
	if len(d.moves) != 1 || d.moves[0].Change.QueueID != salesQueue || d.moves[0].Change.Kept.CampaignID != campaignID ||
		d.moves[0].Change.Kept.Events[0].Data["campaignId"] != campaignID {
		t.Errorf("moves %+v", d.moves)
	}
	want := []string{"campaign", "move sales member true", "release ana queued", "offer bo"}
	if got := d.story(); !subsequence(got, want) {
		t.Errorf("log %v, want in order %v", got, want)
	}
	if st.AgentID != bo || st.QueueID != salesQueue || st.CampaignID != campaignID || st.Transfers != 1 {
		t.Errorf("final %+v", st)
	}
}

// A transfer to an agent hands the interaction over at once (the source's slot
// moves to a reservation of the target) and rings on the target, who accepts it.
func TestLifecycleTransferToAgentAccepted(t *testing.T) {
	d := newDesk(t, ana)
	d.accept(time.Second, ana)
	handed := d.transfer(10*time.Second, as(ana), "agent", bo, "")
	var ringing workflows.InteractionState
	d.query(11*time.Second, &ringing)
	anaAgain := d.hold(12*time.Second, as(ana))
	taken := d.accept(15*time.Second, bo)
	boHolds := d.hold(16*time.Second, as(bo))
	d.endBy(30*time.Second, bo)
	st := d.run()

	wantOK(t, "transfer", handed)
	if s := handed.state; s == nil || s.Status != pgstore.InteractionOffered || s.OfferedAgentID != bo || s.AgentID != "" ||
		s.Offers != 2 || !slices.Equal(s.ExcludedAgents, []string{ana}) || s.Transfers != 1 || !s.Transferred || s.RingUntil == nil {
		t.Errorf("transfer answered %+v", handed.state)
	}
	if ringing.Status != pgstore.InteractionOffered || ringing.OfferedAgentID != bo || ringing.RingUntil == nil ||
		!ringing.RingUntil.Equal(d.start.Add(10*time.Second+ring)) {
		t.Errorf("ringing %+v", ringing)
	}
	wantRefused(t, "hold by the agent who handed it over", anaAgain, workflows.ErrTypeNotYourInteraction)
	wantOK(t, "accept by the target", taken)
	if taken.state == nil || taken.state.Status != pgstore.InteractionConnected || taken.state.AgentID != bo {
		t.Errorf("accept answered %+v", taken.state)
	}
	wantOK(t, "hold by the target", boHolds)
	if len(d.handovers) != 1 {
		t.Fatalf("handovers %+v", d.handovers)
	}
	h := d.handovers[0]
	if h.FromAgentID != ana || h.ToAgentID != bo || h.QueueID != queueID || h.Update.State.Status != pgstore.InteractionOffered ||
		h.Update.State.OfferedAgentID != bo || len(h.Update.Events) != 1 || h.Update.Events[0].Type != "interactionTransferred" ||
		h.Update.Events[0].Data["to"] != bo || h.Voice != nil || len(h.Publish) != 1 || !slices.Equal(h.Publish[0].Agents, []string{ana, bo}) {
		t.Errorf("handover %+v", h)
	}
	c := d.confirms[len(d.confirms)-1]
	if c.AgentID != bo || c.Update.Response.Attempt != 2 || c.Update.State.AgentID != bo {
		t.Errorf("confirm %+v", c)
	}
	want := []string{"offer ana", "handover ana bo", "change interactionHeld on_hold", "release bo ended"}
	if got := d.story(); !subsequence(got, want) {
		t.Errorf("log %v, want in order %v", got, want)
	}
	// No release of Ana's slot by the workflow: the handover moved it.
	for _, r := range d.releases {
		if r.AgentID == ana {
			t.Errorf("Ana released separately: %+v", r)
		}
	}
	if st.AgentID != bo || st.Transfers != 1 || st.Offers != 2 || st.Status != pgstore.InteractionDisposed {
		t.Errorf("final %+v", st)
	}
}

// The target of a transfer rejects it: it is queued again with both agents
// excluded; nobody else can take it, so it waits.
func TestLifecycleTransferToAgentRejected(t *testing.T) {
	d := newDesk(t, ana)
	d.accept(time.Second, ana)
	d.transfer(10*time.Second, as(ana), "agent", bo, "")
	rejected := d.reject(15*time.Second, bo)
	var queued workflows.InteractionState
	d.query(20*time.Second, &queued)
	d.end(30 * time.Second)
	st := d.run()

	wantOK(t, "reject by the target", rejected)
	if queued.Status != pgstore.InteractionQueued || queued.OfferedAgentID != "" || queued.AgentID != "" ||
		!slices.Equal(queued.ExcludedAgents, []string{ana, bo}) || queued.Transfers != 1 {
		t.Errorf("after the rejection %+v", queued)
	}
	r := d.releases[0]
	if r.AgentID != bo || r.Update.Response == nil || r.Update.Response.Outcome != pgstore.OfferRejected || r.Update.Response.Attempt != 2 {
		t.Errorf("release %+v", r)
	}
	if o := d.offers[len(d.offers)-1]; len(d.offers) != 2 || !slices.Equal(o.Interaction.ExcludedAgents, []string{ana, bo}) {
		t.Errorf("offers %+v", d.offers)
	}
	if st.Status != pgstore.InteractionAbandoned || st.Outcome != pgstore.OutcomeAbandoned {
		t.Errorf("final %+v", st)
	}
}

// A call transferred to an agent: the source goes idle in the handover, the target
// rings, then is in the call.
func TestLifecycleVoiceTransferToAgent(t *testing.T) {
	d := newVoiceDesk(t, ana)
	d.wrapUp = time.Minute
	d.accept(time.Second, ana)
	d.transfer(10*time.Second, as(ana), "agent", bo, "")
	d.accept(15*time.Second, bo)
	d.endBy(30*time.Second, bo)
	d.dispose(40*time.Second, as(bo), "Closed", "Resolved")
	d.run()

	want := []string{"ana ringing @0s", "ana in_call @1s", "ana idle @10s", "bo ringing @10s", "bo in_call @15s", "bo wrapping @30s", "bo idle @40s +bulk"}
	if got := d.voiceSteps(); !slices.Equal(got, want) {
		t.Errorf("voice steps %v, want %v", got, want)
	}
	if d.indexOf("voice "+ana+" idle") > d.indexOf("handover") {
		t.Errorf("Ana idle after the handover: %v", d.story())
	}
}

// A handover the target cannot take is refused with nothing changed; the agent
// still holds the interaction and goes on.
func TestLifecycleTransferToAgentUnavailable(t *testing.T) {
	d := newDesk(t, ana)
	d.handoverRefused = "no_room"
	d.accept(time.Second, ana)
	refused := d.transfer(10*time.Second, as(ana), "agent", bo, "")
	var after workflows.InteractionState
	d.query(11*time.Second, &after)
	held := d.hold(12*time.Second, as(ana))
	d.endBy(20*time.Second, ana)
	st := d.run()

	wantRefused(t, "transfer to a busy agent", refused, workflows.ErrTypeTargetUnavailable)
	var app *temporal.ApplicationError
	if errors.As(refused.err, &app) && !strings.Contains(app.Message(), "no room") {
		t.Errorf("message %q does not say why", app.Message())
	}
	if after.Status != pgstore.InteractionConnected || after.AgentID != ana || after.Transfers != 0 || after.Transferred ||
		after.OfferedAgentID != "" || len(after.ExcludedAgents) != 0 || after.Version != 2 {
		t.Errorf("after the refusal %+v", after)
	}
	wantOK(t, "hold after the refusal", held)
	if len(d.handovers) != 1 || len(d.releases) != 1 {
		t.Errorf("handovers %d, releases %+v", len(d.handovers), d.releases)
	}
	if st.AgentID != ana || st.Transfers != 0 {
		t.Errorf("final %+v", st)
	}
}

// A transfer to an external number ends the interaction for its agent (transferred,
// the transfer and the end in the timeline), who wraps it up and disposes it.
func TestLifecycleTransferToExternal(t *testing.T) {
	d := newDesk(t, ana)
	d.accept(time.Second, ana)
	d.hold(5*time.Second, as(ana))
	out := d.transfer(10*time.Second, as(ana), "external", "", externalNum)
	late := d.hold(11*time.Second, as(ana))
	disposed := d.dispose(20*time.Second, as(ana), "Closed", "Resolved")
	st := d.run()

	wantOK(t, "transfer out", out)
	if s := out.state; s == nil || s.Status != pgstore.InteractionEnded || s.AgentID != ana || !s.Transferred || s.Transfers != 1 ||
		s.HoldSeconds != 5 || s.EndReason != "transferred to "+externalNum || s.WrapUpUntil == nil {
		t.Errorf("transfer answered %+v", out.state)
	}
	wantRefused(t, "hold after the transfer", late, workflows.ErrTypeNotAllowed)
	wantOK(t, "dispose", disposed)
	r := d.releases[len(d.releases)-1]
	if r.AgentID != ana || r.Update.State.Status != pgstore.InteractionEnded || len(r.Update.Events) != 2 ||
		r.Update.Events[0].Type != "interactionTransferred" || r.Update.Events[0].Data["number"] != externalNum ||
		r.Update.Events[1].Type != "interactionEnded" {
		t.Errorf("release %+v", r)
	}
	if len(d.published) != 1 || d.published[0].Publish[0].Type != "interactionTransferred" || d.published[0].Update.State.Status != pgstore.InteractionEnded {
		t.Errorf("published %+v", d.published)
	}
	want := []string{"change interactionHeld on_hold", "release ana ended", "change interactionDisposed disposed"}
	if got := d.story(); !subsequence(got, want) {
		t.Errorf("log %v, want in order %v", got, want)
	}
	if st.Status != pgstore.InteractionDisposed || !st.Transferred || st.DisposedBy != ana {
		t.Errorf("final %+v", st)
	}
}

// Invalid transfers are refused with the field named; a warm transfer is refused;
// none changes anything.
func TestLifecycleTransferRefusals(t *testing.T) {
	d := newDesk(t, ana)
	d.queues()
	d.accept(time.Second, ana)
	at := 5 * time.Second
	noKind := d.transfer(at, as(ana), "", bo, "")
	badKind := d.transfer(at, as(ana), "robot", bo, "")
	badAgent := d.transfer(at, as(ana), "agent", "bob", "")
	self := d.transfer(at, as(ana), "agent", ana, "")
	badQueue := d.transfer(at, as(ana), "queue", "", "")
	badNumber := d.transfer(at, as(ana), "external", "", "555-0100")
	warm := d.update(at, workflows.TransferUpdate, workflows.TransferInput{Actor: as(ana), Mode: "warm",
		Target: workflows.TransferTarget{Kind: "queue", ID: salesQueue}})
	badMode := d.update(at, workflows.TransferUpdate, workflows.TransferInput{Actor: as(ana), Mode: "lukewarm",
		Target: workflows.TransferTarget{Kind: "agent", ID: bo}})
	unknownQueue := d.transfer(6*time.Second, as(ana), "queue", unknownQueue, "")
	byBo := d.transfer(7*time.Second, as(bo), "queue", salesQueue, "")
	byStranger := d.transfer(7*time.Second, stranger(), "queue", salesQueue, "")
	var after workflows.InteractionState
	d.query(8*time.Second, &after)
	d.endBy(10*time.Second, ana)
	d.run()

	wantField(t, "no kind", noKind, workflows.ErrTypeInvalidAction, "target.kind")
	wantField(t, "unknown kind", badKind, workflows.ErrTypeInvalidAction, "target.kind")
	wantField(t, "agent ID not an ID", badAgent, workflows.ErrTypeInvalidAction, "target.id")
	wantField(t, "to the agent who holds it", self, workflows.ErrTypeInvalidAction, "target.id")
	wantField(t, "queue without ID", badQueue, workflows.ErrTypeInvalidAction, "target.id")
	wantField(t, "external number not E.164", badNumber, workflows.ErrTypeInvalidAction, "target.number")
	wantField(t, "warm to a queue", warm, workflows.ErrTypeInvalidAction, "target.kind")
	wantField(t, "unknown mode", badMode, workflows.ErrTypeInvalidAction, "mode")
	wantField(t, "unknown queue", unknownQueue, workflows.ErrTypeUnknownTarget, "target.id")
	wantRefused(t, "by another agent", byBo, workflows.ErrTypeNotYourInteraction)
	wantRefused(t, "from another tenant", byStranger, workflows.ErrTypeInteractionNotFound)
	if after.Status != pgstore.InteractionConnected || after.AgentID != ana || after.Transfers != 0 || after.QueueID != queueID || after.Version != 2 {
		t.Errorf("after the refusals %+v", after)
	}
	if len(d.releases) != 1 || len(d.handovers) != 0 {
		t.Errorf("releases %+v, handovers %+v", d.releases, d.handovers)
	}
}

// Conferences add agents, supervisors and external numbers, each once at a time;
// users of the wrong role and unknown users are refused; participants leave.
func TestLifecycleConference(t *testing.T) {
	d := newDesk(t, ana)
	d.accept(time.Second, ana)
	supAsAgent := d.conference(4*time.Second, as(ana), pgstore.ParticipantAgent, supID, "")
	addBo := d.conference(5*time.Second, as(ana), pgstore.ParticipantAgent, bo, "")
	boTwice := d.conference(6*time.Second, as(ana), pgstore.ParticipantAgent, bo, "")
	addSup := d.conference(7*time.Second, as(ana), pgstore.ParticipantSupervisor, supID, "")
	addExt := d.conference(8*time.Second, as(ana), pgstore.ParticipantExternal, "", externalNum)
	extTwice := d.conference(9*time.Second, sup(), pgstore.ParticipantExternal, "", externalNum)
	wrongRole := d.conference(9*time.Second, as(ana), pgstore.ParticipantSupervisor, cy, "")
	unknown := d.conference(9*time.Second, as(ana), pgstore.ParticipantAgent, nobodyID, "")
	self := d.conference(9*time.Second, as(ana), pgstore.ParticipantAgent, ana, "")
	badKind := d.conference(9*time.Second, as(ana), "robot", cy, "")
	badUser := d.conference(9*time.Second, as(ana), pgstore.ParticipantAgent, "cy", "")
	badNumber := d.conference(9*time.Second, as(ana), pgstore.ParticipantExternal, "", "0100")
	byBo := d.conference(9*time.Second, as(bo), pgstore.ParticipantAgent, cy, "")
	boLeft := d.leave(20*time.Second, as(ana), bo, "")
	boLeftTwice := d.leave(21*time.Second, as(ana), bo, "")
	nobody := d.leave(21*time.Second, as(ana), "", "")
	extLeft := d.leave(22*time.Second, sup(), "", externalNum)
	boBack := d.conference(25*time.Second, as(ana), pgstore.ParticipantAgent, bo, "")
	d.endBy(30*time.Second, ana)
	late := d.conference(31*time.Second, sup(), pgstore.ParticipantAgent, cy, "")
	st := d.run()

	wantOK(t, "add Bo", addBo)
	wantRefused(t, "add Bo twice", boTwice, workflows.ErrTypeNotAllowed)
	wantOK(t, "add a supervisor", addSup)
	wantOK(t, "add an external number", addExt)
	wantRefused(t, "add the number twice", extTwice, workflows.ErrTypeNotAllowed)
	wantField(t, "an agent as supervisor", wrongRole, workflows.ErrTypeInvalidAction, "userId")
	wantField(t, "a supervisor as agent", supAsAgent, workflows.ErrTypeInvalidAction, "userId")
	wantField(t, "an unknown user", unknown, workflows.ErrTypeUnknownTarget, "userId")
	wantField(t, "the agent who holds it", self, workflows.ErrTypeInvalidAction, "userId")
	wantField(t, "unknown kind", badKind, workflows.ErrTypeInvalidAction, "kind")
	wantField(t, "user ID not an ID", badUser, workflows.ErrTypeInvalidAction, "userId")
	wantField(t, "number not E.164", badNumber, workflows.ErrTypeInvalidAction, "number")
	wantRefused(t, "by another agent", byBo, workflows.ErrTypeNotYourInteraction)
	wantOK(t, "Bo leaves", boLeft)
	wantField(t, "Bo leaves twice", boLeftTwice, workflows.ErrTypeInvalidAction, "userId")
	wantField(t, "nobody leaves", nobody, workflows.ErrTypeInvalidAction, "userId")
	wantOK(t, "the number leaves", extLeft)
	wantOK(t, "Bo back", boBack)
	wantRefused(t, "conference after the end", late, workflows.ErrTypeNotAllowed)

	ps := st.Participants
	if len(ps) != 4 || ps[0].UserID != bo || ps[0].LeftAt == nil || !ps[0].LeftAt.Equal(d.start.Add(20*time.Second)) ||
		ps[1].Kind != pgstore.ParticipantSupervisor || ps[1].LeftAt != nil || ps[1].AddedBy != ana ||
		ps[2].Number != externalNum || ps[2].LeftAt == nil || ps[3].UserID != bo || ps[3].LeftAt != nil {
		t.Errorf("participants %+v", ps)
	}
	want := []string{"interactionConferred connected", "interactionConferred connected", "interactionConferred connected",
		"participantLeft connected", "participantLeft connected", "interactionConferred connected", "interactionDisposed disposed"}
	if got := d.timeline(); !slices.Equal(got, want) {
		t.Errorf("timeline %v, want %v", got, want)
	}
	if p := d.changes[0].Publish; len(p) != 1 || !slices.Equal(p[0].Agents, []string{ana, bo}) {
		t.Errorf("conference published %+v", p)
	}
	d.checkVersions(t)
}

// Notes are kept during the interaction and its wrap-up, with the disposal's notes;
// an empty or too long note, a bad ID, another agent's note and a note after the
// disposal are refused.
func TestLifecycleNotes(t *testing.T) {
	d := newDesk(t, ana)
	d.accept(time.Second, ana)
	first := d.note(5*time.Second, as(ana), note1, "Customer asks about the invoice")
	empty := d.note(6*time.Second, as(ana), note2, "   ")
	long := d.note(6*time.Second, as(ana), note2, strings.Repeat("x", pgstore.MaxNoteLength+1))
	badID := d.note(6*time.Second, as(ana), "n-1", "hi")
	byBo := d.note(6*time.Second, as(bo), note2, "hi")
	byStranger := d.note(6*time.Second, stranger(), note2, "hi")
	d.endBy(10*time.Second, ana)
	wrapUp := d.note(15*time.Second, as(ana), note2, "Sent the invoice again")
	disposed := d.update(20*time.Second, workflows.DisposeUpdate, workflows.DisposeInput{Actor: as(ana), Class: "Closed", Code: "Resolved",
		Notes: "Resolved on the first call", NoteID: note3})
	after := d.note(20*time.Second, as(ana), "6f1c2c3e-0000-4000-8000-000000000104", "too late")
	st := d.run()

	wantOK(t, "note", first)
	wantField(t, "empty note", empty, workflows.ErrTypeInvalidAction, "body")
	wantField(t, "long note", long, workflows.ErrTypeInvalidAction, "body")
	wantField(t, "note ID not an ID", badID, workflows.ErrTypeInvalidAction, "noteId")
	wantRefused(t, "note by another agent", byBo, workflows.ErrTypeNotYourInteraction)
	wantRefused(t, "note from another tenant", byStranger, workflows.ErrTypeInteractionNotFound)
	wantOK(t, "note in the wrap-up", wrapUp)
	wantOK(t, "dispose with notes", disposed)
	wantRefused(t, "note after the disposal", after, workflows.ErrTypeNotAllowed)

	var notes []string
	for _, c := range d.changes {
		if c.Note != nil {
			// The tenant is not part of a note's JSON (pgstore.Note.TenantID is json:"-"):
			// the activity must take it from the update.
			if c.Note.InteractionID != interactionID || c.Note.AuthorID != ana || c.Update.TenantID != tenantID {
				t.Errorf("note %+v", c.Note)
			}
			notes = append(notes, c.Note.ID+" "+c.Note.Body)
		}
	}
	wantNotes := []string{note1 + " Customer asks about the invoice", note2 + " Sent the invoice again", note3 + " Resolved on the first call"}
	if !slices.Equal(notes, wantNotes) {
		t.Errorf("notes %v, want %v", notes, wantNotes)
	}
	want := []string{"noteAdded connected", "noteAdded ended", "interactionDisposed disposed"}
	if got := d.timeline(); !slices.Equal(got, want) {
		t.Errorf("timeline %v, want %v", got, want)
	}
	if st.Disposition == nil || st.Disposition.Notes != "Resolved on the first call" {
		t.Errorf("disposition %+v", st.Disposition)
	}
	d.checkVersions(t)
}

// A chat: the agent's messages go out through the channel and into the timeline,
// the customer's come in; the conversation's status moves, a message on a waiting
// or solved conversation opens it (a solved one counts a reopen, as does the agent
// opening it again); closing it ends the interaction.
func TestLifecycleChatMessagesAndConversationStatus(t *testing.T) {
	d := newDesk(t, ana)
	d.accept(time.Second, ana)
	sent := d.send(5*time.Second, as(ana), msg1, "Hello, how can I help?")
	emptyMsg := d.send(5*time.Second, as(ana), msg2, " ")
	badMsgID := d.send(5*time.Second, as(ana), "m-2", "hi")
	boSends := d.send(5*time.Second, as(bo), msg2, "hi")
	d.signalAt(6*time.Second, workflows.InboundMessageSignal, workflows.InboundMessageInput{MessageID: msg2, From: "visitor-1", Body: "My invoice"})
	waiting := d.conversation(7*time.Second, as(ana), pgstore.ConversationWaiting)
	d.signalAt(8*time.Second, workflows.InboundMessageSignal, workflows.InboundMessageInput{MessageID: msg3, Body: "Still there?"})
	var afterWaiting workflows.InteractionState
	d.query(9*time.Second, &afterWaiting)
	solved := d.conversation(10*time.Second, as(ana), pgstore.ConversationSolved)
	d.signalAt(11*time.Second, workflows.InboundMessageSignal, workflows.InboundMessageInput{MessageID: msg4, Body: "One more thing"})
	var reopened workflows.InteractionState
	d.query(12*time.Second, &reopened)
	same := d.conversation(13*time.Second, as(ana), pgstore.ConversationOpen)
	invalid := d.conversation(13*time.Second, as(ana), "pending")
	byBo := d.conversation(13*time.Second, as(bo), pgstore.ConversationSolved)
	solvedAgain := d.conversation(14*time.Second, sup(), pgstore.ConversationSolved)
	openAgain := d.conversation(15*time.Second, sup(), pgstore.ConversationOpen)
	closed := d.conversation(20*time.Second, as(ana), pgstore.ConversationClosed)
	afterClose := d.conversation(21*time.Second, as(ana), pgstore.ConversationOpen)
	sendAfter := d.send(21*time.Second, as(ana), "6f1c2c3e-0000-4000-8000-000000000205", "bye")
	d.dispose(30*time.Second, as(ana), "Closed", "Resolved")
	st := d.run()

	wantOK(t, "send", sent)
	if len(d.messages) != 1 || d.messages[0].MessageID != msg1 || d.messages[0].SenderID != ana || d.messages[0].SenderKind != pgstore.SenderAgent ||
		d.messages[0].Body != "Hello, how can I help?" || d.messages[0].InteractionID != interactionID {
		t.Errorf("messages sent %+v", d.messages)
	}
	wantField(t, "empty message", emptyMsg, workflows.ErrTypeInvalidAction, "body")
	wantField(t, "message ID not an ID", badMsgID, workflows.ErrTypeInvalidAction, "messageId")
	wantRefused(t, "message by another agent", boSends, workflows.ErrTypeNotYourInteraction)
	if len(d.inbound) != 3 || d.inbound[0].MessageID != msg2 || d.inbound[0].From != "visitor-1" || d.inbound[0].ReceivedAt.IsZero() {
		t.Errorf("messages received %+v", d.inbound)
	}
	wantOK(t, "waiting", waiting)
	if afterWaiting.ConversationStatus != pgstore.ConversationOpen || afterWaiting.ReopenCount != 0 {
		t.Errorf("a message on a waiting conversation: %+v", afterWaiting)
	}
	wantOK(t, "solved", solved)
	if reopened.ConversationStatus != pgstore.ConversationOpen || reopened.ReopenCount != 1 {
		t.Errorf("a message on a solved conversation: %+v", reopened)
	}
	wantRefused(t, "the same status", same, workflows.ErrTypeNotAllowed)
	wantField(t, "an unknown status", invalid, workflows.ErrTypeInvalidAction, "status")
	wantRefused(t, "status by another agent", byBo, workflows.ErrTypeNotYourInteraction)
	wantOK(t, "solved again", solvedAgain)
	wantOK(t, "reopened by a supervisor", openAgain)
	wantOK(t, "closed", closed)
	if s := closed.state; s == nil || s.Status != pgstore.InteractionEnded || s.ConversationStatus != pgstore.ConversationClosed ||
		s.EndReason != "conversation closed" || s.ReopenCount != 2 {
		t.Errorf("close answered %+v", closed.state)
	}
	wantRefused(t, "status after the close", afterClose, workflows.ErrTypeNotAllowed)
	wantRefused(t, "message after the close", sendAfter, workflows.ErrTypeNotAllowed)

	want := []string{"messageSent connected", "messageReceived connected", "conversationStatusChanged connected",
		"messageReceived connected", "conversationStatusChanged connected", "messageReceived connected",
		"conversationStatusChanged connected", "conversationStatusChanged connected", "interactionDisposed disposed"}
	if got := d.timeline(); !slices.Equal(got, want) {
		t.Errorf("timeline %v, want %v", got, want)
	}
	if e := d.changes[0].Update.Events[0]; e.Data["messageId"] != msg1 || e.ActorID != ana {
		t.Errorf("sent entry %+v", e)
	}
	if e := d.changes[5].Update.Events[0]; e.Data["reopened"] != true || e.Data["messageId"] != msg4 {
		t.Errorf("reopening message entry %+v", e)
	}
	if e := d.changes[7].Update.Events[0]; e.Data["reopened"] != true || e.Data["from"] != "solved" || e.Data["to"] != "open" {
		t.Errorf("reopening status entry %+v", e)
	}
	if r := d.releases[len(d.releases)-1]; r.Update.State.Status != pgstore.InteractionEnded || r.Update.State.ConversationStatus != pgstore.ConversationClosed {
		t.Errorf("end %+v", r.Update.State)
	}
	if st.ReopenCount != 2 || st.ConversationStatus != pgstore.ConversationClosed || st.Status != pgstore.InteractionDisposed {
		t.Errorf("final %+v", st)
	}
	d.checkVersions(t)
}

// Calls carry no messages and have no conversation status.
func TestLifecycleVoiceRefusesDigitalActions(t *testing.T) {
	d := newVoiceDesk(t, ana)
	d.accept(time.Second, ana)
	msg := d.send(5*time.Second, as(ana), msg1, "hi")
	status := d.conversation(5*time.Second, as(ana), pgstore.ConversationSolved)
	d.endBy(10*time.Second, ana)
	st := d.run()
	wantRefused(t, "message on a call", msg, workflows.ErrTypeNotAllowed)
	wantRefused(t, "conversation status on a call", status, workflows.ErrTypeNotAllowed)
	if len(d.messages) != 0 || st.ConversationStatus != "" {
		t.Errorf("messages %+v, final %+v", d.messages, st)
	}
}

// Customers are linked and unlinked; unlinking none, linking the one linked and an
// empty ID are refused.
func TestLifecycleLinkCustomer(t *testing.T) {
	d := newDesk(t, ana)
	d.accept(time.Second, ana)
	none := d.unlink(5*time.Second, as(ana))
	linked := d.link(6*time.Second, as(ana), "crm-42")
	same := d.link(7*time.Second, as(ana), "crm-42")
	empty := d.link(7*time.Second, as(ana), " ")
	byBo := d.link(7*time.Second, as(bo), "crm-7")
	relinked := d.link(8*time.Second, sup(), "crm-43")
	unlinked := d.unlink(9*time.Second, as(ana))
	d.endBy(10*time.Second, ana)
	inWrapUp := d.link(11*time.Second, as(ana), "crm-44")
	st := d.run()

	wantRefused(t, "unlink with none linked", none, workflows.ErrTypeNotAllowed)
	wantOK(t, "link", linked)
	if linked.state == nil || linked.state.CustomerID != "crm-42" {
		t.Errorf("link answered %+v", linked.state)
	}
	wantRefused(t, "link the linked customer", same, workflows.ErrTypeNotAllowed)
	wantField(t, "link an empty ID", empty, workflows.ErrTypeInvalidAction, "customerId")
	wantRefused(t, "link by another agent", byBo, workflows.ErrTypeNotYourInteraction)
	wantOK(t, "link another", relinked)
	wantOK(t, "unlink", unlinked)
	if unlinked.state == nil || unlinked.state.CustomerID != "" {
		t.Errorf("unlink answered %+v", unlinked.state)
	}
	wantOK(t, "link in the wrap-up", inWrapUp)
	want := []string{"customerLinkedToInteraction connected", "customerLinkedToInteraction connected",
		"customerUnlinkedFromInteraction connected", "customerLinkedToInteraction ended", "interactionDisposed disposed"}
	if got := d.timeline(); !slices.Equal(got, want) {
		t.Errorf("timeline %v, want %v", got, want)
	}
	if e := d.changes[1].Update.Events[0]; e.Data["previousCustomerId"] != "crm-42" || e.Data["customerId"] != "crm-43" || e.ActorID != supID {
		t.Errorf("relink entry %+v", e)
	}
	if st.CustomerID != "crm-44" {
		t.Errorf("final %+v", st)
	}
}

// Disposal: refused before the end, with a class or code the campaign does not have
// or without a code; accepted once, by the agent, with the code named; refused again.
func TestLifecycleDispose(t *testing.T) {
	d := newDesk(t, ana)
	d.accept(time.Second, ana)
	early := d.dispose(5*time.Second, as(ana), "Closed", "Resolved")
	d.endBy(10*time.Second, ana)
	badClass := d.dispose(12*time.Second, as(ana), "Sales", "Resolved")
	badCode := d.dispose(12*time.Second, as(ana), "Closed", "Sold")
	noCode := d.dispose(12*time.Second, as(ana), "Closed", "")
	noClass := d.dispose(12*time.Second, as(ana), "", "Resolved")
	byBo := d.dispose(12*time.Second, as(bo), "Closed", "Resolved")
	byStranger := d.dispose(12*time.Second, stranger(), "Closed", "Resolved")
	var wrapping workflows.InteractionState
	d.query(13*time.Second, &wrapping)
	disposed := d.dispose(20*time.Second, as(ana), classID, "No action")
	twice := d.dispose(20*time.Second, as(ana), "Closed", "Resolved")
	st := d.run()

	wantRefused(t, "dispose before the end", early, workflows.ErrTypeNotAllowed)
	wantField(t, "unknown class", badClass, workflows.ErrTypeInvalidDisposition, "dispositionClass")
	wantField(t, "unknown code", badCode, workflows.ErrTypeInvalidDisposition, "dispositionCode")
	wantField(t, "no code", noCode, workflows.ErrTypeInvalidAction, "dispositionCode")
	wantField(t, "a code's name without its class", noClass, workflows.ErrTypeInvalidAction, "dispositionClass")
	wantRefused(t, "dispose by another agent", byBo, workflows.ErrTypeNotYourInteraction)
	wantRefused(t, "dispose from another tenant", byStranger, workflows.ErrTypeInteractionNotFound)
	if wrapping.Status != pgstore.InteractionEnded || wrapping.Disposition != nil || wrapping.CampaignID != campaignID {
		t.Errorf("in the wrap-up %+v", wrapping)
	}
	wantOK(t, "dispose", disposed)
	wantRefused(t, "dispose twice", twice, workflows.ErrTypeNotAllowed)
	if st.Status != pgstore.InteractionDisposed || st.Disposition == nil || st.Disposition.Auto || st.Disposition.CodeID != noActionID ||
		st.Disposition.ClassID != classID || st.Disposition.Code != "No action" || st.DisposedBy != ana || st.DisposedAt == nil ||
		!st.DisposedAt.Equal(d.start.Add(20*time.Second)) || st.WrapUpUntil != nil {
		t.Errorf("final %+v %+v", st, st.Disposition)
	}
	if got := d.env.Now().Sub(d.start); got != 20*time.Second {
		t.Errorf("the run ended at %v, want at the disposal", got)
	}
	want := []string{"interactionDisposed disposed"}
	if got := d.timeline(); !slices.Equal(got, want) {
		t.Errorf("timeline %v, want %v", got, want)
	}
	if e := d.changes[0].Update.Events[0]; e.Data["auto"] != false || e.Data["codeId"] != noActionID || e.ActorID != ana {
		t.Errorf("disposal entry %+v", e)
	}
}

// Nobody disposes: the campaign's wrap-up timeout disposes with its default code.
func TestLifecycleAutoDispose(t *testing.T) {
	d := newDesk(t, ana)
	d.campaignWrap = 2 * time.Minute
	d.accept(time.Second, ana)
	ended := d.endBy(10*time.Second, ana)
	st := d.run()

	wantOK(t, "end", ended)
	if ended.state == nil || ended.state.WrapUpUntil == nil || !ended.state.WrapUpUntil.Equal(d.start.Add(2*time.Minute+10*time.Second)) {
		t.Errorf("end answered %+v", ended.state)
	}
	if got := d.env.Now().Sub(d.start); got != 2*time.Minute+10*time.Second {
		t.Errorf("disposed at %v, want at the campaign's wrap-up timeout", got)
	}
	if st.Status != pgstore.InteractionDisposed || st.Disposition == nil || !st.Disposition.Auto || st.Disposition.CodeID != resolvedID ||
		st.DisposedBy != "" || st.CampaignID != campaignID {
		t.Errorf("final %+v %+v", st, st.Disposition)
	}
	if e := d.changes[len(d.changes)-1].Update.Events[0]; e.Type != "interactionDisposed" || e.Data["auto"] != true {
		t.Errorf("disposal entry %+v", e)
	}
}

// A campaign without a wrap-up timeout waits for the agent, however long.
func TestLifecycleWrapUpWaitsForTheAgent(t *testing.T) {
	d := newDesk(t, ana)
	d.campaignWrap = 0
	d.accept(time.Second, ana)
	d.endBy(10*time.Second, ana)
	var wrapping workflows.InteractionState
	d.query(3*time.Hour, &wrapping)
	disposed := d.dispose(5*time.Hour, as(ana), "Closed", "Resolved")
	st := d.run()

	if wrapping.Status != pgstore.InteractionEnded || wrapping.WrapUpUntil != nil {
		t.Errorf("three hours into the wrap-up %+v", wrapping)
	}
	wantOK(t, "dispose", disposed)
	if got := d.env.Now().Sub(d.start); got != 5*time.Hour {
		t.Errorf("the run ended at %v, want at the disposal", got)
	}
	if st.Disposition == nil || st.Disposition.Auto {
		t.Errorf("final %+v", st.Disposition)
	}
}

// The customer hangs up: the interaction ends (once) with its agent in wrap-up; one
// who leaves while queued abandons it.
func TestLifecycleHangupSignal(t *testing.T) {
	t.Run("connected", func(t *testing.T) {
		d := newDesk(t, ana)
		d.accept(time.Second, ana)
		d.signalAt(10*time.Second, workflows.HangupSignal, workflows.HangupInput{})
		d.signalAt(11*time.Second, workflows.HangupSignal, workflows.HangupInput{Reason: "again"})
		var wrapping workflows.InteractionState
		d.query(12*time.Second, &wrapping)
		st := d.run()
		if wrapping.Status != pgstore.InteractionEnded || wrapping.EndReason != "the customer left" || wrapping.Outcome != pgstore.OutcomeCompleted ||
			wrapping.EndedAt == nil || !wrapping.EndedAt.Equal(d.start.Add(10*time.Second)) {
			t.Errorf("after the hangup %+v", wrapping)
		}
		if len(d.releases) != 1 || st.Status != pgstore.InteractionDisposed {
			t.Errorf("releases %+v, final %+v", d.releases, st)
		}
	})
	t.Run("queued", func(t *testing.T) {
		d := newDesk(t)
		d.signalAt(10*time.Second, workflows.HangupSignal, workflows.HangupInput{Reason: "caller gave up"})
		st := d.run()
		if st.Status != pgstore.InteractionAbandoned || st.Outcome != pgstore.OutcomeAbandoned || st.EndReason != "caller gave up" {
			t.Errorf("final %+v", st)
		}
	})
}

// An outbound interaction: a channel's events go into the timeline; its outcome
// (busy) ends it; an invalid outcome is ignored. On an inbound interaction an
// outcome is ignored.
func TestLifecycleChannelOutcome(t *testing.T) {
	t.Run("outbound busy", func(t *testing.T) {
		d := newDesk(t, ana)
		d.input.Direction = pgstore.Outbound
		d.accept(time.Second, ana)
		d.signalAt(5*time.Second, workflows.ChannelEventSignal, workflows.ChannelEvent{Type: "ringing", Detail: map[string]string{"sip": "180"}})
		d.signalAt(6*time.Second, workflows.ChannelEventSignal, workflows.ChannelEvent{Type: "outcome", Outcome: "lost"})
		var still workflows.InteractionState
		d.query(7*time.Second, &still)
		d.signalAt(10*time.Second, workflows.ChannelEventSignal, workflows.ChannelEvent{Type: "outcome", Outcome: pgstore.OutcomeBusy})
		var wrapping workflows.InteractionState
		d.query(11*time.Second, &wrapping)
		st := d.run()

		if still.Status != pgstore.InteractionConnected {
			t.Errorf("after an invalid outcome %+v", still)
		}
		if wrapping.Status != pgstore.InteractionEnded || wrapping.Outcome != pgstore.OutcomeBusy || wrapping.EndReason != "busy" {
			t.Errorf("after busy %+v", wrapping)
		}
		r := d.releases[len(d.releases)-1]
		if len(r.Update.Events) != 1 || r.Update.Events[0].Data["outcome"] != "busy" {
			t.Errorf("end entry %+v", r.Update.Events)
		}
		want := []string{"channelEvent connected", "interactionDisposed disposed"}
		if got := d.timeline(); !slices.Equal(got, want) {
			t.Errorf("timeline %v, want %v", got, want)
		}
		if st.Outcome != pgstore.OutcomeBusy || st.Status != pgstore.InteractionDisposed {
			t.Errorf("final %+v", st)
		}
	})
	t.Run("inbound", func(t *testing.T) {
		d := newDesk(t, ana)
		d.accept(time.Second, ana)
		d.signalAt(5*time.Second, workflows.ChannelEventSignal, workflows.ChannelEvent{Type: "outcome", Outcome: pgstore.OutcomeBusy})
		var still workflows.InteractionState
		d.query(6*time.Second, &still)
		d.endBy(10*time.Second, ana)
		st := d.run()
		if still.Status != pgstore.InteractionConnected || st.Outcome != pgstore.OutcomeCompleted {
			t.Errorf("inbound: %+v, final %+v", still, st)
		}
	})
}

// A call's agent is idle at their ACD wrap-up time when the disposal comes later…
func TestLifecycleVoiceIdleAtWrapUpTime(t *testing.T) {
	d := newVoiceDesk(t, ana)
	d.wrapUp = 30 * time.Second
	d.accept(2*time.Second, ana)
	d.endBy(60*time.Second, ana)
	disposed := d.dispose(5*time.Minute, as(ana), "Closed", "Resolved")
	st := d.run()

	wantOK(t, "dispose", disposed)
	want := []string{"ana ringing @0s", "ana in_call @2s", "ana wrapping @1m0s", "ana idle @1m30s +bulk"}
	if got := d.voiceSteps(); !slices.Equal(got, want) {
		t.Errorf("voice steps %v, want %v", got, want)
	}
	if st.Status != pgstore.InteractionDisposed || st.Disposition == nil || st.Disposition.Auto || d.env.Now().Sub(d.start) != 5*time.Minute {
		t.Errorf("final %+v at %v", st, d.env.Now().Sub(d.start))
	}
}

// …and at the disposal when it comes before the end of their wrap-up time.
func TestLifecycleVoiceIdleAtEarlierDisposal(t *testing.T) {
	d := newVoiceDesk(t, ana)
	d.wrapUp = 30 * time.Second
	d.accept(2*time.Second, ana)
	d.endBy(60*time.Second, ana)
	disposed := d.dispose(70*time.Second, as(ana), "Closed", "Resolved")
	d.run()

	wantOK(t, "dispose", disposed)
	want := []string{"ana ringing @0s", "ana in_call @2s", "ana wrapping @1m0s", "ana idle @1m10s +bulk"}
	if got := d.voiceSteps(); !slices.Equal(got, want) {
		t.Errorf("voice steps %v, want %v", got, want)
	}
	if i, j := d.indexOf("change interactionDisposed"), d.indexOf("voice "+ana+" idle"); i < 0 || j < i {
		t.Errorf("idle before the disposal was written: %v", d.story())
	}
	if got := d.env.Now().Sub(d.start); got != 70*time.Second {
		t.Errorf("the run ended at %v, want at the disposal", got)
	}
}

// The target of a transfer lets it ring out: it is queued again with both agents
// excluded and offered to whoever else can take it.
func TestLifecycleTransferToAgentRingsOut(t *testing.T) {
	d := newDesk(t, ana, cy)
	d.accept(time.Second, ana)
	d.transfer(10*time.Second, as(ana), "agent", bo, "")
	late := d.accept(10*time.Second+ring+time.Second, bo)
	taken := d.accept(10*time.Second+ring+2*time.Second, cy)
	d.endBy(time.Minute, cy)
	st := d.run()

	wantRefused(t, "accept after the ring", late, workflows.ErrTypeNotYourOffer)
	wantOK(t, "accept by Cy", taken)
	r := d.releases[0]
	if r.AgentID != bo || r.Update.Response == nil || r.Update.Response.Outcome != pgstore.OfferTimeout ||
		!slices.Equal(r.Update.State.ExcludedAgents, []string{ana, bo}) {
		t.Errorf("release %+v", r)
	}
	if d.offerAt[1] != 10*time.Second+ring {
		t.Errorf("offers at %v", d.offerAt)
	}
	if st.AgentID != cy || st.Offers != 3 || st.Transfers != 1 || !slices.Equal(st.ExcludedAgents, []string{ana, bo}) {
		t.Errorf("final %+v", st)
	}
}

// Customer-side signals naming another tenant change nothing; naming none or this
// tenant they count.
func TestLifecycleSignalsOfAnotherTenantIgnored(t *testing.T) {
	d := newDesk(t, ana)
	other := stranger().TenantID
	d.accept(time.Second, ana)
	d.signalAt(5*time.Second, workflows.InboundMessageSignal, workflows.InboundMessageInput{TenantID: other, MessageID: msg1, Body: "hi"})
	d.signalAt(5*time.Second, workflows.ChannelEventSignal, workflows.ChannelEvent{TenantID: other, Type: "typing"})
	d.signalAt(5*time.Second, workflows.HangupSignal, workflows.HangupInput{TenantID: other})
	var still workflows.InteractionState
	d.query(6*time.Second, &still)
	d.signalAt(7*time.Second, workflows.InboundMessageSignal, workflows.InboundMessageInput{TenantID: tenantID, MessageID: msg2, Body: "hello"})
	d.signalAt(8*time.Second, workflows.HangupSignal, workflows.HangupInput{TenantID: tenantID, Reason: "closed the tab"})
	st := d.run()

	if still.Status != pgstore.InteractionConnected || still.Version != 2 {
		t.Errorf("after another tenant's signals %+v", still)
	}
	if len(d.inbound) != 1 || d.inbound[0].MessageID != msg2 {
		t.Errorf("messages kept %+v", d.inbound)
	}
	if st.EndReason != "closed the tab" || !st.EndedAt.Equal(d.start.Add(8*time.Second)) {
		t.Errorf("final %+v", st)
	}
}

// The customer leaves while a transfer to an agent is being made: the interaction
// ends as it is once the handover went through, ringing on the target, whose
// reservation is released (not left to lapse, with the target shown ringing).
func TestLifecycleHangupDuringHandover(t *testing.T) {
	d := newVoiceDesk(t, ana)
	d.accept(time.Second, ana)
	handed := d.transfer(10*time.Second, as(ana), "agent", bo, "")
	d.signalAt(10*time.Second, workflows.HangupSignal, workflows.HangupInput{Reason: "hung up"})
	st := d.run()

	wantOK(t, "transfer", handed)
	if st.Status != pgstore.InteractionAbandoned || st.OfferedAgentID != "" || st.EndReason != "hung up" {
		t.Errorf("final %+v", st)
	}
	want := []string{"handover ana bo", "voice bo ringing", "voice bo idle", "release bo abandoned"}
	if got := d.story(); !subsequence(got, want) {
		t.Errorf("log %v, want in order %v", got, want)
	}
	if len(d.releases) != 1 || d.releases[0].AgentID != bo || d.releases[0].Update.Response == nil ||
		d.releases[0].Update.Response.Outcome != pgstore.OfferReleased {
		t.Errorf("releases %+v", d.releases)
	}
}
