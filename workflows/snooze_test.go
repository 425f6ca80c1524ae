package workflows_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"switchboard/events"
	"switchboard/pgstore"
	"switchboard/workflows"
)

func (d *desk) snooze(at time.Duration, a workflows.Actor, until time.Duration) *outcome {
	return d.snoozeAt(at, a, d.start.Add(until))
}

func (d *desk) snoozeAt(at time.Duration, a workflows.Actor, until time.Time) *outcome {
	return d.update(at, workflows.SnoozeUpdate, workflows.SnoozeInput{Actor: a, Until: until})
}

func (d *desk) unsnooze(at time.Duration, a workflows.Actor) *outcome {
	return d.update(at, workflows.UnsnoozeUpdate, workflows.UnsnoozeInput{Actor: a})
}

// statusChanges lists the conversation status changes written, as
// "from>to reason @offset" (the reason only when the snooze ended).
func (d *desk) statusChanges() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for _, c := range d.changes {
		for _, e := range c.Update.Events {
			if e.Type != events.ConversationStatusChanged {
				continue
			}
			s := fmt.Sprintf("%v>%v", e.Data["from"], e.Data["to"])
			if r, ok := e.Data["reason"]; ok {
				s += fmt.Sprintf(" %v", r)
			}
			out = append(out, s+" @"+e.At.Sub(d.start).String())
		}
	}
	return out
}

// snoozed requires the state read at some point to be snoozed until the offset.
func (d *desk) wantSnoozed(t *testing.T, what string, st workflows.InteractionState, until time.Duration) {
	t.Helper()
	if st.ConversationStatus != pgstore.ConversationSnoozed || st.SnoozedUntil == nil || !st.SnoozedUntil.Equal(d.start.Add(until)) {
		t.Errorf("%s: conversation %q until %v, want snoozed until +%v", what, st.ConversationStatus, st.SnoozedUntil, until)
	}
}

func wantOpen(t *testing.T, what string, st workflows.InteractionState) {
	t.Helper()
	if st.ConversationStatus != pgstore.ConversationOpen || st.SnoozedUntil != nil {
		t.Errorf("%s: conversation %q until %v, want open", what, st.ConversationStatus, st.SnoozedUntil)
	}
}

// A snoozed chat stays snoozed until its time, then opens by itself exactly then,
// with its timeline entry and event; the update answers the snoozed state.
func TestSnoozeOpensAtItsTime(t *testing.T) {
	d := newDesk(t, ana)
	d.accept(time.Second, ana)
	snoozed := d.snooze(5*time.Second, as(ana), time.Hour)
	var before, after workflows.InteractionState
	d.query(59*time.Minute, &before)
	d.query(time.Hour+time.Second, &after)
	d.endBy(2*time.Hour, ana)
	st := d.run()

	wantOK(t, "snooze", snoozed)
	if snoozed.state != nil {
		d.wantSnoozed(t, "the snooze's answer", *snoozed.state, time.Hour)
	}
	d.wantSnoozed(t, "a minute before its time", before, time.Hour)
	wantOpen(t, "a second after its time", after)
	want := []string{"open>snoozed @5s", "snoozed>open snoozeExpired @1h0m0s"}
	if got := d.statusChanges(); !slices.Equal(got, want) {
		t.Errorf("status changes %v, want %v", got, want)
	}
	for _, c := range d.changes {
		e := c.Update.Events[0]
		if e.Type != events.ConversationStatusChanged {
			continue
		}
		if len(c.Publish) != 1 || c.Publish[0].Type != events.ConversationStatusChanged || c.Publish[0].Detail["to"] != e.Data["to"] {
			t.Errorf("%v published %+v", e.Data, c.Publish)
		}
		if e.Data["snoozedUntil"] != d.start.Add(time.Hour).Format(time.RFC3339Nano) {
			t.Errorf("entry %v does not name the snooze's time", e.Data)
		}
	}
	if opened := d.changes[1].Update; opened.State.ConversationStatus != pgstore.ConversationOpen || opened.State.SnoozedUntil != nil ||
		opened.Events[0].ActorID != "" {
		t.Errorf("opening wrote %+v by %q", opened.State, opened.Events[0].ActorID)
	}
	if st.ConversationStatus != pgstore.ConversationClosed || st.SnoozedUntil != nil || st.ReopenCount != 0 {
		t.Errorf("final %+v", st)
	}
	d.checkVersions(t)
}

// An unsnooze opens the conversation at once and its timer stands down: nothing
// happens at the snooze's time. A conversation that is not snoozed is not unsnoozed.
func TestUnsnoozeEarly(t *testing.T) {
	d := newDesk(t, ana)
	d.accept(time.Second, ana)
	notSnoozed := d.unsnooze(2*time.Second, as(ana))
	d.snooze(5*time.Second, as(ana), time.Hour)
	byBo := d.unsnooze(10*time.Minute, as(bo))
	unsnoozed := d.unsnooze(10*time.Minute, sup())
	again := d.unsnooze(11*time.Minute, as(ana))
	var later workflows.InteractionState
	d.query(90*time.Minute, &later)
	d.endBy(2*time.Hour, ana)
	d.run()

	wantRefused(t, "unsnooze of an open conversation", notSnoozed, workflows.ErrTypeNotAllowed)
	wantRefused(t, "unsnooze by another agent", byBo, workflows.ErrTypeNotYourInteraction)
	wantOK(t, "unsnooze by a supervisor", unsnoozed)
	if unsnoozed.state != nil {
		wantOpen(t, "the unsnooze's answer", *unsnoozed.state)
	}
	wantRefused(t, "a second unsnooze", again, workflows.ErrTypeNotAllowed)
	wantOpen(t, "past the snooze's time", later)
	want := []string{"open>snoozed @5s", "snoozed>open unsnoozed @10m0s"}
	if got := d.statusChanges(); !slices.Equal(got, want) {
		t.Errorf("status changes %v, want %v", got, want)
	}
	if e := d.changes[1].Update.Events[0]; e.ActorID != supID {
		t.Errorf("unsnooze entry by %q, want the supervisor", e.ActorID)
	}
	d.checkVersions(t)
}

// The customer's message opens a snoozed conversation: the message and the status
// change are written together, and the snooze's timer stands down.
func TestSnoozeOpenedByCustomerMessage(t *testing.T) {
	d := newDesk(t, ana)
	d.accept(time.Second, ana)
	d.snooze(5*time.Second, as(ana), time.Hour)
	d.signalAt(20*time.Minute, workflows.InboundMessageSignal, workflows.InboundMessageInput{MessageID: msg1, Body: "Any news?"})
	var after, later workflows.InteractionState
	d.query(21*time.Minute, &after)
	d.query(90*time.Minute, &later)
	d.endBy(2*time.Hour, ana)
	d.run()

	wantOpen(t, "after the message", after)
	wantOpen(t, "past the snooze's time", later)
	want := []string{"open>snoozed @5s", "snoozed>open customerMessage @20m0s"}
	if got := d.statusChanges(); !slices.Equal(got, want) {
		t.Errorf("status changes %v, want %v", got, want)
	}
	c := d.changes[1]
	types := []string{}
	for _, e := range c.Update.Events {
		types = append(types, e.Type)
	}
	pubs := []string{}
	for _, p := range c.Publish {
		pubs = append(pubs, p.Type)
	}
	if !slices.Equal(types, []string{"messageReceived", events.ConversationStatusChanged}) ||
		!slices.Equal(pubs, []string{events.MessageReceived, events.ConversationStatusChanged}) {
		t.Errorf("the message's change wrote %v and published %v", types, pubs)
	}
	if c.Update.Events[1].Data["messageId"] != msg1 || c.Update.State.ConversationStatus != pgstore.ConversationOpen {
		t.Errorf("the message's change %+v", c.Update)
	}
	d.checkVersions(t)
}

// A snooze of a snoozed conversation moves its time, later or earlier: it opens at
// the last time set, once.
func TestResnoozeMovesTheTime(t *testing.T) {
	d := newDesk(t, ana)
	d.accept(time.Second, ana)
	d.snooze(5*time.Second, as(ana), time.Hour)
	later := d.snooze(30*time.Minute, as(ana), 3*time.Hour)
	var at2h workflows.InteractionState
	d.query(2*time.Hour, &at2h)
	d.snooze(3*time.Hour+10*time.Minute, as(ana), 5*time.Hour)
	earlier := d.snooze(3*time.Hour+20*time.Minute, sup(), 3*time.Hour+30*time.Minute)
	var at4h workflows.InteractionState
	d.query(4*time.Hour, &at4h)
	d.endBy(6*time.Hour, ana)
	d.run()

	wantOK(t, "snooze to a later time", later)
	wantOK(t, "snooze to an earlier time", earlier)
	d.wantSnoozed(t, "past the first time", at2h, 3*time.Hour)
	wantOpen(t, "after the earlier time", at4h)
	want := []string{"open>snoozed @5s", "snoozed>snoozed @30m0s", "snoozed>open snoozeExpired @3h0m0s",
		"open>snoozed @3h10m0s", "snoozed>snoozed @3h20m0s", "snoozed>open snoozeExpired @3h30m0s"}
	if got := d.statusChanges(); !slices.Equal(got, want) {
		t.Errorf("status changes %v, want %v", got, want)
	}
	if e := d.changes[1].Update.Events[0]; e.Data["previousSnoozedUntil"] != d.start.Add(time.Hour).Format(time.RFC3339Nano) {
		t.Errorf("re-snooze entry %v", e.Data)
	}
	d.checkVersions(t)
}

// Closing a snoozed conversation ends it; the snooze's time passes without a trace.
// Another status given to a snoozed conversation ends the snooze too.
func TestCloseWhileSnoozed(t *testing.T) {
	d := newDesk(t, ana)
	d.accept(time.Second, ana)
	d.snooze(5*time.Second, as(ana), 30*time.Minute)
	solved := d.conversation(time.Minute, as(ana), pgstore.ConversationSolved)
	var afterSolved workflows.InteractionState
	d.query(40*time.Minute, &afterSolved)
	d.snooze(41*time.Minute, as(ana), 2*time.Hour)
	closed := d.conversation(50*time.Minute, as(ana), pgstore.ConversationClosed)
	st := d.run()

	wantOK(t, "solved while snoozed", solved)
	if afterSolved.ConversationStatus != pgstore.ConversationSolved || afterSolved.SnoozedUntil != nil {
		t.Errorf("past the first snooze's time: %q until %v", afterSolved.ConversationStatus, afterSolved.SnoozedUntil)
	}
	wantOK(t, "closed while snoozed", closed)
	if s := closed.state; s == nil || s.Status != pgstore.InteractionEnded || s.ConversationStatus != pgstore.ConversationClosed || s.SnoozedUntil != nil {
		t.Errorf("close answered %+v", closed.state)
	}
	want := []string{"open>snoozed @5s", "snoozed>solved @1m0s", "solved>snoozed @41m0s"}
	if got := d.statusChanges(); !slices.Equal(got, want) {
		t.Errorf("status changes %v, want %v", got, want)
	}
	if r := d.releases[len(d.releases)-1].Update.State; r.ConversationStatus != pgstore.ConversationClosed || r.SnoozedUntil != nil {
		t.Errorf("end wrote %q until %v", r.ConversationStatus, r.SnoozedUntil)
	}
	if st.Status != pgstore.InteractionDisposed || st.SnoozedUntil != nil {
		t.Errorf("final %+v", st)
	}
	d.checkVersions(t)
}

// The customer leaving a snoozed conversation ends it; nothing opens it afterwards.
func TestHangupWhileSnoozed(t *testing.T) {
	d := newDesk(t, ana)
	d.campaignWrap = 0
	d.accept(time.Second, ana)
	d.snooze(5*time.Second, as(ana), 30*time.Minute)
	d.signalAt(10*time.Minute, workflows.HangupSignal, workflows.HangupInput{Reason: "visitor left"})
	d.dispose(time.Hour, as(ana), "Closed", "Resolved")
	st := d.run()
	if got := d.statusChanges(); !slices.Equal(got, []string{"open>snoozed @5s"}) {
		t.Errorf("status changes %v", got)
	}
	if st.ConversationStatus != pgstore.ConversationClosed || st.SnoozedUntil != nil || st.EndReason != "visitor left" {
		t.Errorf("final %+v", st)
	}
}

// Snoozes refused: a call, an interaction nobody holds yet, another agent's or
// tenant's, a time missing, past or too far ahead, an ending conversation; the
// snoozed status cannot be set as a plain status. Nothing is written for them.
func TestSnoozeRefusals(t *testing.T) {
	d := newDesk(t, ana)
	queued := d.snooze(0, sup(), time.Hour)
	d.accept(time.Second, ana)
	byBo := d.snooze(5*time.Second, as(bo), time.Hour)
	stranger := d.snooze(5*time.Second, stranger(), time.Hour)
	noTime := d.snoozeAt(5*time.Second, as(ana), time.Time{})
	past := d.snooze(5*time.Second, as(ana), 4*time.Second)
	now := d.snooze(5*time.Second, as(ana), 5*time.Second)
	tooFar := d.snooze(5*time.Second, as(ana), 5*time.Second+workflows.MaxSnooze+time.Hour)
	asStatus := d.conversation(5*time.Second, as(ana), pgstore.ConversationSnoozed)
	farthest := d.snooze(6*time.Second, as(ana), 6*time.Second+workflows.MaxSnooze)
	d.endBy(time.Minute, ana)
	afterEnd := d.snooze(2*time.Minute, sup(), time.Hour)
	unsnoozeAfterEnd := d.unsnooze(2*time.Minute, sup())
	st := d.run()

	wantRefused(t, "snooze while queued", queued, workflows.ErrTypeNotAllowed)
	wantRefused(t, "another agent's", byBo, workflows.ErrTypeNotYourInteraction)
	wantRefused(t, "another tenant's", stranger, workflows.ErrTypeInteractionNotFound)
	wantField(t, "no time", noTime, workflows.ErrTypeInvalidAction, "until")
	wantField(t, "a past time", past, workflows.ErrTypeInvalidAction, "until")
	wantField(t, "now", now, workflows.ErrTypeInvalidAction, "until")
	wantField(t, "past the bound", tooFar, workflows.ErrTypeInvalidAction, "until")
	wantField(t, "snoozed as a plain status", asStatus, workflows.ErrTypeInvalidAction, "status")
	wantOK(t, "at the bound", farthest)
	wantRefused(t, "after the end", afterEnd, workflows.ErrTypeNotAllowed)
	wantRefused(t, "unsnooze after the end", unsnoozeAfterEnd, workflows.ErrTypeNotAllowed)
	if got := d.statusChanges(); len(got) != 1 {
		t.Errorf("status changes %v, want only the snooze at the bound", got)
	}
	if st.SnoozedUntil != nil || st.ConversationStatus != pgstore.ConversationClosed {
		t.Errorf("final %+v", st)
	}

	v := newVoiceDesk(t, ana)
	v.accept(time.Second, ana)
	call := v.snooze(5*time.Second, as(ana), time.Hour)
	callUnsnooze := v.unsnooze(5*time.Second, as(ana))
	v.endBy(10*time.Second, ana)
	v.run()
	wantRefused(t, "a call", call, workflows.ErrTypeNotAllowed)
	wantRefused(t, "unsnooze of a call", callUnsnooze, workflows.ErrTypeNotAllowed)
	if got := v.statusChanges(); len(got) != 0 {
		t.Errorf("a call's status changes %v", got)
	}
}
