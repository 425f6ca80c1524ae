package workflows_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"switchboard/activities"
	"switchboard/hours"
	"switchboard/pgstore"
	"switchboard/routing"
	"switchboard/workflows"
)

const periodID = "6f1c2c3e-0000-4000-8000-0000000000b1"

// afterHours records the working-hours activities an interaction run asked for.
type afterHours struct {
	mu      sync.Mutex
	entered []activities.AfterHoursRequest
	checks  []time.Duration
	left    int
	armed   []workflows.QueueHoursInput
	// verdicts are what CheckOpening answers, in order; open once they run out.
	verdicts []activities.OpeningVerdict
}

// mockAfterHours mocks the activities of an interaction outside working hours and
// the queue-hours workflow it starts.
func (d *desk) mockAfterHours() *afterHours {
	h := &afterHours{}
	var a *activities.Activities
	d.env.OnActivity(a.EnterAfterHours, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.AfterHoursRequest) (activities.AfterHoursResult, error) {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.entered = append(h.entered, in)
		d.mu.Lock()
		d.log = append(d.log, "after hours")
		d.mu.Unlock()
		return activities.AfterHoursResult{QueueID: in.Interaction.QueueID, Waiting: in.Wait}, nil
	})
	d.env.OnActivity(a.CheckOpening, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.OpeningRequest) (activities.OpeningVerdict, error) {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.checks = append(h.checks, d.env.Now().Sub(d.start))
		if len(h.verdicts) == 0 {
			return activities.OpeningVerdict{Open: true}, nil
		}
		v := h.verdicts[0]
		h.verdicts = h.verdicts[1:]
		return v, nil
	})
	d.env.OnActivity(a.LeaveOpeningWait, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.OpeningRequest) error {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.left++
		return nil
	})
	d.env.RegisterWorkflow(workflows.QueueHours)
	d.env.OnWorkflow(workflows.QueueHours, mock.Anything, mock.Anything).Return(func(_ workflow.Context, in workflows.QueueHoursInput) (*workflows.QueueHoursState, error) {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.armed = append(h.armed, in)
		return &workflows.QueueHoursState{}, nil
	})
	return h
}

func awayDesk(t *testing.T, oh *workflows.OutsideHours, ready ...string) (*desk, *afterHours) {
	d := newDesk(t, ready...)
	d.input.OutsideHours = oh
	return d, d.mockAfterHours()
}

// A new chat outside the hours of a queue that closes such conversations gets the
// away message once over its channel and is closed at once, never offered.
func TestOutsideHoursAwayMessageAndClose(t *testing.T) {
	d, h := awayDesk(t, &workflows.OutsideHours{PeriodID: periodID, AwayMessage: "We are closed; back at 8.", Close: true}, ana)
	st := d.run()

	if len(d.messages) != 1 {
		t.Fatalf("messages sent %+v, want the away message once", d.messages)
	}
	m := d.messages[0]
	if m.MessageID != workflows.AwayMessageID(interactionID) || m.SenderKind != pgstore.SenderSystem || m.Body != "We are closed; back at 8." ||
		m.InteractionID != interactionID || m.TenantID != tenantID {
		t.Errorf("away message %+v", m)
	}
	if len(h.entered) != 1 || h.entered[0].Wait || h.entered[0].Interaction.ID != interactionID {
		t.Errorf("written %+v, want once, not waiting", h.entered)
	}
	if len(d.offers) != 0 || len(h.armed) != 0 || len(h.checks) != 0 {
		t.Errorf("offers %d, openings armed %d, checks %d: a closed conversation waits for nothing", len(d.offers), len(h.armed), len(h.checks))
	}
	if st.Status != pgstore.InteractionAbandoned || st.ConversationStatus != pgstore.ConversationClosed || st.EndReason != workflows.OutsideHoursReason || st.AgentID != "" {
		t.Errorf("final state %+v", st)
	}
	if got, want := d.timeline(), []string{"messageSent queued"}; !slices.Equal(got, want) {
		t.Errorf("timeline %v, want %v", got, want)
	}
	if len(d.releases) != 1 || d.releases[0].AgentID != "" || d.releases[0].Update.State.Status != pgstore.InteractionAbandoned ||
		len(d.releases[0].Update.Events) != 1 || d.releases[0].Update.Events[0].Type != "interactionEnded" {
		t.Errorf("the end written %+v", d.releases)
	}
	if story := d.story(); !slices.Equal(story[:2], []string{"after hours", "change messageSent queued"}) {
		t.Errorf("story %v: written before the message", story)
	}
}

// A new chat outside the hours of a queue that does not close them gets the away
// message and waits, without offers, until shortly after the opening; then it is
// offered as usual.
func TestOutsideHoursWaitsForTheOpening(t *testing.T) {
	for _, tc := range []struct {
		name string
		// woken: the queue's opening wakes it with Ana's reservation at the opening.
		woken bool
		// reopens: the period changed meanwhile; at its first look the queue is still
		// closed until this long after the start.
		reopens time.Duration
		offerAt time.Duration
		checks  []time.Duration
		left    int
	}{
		{name: "looks by itself after the opening", offerAt: 2*time.Hour + 30*time.Second, checks: []time.Duration{2*time.Hour + 30*time.Second}},
		{name: "woken by the queue's opening", woken: true, offerAt: 2 * time.Hour, left: 1},
		{name: "the period changed: still closed at the first look, it waits for the new opening", reopens: 5 * time.Hour,
			offerAt: 5*time.Hour + 30*time.Second, checks: []time.Duration{2*time.Hour + 30*time.Second, 5*time.Hour + 30*time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDesk(t, ana)
			h := d.mockAfterHours()
			opens := d.start.Add(2 * time.Hour)
			d.input.OutsideHours = &workflows.OutsideHours{PeriodID: periodID, AwayMessage: "Back at 8.", OpensAt: &opens}
			if tc.reopens > 0 {
				h.verdicts = []activities.OpeningVerdict{{OpensAt: ptr(d.start.Add(tc.reopens))}}
			}
			if tc.woken {
				d.signal(2*time.Hour, ana)
			}
			var waiting workflows.InteractionState
			d.env.RegisterDelayedCallback(func() {
				v, err := d.env.QueryWorkflow(workflows.InteractionQuery)
				if err == nil {
					err = v.Get(&waiting)
				}
				if err != nil {
					t.Error(err)
				}
			}, time.Hour)
			accept := d.accept(tc.offerAt+time.Second, ana)
			d.endBy(tc.offerAt+time.Minute, ana)
			st := d.run()

			wantOK(t, "accept after the opening", accept)
			if waiting.Status != pgstore.InteractionQueued || waiting.OfferedAgentID != "" {
				t.Errorf("while closed %+v", waiting)
			}
			if len(d.messages) != 1 || d.messages[0].MessageID != workflows.AwayMessageID(interactionID) {
				t.Errorf("messages %+v, want the away message once", d.messages)
			}
			if len(h.entered) != 1 || !h.entered[0].Wait || h.entered[0].OpensAt == nil || !h.entered[0].OpensAt.Equal(opens) {
				t.Errorf("written %+v", h.entered)
			}
			if len(h.armed) != 1 || h.armed[0].TenantID != tenantID || h.armed[0].QueueID != queueID {
				t.Errorf("openings armed %+v, want the queue's once", h.armed)
			}
			if len(d.offerAt) == 0 || d.offerAt[0] != tc.offerAt {
				t.Fatalf("offered at %v, want first at %v", d.offerAt, tc.offerAt)
			}
			if d.offers[0].Enqueue {
				t.Error("the first offer writes the interaction again")
			}
			if !slices.Equal(h.checks, tc.checks) || h.left != tc.left {
				t.Errorf("checks at %v (want %v), waits left %d (want %d)", h.checks, tc.checks, h.left, tc.left)
			}
			if st.AgentID != ana || st.Status != pgstore.InteractionDisposed {
				t.Errorf("final state %+v", st)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// The customer who leaves while the queue is closed ends the wait at once.
func TestOutsideHoursHangupWhileWaiting(t *testing.T) {
	opens := time.Now().Add(10 * time.Hour)
	d, h := awayDesk(t, &workflows.OutsideHours{PeriodID: periodID, AwayMessage: "Closed.", OpensAt: &opens}, ana)
	d.signalAt(20*time.Minute, workflows.HangupSignal, workflows.HangupInput{Reason: "left"})
	st := d.run()
	if st.Status != pgstore.InteractionAbandoned || st.EndReason != "left" || len(d.offers) != 0 || h.left != 1 || len(h.checks) != 0 {
		t.Errorf("final %+v, offers %d, waits left %d, checks %d", st, len(d.offers), h.left, len(h.checks))
	}
	if d.env.Now().Sub(d.start) > time.Hour {
		t.Errorf("ended %v after the start, not at the hangup", d.env.Now().Sub(d.start))
	}
}

// Only a new inbound conversation gets the away message: not an ongoing one whose
// customer writes after the queue closed, not a call (the media's), not an outbound
// interaction, and not a conversation whose queue was open at its start.
func TestAwayMessageOnlyForNewConversations(t *testing.T) {
	t.Run("an ongoing conversation", func(t *testing.T) {
		d, h := awayDesk(t, nil, ana)
		d.accept(time.Second, ana)
		// Hours later, after the queue closed, the customer writes again.
		d.signalAt(10*time.Hour, workflows.InboundMessageSignal, workflows.InboundMessageInput{MessageID: msg1, Body: "still there?"})
		d.endBy(11*time.Hour, ana)
		d.run()
		if len(d.messages) != 0 || len(h.entered) != 0 || len(d.inbound) != 1 {
			t.Errorf("sent %+v, after-hours writes %d, inbound %d", d.messages, len(h.entered), len(d.inbound))
		}
	})
	for _, tc := range []struct {
		name string
		mod  func(*workflows.InteractionInput)
	}{
		{"a call", func(in *workflows.InteractionInput) { in.Channel, in.Source = routing.Voice, "call" }},
		{"an outbound conversation", func(in *workflows.InteractionInput) { in.Direction, in.AgentID = pgstore.Outbound, ana }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, h := awayDesk(t, &workflows.OutsideHours{PeriodID: periodID, AwayMessage: "Closed.", Close: true}, ana)
			tc.mod(&d.input)
			var a *activities.Activities
			d.env.OnActivity(a.StartOutbound, mock.Anything, mock.Anything).Return(activities.OutboundResult{OK: true, QueueID: queueID}, nil).Maybe()
			d.accept(time.Second, ana)
			d.endBy(time.Minute, ana)
			st := d.run()
			if len(d.messages) != 0 || len(h.entered) != 0 || st.EndReason == workflows.OutsideHoursReason {
				t.Errorf("sent %+v, after-hours writes %d, end %q", d.messages, len(h.entered), st.EndReason)
			}
		})
	}
}

// zagrebOffice is Monday to Friday 08:00–16:00 in Europe/Zagreb.
func zagrebOffice(from string) *hours.Period {
	w := hours.Week{}
	for _, d := range []string{"monday", "tuesday", "wednesday", "thursday", "friday"} {
		w[d] = hours.Day{Enabled: true, Ranges: []hours.Range{{From: from, To: "16:00"}}}
	}
	return &hours.Period{TimeZone: "Europe/Zagreb", Days: w}
}

// clock drives a QueueHours run: GetQueueSchedule answers schedules in turn (the
// queue is gone once they run out) and OpenQueue records when it ran.
type clock struct {
	env       *testsuite.TestWorkflowEnvironment
	mu        sync.Mutex
	schedules []activities.QueueSchedule
	reads     []time.Time
	openings  []time.Time
}

func newClock(t *testing.T, start time.Time, schedules ...activities.QueueSchedule) *clock {
	var suite testsuite.WorkflowTestSuite
	c := &clock{env: suite.NewTestWorkflowEnvironment(), schedules: schedules}
	c.env.SetStartTime(start)
	c.env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: workflows.QueueHoursWorkflowID(tenantID, queueID)})
	var a *activities.Activities
	c.env.OnActivity(a.GetQueueSchedule, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.QueueScheduleRequest) (activities.QueueSchedule, error) {
		c.mu.Lock()
		defer c.mu.Unlock()
		if in.TenantID != tenantID || in.QueueID != queueID {
			t.Errorf("schedule of %+v", in)
		}
		c.reads = append(c.reads, c.env.Now())
		if len(c.schedules) == 0 {
			return activities.QueueSchedule{}, nil
		}
		s := c.schedules[0]
		c.schedules = c.schedules[1:]
		return s, nil
	})
	c.env.OnActivity(a.OpenQueue, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.QueueScheduleRequest) (activities.OpenQueueResult, error) {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.openings = append(c.openings, c.env.Now())
		return activities.OpenQueueResult{Released: 2}, nil
	})
	return c
}

func (c *clock) run(t *testing.T) workflows.QueueHoursState {
	t.Helper()
	c.env.ExecuteWorkflow(workflows.QueueHours, workflows.QueueHoursInput{TenantID: tenantID, QueueID: queueID})
	if !c.env.IsWorkflowCompleted() {
		t.Fatal("queue hours did not complete")
	}
	if err := c.env.GetWorkflowError(); err != nil {
		t.Fatalf("queue hours: %v", err)
	}
	var st workflows.QueueHoursState
	if err := c.env.GetWorkflowResult(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

func utcTimes(ts []time.Time) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.UTC().Format(time.RFC3339)
	}
	return out
}

func TestQueueHours(t *testing.T) {
	office := activities.QueueSchedule{Exists: true, PeriodID: periodID, Period: zagrebOffice("08:00")}
	// Friday 28 March 2025, 20:00 in Zagreb; the clocks go forward on Sunday.
	friday := time.Date(2025, 3, 28, 19, 0, 0, 0, time.UTC)
	t.Run("fires at each opening and re-arms for the next day", func(t *testing.T) {
		c := newClock(t, friday, office, office, office, office)
		var mid workflows.QueueHoursState
		c.env.RegisterDelayedCallback(func() {
			v, err := c.env.QueryWorkflow(workflows.QueueHoursQuery)
			if err == nil {
				err = v.Get(&mid)
			}
			if err != nil {
				t.Error(err)
			}
		}, time.Hour)
		st := c.run(t)
		// Monday to Wednesday at 08:00 summer time; then the queue is gone.
		want := []string{"2025-03-31T06:00:00Z", "2025-04-01T06:00:00Z", "2025-04-02T06:00:00Z"}
		if got := utcTimes(c.openings); !slices.Equal(got, want) {
			t.Errorf("openings %v, want %v", got, want)
		}
		if got := utcTimes(c.reads); len(got) != 5 || got[0] != "2025-03-28T19:00:00Z" || got[4] != "2025-04-03T06:00:00Z" {
			t.Errorf("schedule read at %v", got)
		}
		if mid.Open || mid.NextOpening == nil || !mid.NextOpening.Equal(time.Date(2025, 3, 31, 6, 0, 0, 0, time.UTC)) || mid.PeriodID != periodID {
			t.Errorf("state while closed %+v", mid)
		}
		if st.Openings != 3 {
			t.Errorf("final state %+v", st)
		}
	})
	t.Run("a change of the hours re-arms the timer", func(t *testing.T) {
		later := activities.QueueSchedule{Exists: true, PeriodID: periodID, Period: zagrebOffice("10:00")}
		c := newClock(t, friday, office, later, later)
		c.env.RegisterDelayedCallback(func() { c.env.SignalWorkflow(workflows.QueueHoursChangedSignal, nil) }, 2*time.Hour)
		c.run(t)
		if got := utcTimes(c.openings); !slices.Equal(got, []string{"2025-03-31T08:00:00Z"}) {
			t.Errorf("openings %v, want Monday 10:00 CEST only", got)
		}
		if got := utcTimes(c.reads); len(got) != 4 || got[1] != "2025-03-28T21:00:00Z" {
			t.Errorf("schedule read at %v", got)
		}
	})
	t.Run("started while open: opens at once", func(t *testing.T) {
		monday := time.Date(2025, 3, 31, 9, 0, 0, 0, time.UTC) // 11:00 CEST
		c := newClock(t, monday, office)
		c.run(t)
		if got := utcTimes(c.openings); !slices.Equal(got, []string{"2025-03-31T09:00:00Z"}) {
			t.Errorf("openings %v", got)
		}
	})
	t.Run("no working hours: the queue is open, once, and the workflow ends", func(t *testing.T) {
		c := newClock(t, friday, activities.QueueSchedule{Exists: true})
		st := c.run(t)
		if len(c.openings) != 1 || len(c.reads) != 1 || !st.Open || st.NextOpening != nil {
			t.Errorf("openings %v, reads %v, state %+v", c.openings, c.reads, st)
		}
	})
	t.Run("every day switched off: nothing to wait for", func(t *testing.T) {
		off := activities.QueueSchedule{Exists: true, PeriodID: periodID, Period: &hours.Period{TimeZone: "Europe/Zagreb", Days: hours.Week{}}}
		c := newClock(t, friday, off)
		st := c.run(t)
		if len(c.openings) != 0 || len(c.reads) != 1 || st.Open {
			t.Errorf("openings %v, reads %v, state %+v", c.openings, c.reads, st)
		}
	})
}
