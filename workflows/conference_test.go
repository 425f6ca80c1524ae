package workflows_test

import (
	"testing"
	"time"

	"switchboard/pgstore"
	"switchboard/workflows"
)

// A participant added to a conference may leave by themselves; another agent who is
// not in it may not take them off; a consulted agent of a warm transfer leaves only
// by declining.
func TestConferenceParticipantLeavesThemselves(t *testing.T) {
	d := newDesk(t, ana)
	d.mockConsults()
	d.accept(time.Second, ana)
	d.conference(2*time.Second, as(ana), pgstore.ParticipantAgent, bo, "")
	byCy := d.leave(3*time.Second, as(cy), bo, "")
	self := d.leave(4*time.Second, as(bo), bo, "")
	again := d.leave(5*time.Second, as(bo), bo, "")
	d.warm(6*time.Second, as(ana), cy)
	consulted := d.leave(7*time.Second, as(cy), cy, "")
	consultedBySup := d.leave(7*time.Second, sup(), cy, "")
	var after workflows.InteractionState
	d.query(8*time.Second, &after)
	d.endBy(10*time.Second, ana)
	d.run()

	wantRefused(t, "another agent takes a participant off", byCy, workflows.ErrTypeNotYourInteraction)
	wantOK(t, "the participant leaves", self)
	wantRefused(t, "leaving again, no longer in it", again, workflows.ErrTypeNotYourInteraction)
	wantRefused(t, "the consulted agent leaves the conference", consulted, workflows.ErrTypeNotAllowed)
	wantRefused(t, "a supervisor takes the consulted agent off", consultedBySup, workflows.ErrTypeNotAllowed)
	if len(after.Participants) != 2 || after.Participants[0].UserID != bo || after.Participants[0].LeftAt == nil ||
		after.Participants[1].UserID != cy || after.Participants[1].LeftAt != nil {
		t.Errorf("participants %+v", after.Participants)
	}
}
