package workflows_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"

	"switchboard/activities"
	"switchboard/pgstore"
	"switchboard/workflows"
)

// consults mocks the activities of a warm transfer's consultation and records what
// they were asked, as "reserve bo", "confirm bo", "release bo", "complete ana bo".
// lapse makes the confirmation report a lapsed reservation; refuse makes the
// reservation fail.
type consults struct {
	reqs    []activities.ConsultRequest
	refuse  bool
	lapse   bool
	lost    bool
	updates []pgstore.InteractionUpdate
}

func (d *desk) mockConsults() *consults {
	c := &consults{}
	var a *activities.Activities
	record := func(kind string, in activities.ConsultRequest) {
		d.mu.Lock()
		defer d.mu.Unlock()
		c.reqs = append(c.reqs, in)
		if in.Update != nil {
			c.updates = append(c.updates, *in.Update)
		}
		d.log = append(d.log, kind+" "+in.AgentID)
	}
	d.env.OnActivity(a.ReserveConsultation, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.ConsultRequest) (activities.ConsultResult, error) {
		if c.refuse {
			return activities.ConsultResult{}, nil
		}
		record("reserve", in)
		return activities.ConsultResult{OK: true, RingUntil: d.env.Now().Add(ring)}, nil
	})
	d.env.OnActivity(a.ConfirmConsultation, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.ConsultRequest) (activities.ConsultResult, error) {
		if c.lapse {
			return activities.ConsultResult{}, nil
		}
		record("confirm", in)
		return activities.ConsultResult{OK: true}, nil
	})
	d.env.OnActivity(a.ReleaseConsultation, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.ConsultRequest) error {
		record("release", in)
		return nil
	})
	d.env.OnActivity(a.CompleteTransfer, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.CompleteTransferRequest) (bool, error) {
		d.mu.Lock()
		defer d.mu.Unlock()
		if c.lost {
			return false, nil
		}
		c.updates = append(c.updates, in.Update)
		d.log = append(d.log, "complete "+in.FromAgentID+" "+in.ToAgentID)
		return true, nil
	})
	return c
}

func (d *desk) warm(at time.Duration, a workflows.Actor, agent string) *outcome {
	return d.update(at, workflows.TransferUpdate, workflows.TransferInput{Actor: a, Mode: "warm",
		Target: workflows.TransferTarget{Kind: "agent", ID: agent}})
}

func (d *desk) complete(at time.Duration, a workflows.Actor) *outcome {
	return d.update(at, workflows.CompleteTransferUpdate, workflows.HoldInput{Actor: a})
}

func (d *desk) cancelTransfer(at time.Duration, a workflows.Actor) *outcome {
	return d.update(at, workflows.CancelTransferUpdate, workflows.HoldInput{Actor: a})
}

// A warm transfer: the customer waits on hold while Bo is consulted; Bo accepts;
// completing hands the interaction to Bo, off hold; Ana lets go.
func TestWarmTransferCompleted(t *testing.T) {
	d := newDesk(t, ana)
	c := d.mockConsults()
	d.accept(time.Second, ana)
	start := d.warm(5*time.Second, as(ana), bo)
	early := d.complete(6*time.Second, as(ana))
	cold := d.transfer(6*time.Second, as(ana), "queue", salesQueue, "")
	again := d.warm(6*time.Second, as(ana), cy)
	byCy := d.accept(7*time.Second, cy)
	answer := d.accept(8*time.Second, bo)
	byBo := d.complete(9*time.Second, as(bo))
	done := d.complete(10*time.Second, as(ana))
	var consulting, after workflows.InteractionState
	d.query(7*time.Second, &consulting)
	d.query(11*time.Second, &after)
	boEnds := d.endBy(20*time.Second, bo)
	d.dispose(21*time.Second, as(bo), "Closed", "Resolved")
	st := d.run()

	wantOK(t, "warm transfer", start)
	wantRefused(t, "complete before the answer", early, workflows.ErrTypeNotAllowed)
	wantRefused(t, "cold transfer during the consultation", cold, workflows.ErrTypeNotAllowed)
	wantRefused(t, "a second warm transfer", again, workflows.ErrTypeNotAllowed)
	wantRefused(t, "accept by an agent not consulted", byCy, workflows.ErrTypeOfferNotOpen)
	wantOK(t, "Bo answers", answer)
	wantRefused(t, "complete by the consulted agent", byBo, workflows.ErrTypeNotYourInteraction)
	wantOK(t, "complete", done)
	wantOK(t, "Bo ends", boEnds)
	if consulting.Status != pgstore.InteractionOnHold || consulting.AgentID != ana || len(consulting.Participants) != 1 ||
		!consulting.Participants[0].Consultation || consulting.Participants[0].UserID != bo {
		t.Errorf("while consulting %+v", consulting)
	}
	if after.Status != pgstore.InteractionConnected || after.AgentID != bo || !after.Transferred || after.Transfers != 1 ||
		after.HeldAt != nil || after.Holds != 1 || after.Participants[0].LeftAt == nil {
		t.Errorf("after the transfer %+v", after)
	}
	if st.Status != pgstore.InteractionDisposed || st.AgentID != bo {
		t.Errorf("final %+v", st)
	}
	want := []string{"reserve " + bo, "confirm " + bo, "complete " + ana + " " + bo, "release " + bo + " ended"}
	if !subsequence(d.log, want) || slices.Contains(d.log, "release "+bo) {
		t.Errorf("log %v, want %v in order and no consultation released", d.log, want)
	}
	var types []string
	for _, u := range c.updates {
		types = append(types, u.Events[0].Type)
	}
	if !slices.Equal(types, []string{"consultationStarted", "consultationConnected", "interactionTransferred"}) {
		t.Errorf("consultation timeline %v", types)
	}
}

// A consultation ends without a transfer when the consulted agent declines, lets it
// ring out, or the first agent cancels; the first agent keeps the interaction on
// hold; an end meanwhile frees the consulted agent's slot.
func TestWarmTransferNotCompleted(t *testing.T) {
	cases := []struct {
		name   string
		act    func(d *desk) *outcome
		reason string
	}{
		{"declined", func(d *desk) *outcome { return d.reject(7*time.Second, bo) }, "busy"},
		{"rung out", func(d *desk) *outcome { return nil }, "no answer"},
		{"cancelled", func(d *desk) *outcome { return d.cancelTransfer(7*time.Second, as(ana)) }, "cancelled"},
		{"ended", func(d *desk) *outcome { return d.endBy(7*time.Second, ana) }, "the interaction ended"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := newDesk(t, ana)
			c := d.mockConsults()
			d.accept(time.Second, ana)
			wantOKLater := d.warm(5*time.Second, as(ana), bo)
			o := tc.act(d)
			var after workflows.InteractionState
			d.query(40*time.Second, &after)
			late := d.accept(41*time.Second, bo)
			if tc.name != "ended" {
				d.endBy(50*time.Second, ana)
			}
			st := d.run()
			wantOK(t, "warm transfer", wantOKLater)
			if o != nil {
				wantOK(t, tc.name, o)
			}
			if tc.name != "ended" {
				wantRefused(t, "accept after the consultation", late, workflows.ErrTypeOfferNotOpen)
				if after.Status != pgstore.InteractionOnHold || after.AgentID != ana || after.Transferred || after.Participants[0].LeftAt == nil {
					t.Errorf("after %s: %+v", tc.name, after)
				}
			}
			if st.AgentID != ana || st.Transferred {
				t.Errorf("final %+v", st)
			}
			released := 0
			for _, r := range c.reqs {
				if r.Update != nil && r.Update.Events[0].Type == "consultationEnded" {
					released++
					if got := r.Update.Events[0].Data["reason"]; got != tc.reason {
						t.Errorf("reason %v, want %q", got, tc.reason)
					}
				}
			}
			if released != 1 {
				t.Errorf("consultation released %d times: %v", released, d.log)
			}
		})
	}
}

// The consulted agent who cannot take the interaction now is refused at once; a
// consultation that lapsed before the answer, or was lost before the completion,
// ends with the first agent keeping the interaction.
func TestWarmTransferRefusals(t *testing.T) {
	t.Run("unavailable", func(t *testing.T) {
		d := newDesk(t, ana)
		c := d.mockConsults()
		c.refuse = true
		d.accept(time.Second, ana)
		o := d.warm(5*time.Second, as(ana), bo)
		var after workflows.InteractionState
		d.query(6*time.Second, &after)
		d.endBy(10*time.Second, ana)
		d.run()
		wantRefused(t, "unavailable agent", o, workflows.ErrTypeTargetUnavailable)
		if after.Status != pgstore.InteractionConnected || len(after.Participants) != 0 {
			t.Errorf("after the refusal %+v", after)
		}
	})
	t.Run("lapsed", func(t *testing.T) {
		d := newDesk(t, ana)
		c := d.mockConsults()
		c.lapse = true
		d.accept(time.Second, ana)
		d.warm(5*time.Second, as(ana), bo)
		o := d.accept(6*time.Second, bo)
		d.endBy(10*time.Second, ana)
		st := d.run()
		wantRefused(t, "lapsed consultation", o, workflows.ErrTypeOfferNotOpen)
		if st.AgentID != ana || !slices.Contains(d.log, "release "+bo) {
			t.Errorf("final %+v, log %v", st, d.log)
		}
	})
	t.Run("lost", func(t *testing.T) {
		d := newDesk(t, ana)
		c := d.mockConsults()
		c.lost = true
		d.accept(time.Second, ana)
		d.warm(5*time.Second, as(ana), bo)
		d.accept(6*time.Second, bo)
		o := d.complete(7*time.Second, as(ana))
		d.endBy(10*time.Second, ana)
		st := d.run()
		wantRefused(t, "lost consultation", o, workflows.ErrTypeNotAllowed)
		if st.AgentID != ana || st.Transferred || !slices.Contains(d.log, "release "+bo) {
			t.Errorf("final %+v, log %v", st, d.log)
		}
	})
}
