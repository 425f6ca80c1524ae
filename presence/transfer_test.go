package presence_test

import (
	"testing"
	"time"

	"switchboard/presence"
	"switchboard/routing"
)

func completeTransfer(t testing.TB, s *presence.Store, from, to, ix, consult string) bool {
	t.Helper()
	ok, err := s.CompleteTransfer(ctxT(t), tenant, from, to, ix, consult)
	if err != nil {
		t.Fatalf("complete the transfer of %s from %s to %s: %v", ix, from, to, err)
	}
	return ok
}

// A warm transfer's consultation is a slot of the target under its own ID; completing
// the transfer turns it into the target's held slot of the interaction and frees the
// source's in one step: the target's occupancy does not change, the source's drops,
// the owner records and the ready index follow. A repeat reports it again.
func TestCompleteTransferSwapsTheSlots(t *testing.T) {
	e := newEnv(t, 0)
	s := e.store
	login(t, s, "ana", available)
	login(t, s, "bo", available)
	hold(t, s, "ana", "ix1", routing.LiveChat)
	if !reserve(t, s, "bo", "consult1", routing.LiveChat, 1, time.Minute) || !confirm(t, s, "bo", "consult1") {
		t.Fatal("setup: Bo could not take the consultation")
	}
	// Bo's capacity of one is used by the consultation: nothing else fits.
	if reserve(t, s, "bo", "ix2", routing.LiveChat, 1, time.Minute) {
		t.Fatal("the consultation did not count toward Bo's capacity")
	}
	if !completeTransfer(t, s, "ana", "bo", "ix1", "consult1") {
		t.Fatal("the transfer was not completed")
	}
	if sl, ok := holderOf(t, s, "ix1"); !ok || sl.Agent != "bo" || !sl.Held || sl.Channel != routing.LiveChat {
		t.Errorf("holder after the transfer %+v %v", sl, ok)
	}
	if _, ok := holderOf(t, s, "consult1"); ok {
		t.Errorf("the consultation slot is still there")
	}
	if o := occupancy(t, s, "ana"); o[routing.LiveChat] != 0 {
		t.Errorf("Ana's occupancy %v, want none", o)
	}
	if o := occupancy(t, s, "bo"); o[routing.LiveChat] != 1 {
		t.Errorf("Bo's occupancy %v, want the transferred chat only", o)
	}
	w := look(t, s)
	if len(w.slots) != 1 || w.slots[0].Agent != "bo" || w.slots[0].Interaction != "ix1" {
		t.Errorf("slots %+v", w.slots)
	}
	if a, ok := readyAgent(w, "ana"); !ok || a.Load.Occupancy()[routing.LiveChat] != 0 {
		t.Errorf("Ana in the ready index %+v %v", a, ok)
	}
	if !completeTransfer(t, s, "ana", "bo", "ix1", "consult1") {
		t.Errorf("a repeat of the completed transfer was refused")
	}
	if release(t, s, "ana", "ix1") {
		t.Errorf("Ana released a slot she transferred")
	}
	if !release(t, s, "bo", "ix1") {
		t.Errorf("Bo could not release the transferred chat")
	}
	look(t, s)
}

// Nothing changes when the source no longer holds the interaction or the target no
// longer holds the consultation (declined, lapsed, released).
func TestCompleteTransferRefusals(t *testing.T) {
	e := newEnv(t, 0)
	s := e.store
	login(t, s, "ana", available)
	login(t, s, "bo", available)
	login(t, s, "cy", available)
	hold(t, s, "ana", "ix1", routing.Voice)
	// Bo's consultation only reserved, never answered.
	if !reserve(t, s, "bo", "consult1", routing.Voice, 1, time.Minute) {
		t.Fatal("setup: no consultation")
	}
	before := look(t, s)
	if completeTransfer(t, s, "ana", "bo", "ix1", "consult1") {
		t.Errorf("completed with an unanswered consultation")
	}
	if completeTransfer(t, s, "cy", "bo", "ix1", "consult1") {
		t.Errorf("completed from an agent who does not hold the interaction")
	}
	if completeTransfer(t, s, "ana", "cy", "ix1", "consult1") {
		t.Errorf("completed to an agent who does not hold the consultation")
	}
	if after := look(t, s); len(after.slots) != len(before.slots) {
		t.Errorf("a refused completion changed the slots: %+v, before %+v", after.slots, before.slots)
	}
	if !confirm(t, s, "bo", "consult1") || !release(t, s, "bo", "consult1") {
		t.Fatal("setup: Bo could not answer and then drop the consultation")
	}
	if completeTransfer(t, s, "ana", "bo", "ix1", "consult1") {
		t.Errorf("completed with a released consultation")
	}
	if sl, ok := holderOf(t, s, "ix1"); !ok || sl.Agent != "ana" || !sl.Held {
		t.Errorf("Ana lost the interaction: %+v %v", sl, ok)
	}
	if _, err := s.CompleteTransfer(ctxT(t), tenant, "ana", "bo", "", "consult1"); err == nil {
		t.Errorf("an empty interaction ID was accepted")
	}
}
