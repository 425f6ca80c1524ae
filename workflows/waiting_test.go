package workflows_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/workflow"

	"switchboard/pgstore"
	"switchboard/workflows"
)

// waitingDesk is a desk whose conversation's sender has the waiting strategy s.
func waitingDesk(t *testing.T, s pgstore.WaitingStrategySettings, ready ...string) *desk {
	d := newDesk(t, ready...)
	d.input.Waiting = &s
	return d
}

// sent lists the messages sent as "kind@offset" (the offset in minutes and seconds
// from the start), checking that each has the strategy's ID and is the system's.
func (d *desk) sent(t *testing.T) []string {
	t.Helper()
	var out []string
	seen := map[string]bool{}
	ann := 0
	for _, m := range d.messages {
		kind := "?"
		switch m.MessageID {
		case workflows.WaitingMessageID(interactionID, workflows.WaitingWelcome, 1):
			kind = "welcome"
		case workflows.WaitingMessageID(interactionID, workflows.WaitingMaxWait, 1):
			kind = "maxWait"
		case workflows.WaitingMessageID(interactionID, workflows.WaitingAnnouncement, ann+1):
			ann++
			kind = "announcement"
		case workflows.AwayMessageID(interactionID):
			kind = "away"
		}
		if seen[m.MessageID] || m.SenderKind != pgstore.SenderSystem || m.InteractionID != interactionID {
			t.Errorf("message %+v: repeated or not the system's", m)
		}
		seen[m.MessageID] = true
		out = append(out, kind+"@"+m.CreatedAt.Sub(d.start).String())
	}
	return out
}

func announcements(from, every time.Duration, n int) []string {
	var out []string
	for k := range n {
		out = append(out, "announcement@"+(from+time.Duration(k)*every).String())
	}
	return out
}

var (
	welcomeOnly = pgstore.WaitingStrategySettings{WelcomeEnabled: true, WelcomeMessage: "Hello, an agent will be with you shortly."}
	everyMinute = pgstore.WaitingStrategySettings{WelcomeEnabled: true, WelcomeMessage: "Hello!",
		AnnouncementEnabled: true, AnnouncementMessage: "Still looking for an agent.", AnnouncementIntervalMinutes: 1}
)

// With announcements every minute, 60 of them (the most validation admits) go out
// after the welcome, then the conversation stays open and hears nothing more.
func TestWaitingSixtyAnnouncementsThenSilence(t *testing.T) {
	for _, count := range []int{60, 0} {
		s := everyMinute
		s.AnnouncementCount = count
		d := waitingDesk(t, s)
		d.end(90 * time.Minute)
		st := d.run()
		want := append([]string{"welcome@0s"}, announcements(time.Minute, time.Minute, 60)...)
		if got := d.sent(t); !slices.Equal(got, want) {
			t.Errorf("count %d: sent %d messages %v, want %d", count, len(got), got, len(want))
		}
		if st.EndReason != "customer hung up" || st.Status != pgstore.InteractionAbandoned {
			t.Errorf("count %d: final state %s %q: it stays open until it ends", count, st.Status, st.EndReason)
		}
		d.checkVersions(t)
	}
	// A count below the hour's stops there.
	s := everyMinute
	s.AnnouncementCount = 3
	d := waitingDesk(t, s)
	d.end(30 * time.Minute)
	d.run()
	if got, want := d.sent(t), append([]string{"welcome@0s"}, announcements(time.Minute, time.Minute, 3)...); !slices.Equal(got, want) {
		t.Errorf("count 3: sent %v, want %v", got, want)
	}
}

// Without a maximum wait, announcements stop after an hour even when the interval
// does not divide it; the conversation stays open, silent.
func TestWaitingSilentAfterAnHour(t *testing.T) {
	d := waitingDesk(t, pgstore.WaitingStrategySettings{AnnouncementEnabled: true, AnnouncementMessage: "Please hold on.", AnnouncementIntervalMinutes: 7})
	d.end(95 * time.Minute)
	st := d.run()
	if got, want := d.sent(t), announcements(7*time.Minute, 7*time.Minute, 8); !slices.Equal(got, want) {
		t.Errorf("sent %v, want %v", got, want)
	}
	if st.EndReason != "customer hung up" {
		t.Errorf("ended %q: it stays open after the hour", st.EndReason)
	}
	for _, c := range d.changes {
		for _, e := range c.Update.Events {
			if e.Type == "messageSent" && e.Data["waitingStrategy"] != workflows.WaitingAnnouncement {
				t.Errorf("timeline entry %+v", e)
			}
		}
	}
}

// The maximum wait sends its message and closes the conversation: abandoned, closed,
// never offered again; it wins a tie with an announcement.
func TestWaitingMaxWaitCloses(t *testing.T) {
	for _, tc := range []struct {
		name     string
		interval int
		max      int
		want     []string
	}{
		{"after announcements", 5, 12, []string{"welcome@0s", "announcement@5m0s", "announcement@10m0s", "maxWait@12m0s"}},
		{"a tie with an announcement", 5, 10, []string{"welcome@0s", "announcement@5m0s", "maxWait@10m0s"}},
		{"an hour", 1, 60, append(append([]string{"welcome@0s"}, announcements(time.Minute, time.Minute, 59)...), "maxWait@1h0m0s")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := everyMinute
			s.AnnouncementIntervalMinutes = tc.interval
			s.MaxWaitEnabled, s.MaxWaitMessage, s.MaxWaitMinutes = true, "Nobody is free now; write to us tomorrow.", tc.max
			d := waitingDesk(t, s)
			st := d.run()
			if got := d.sent(t); !slices.Equal(got, tc.want) {
				t.Errorf("sent %v, want %v", got, tc.want)
			}
			last := d.messages[len(d.messages)-1]
			if last.Body != s.MaxWaitMessage {
				t.Errorf("last message %q", last.Body)
			}
			if st.Status != pgstore.InteractionAbandoned || st.ConversationStatus != pgstore.ConversationClosed ||
				st.EndReason != workflows.MaxWaitReason || st.Outcome != pgstore.OutcomeAbandoned || st.EndedAt == nil ||
				st.EndedAt.Sub(d.start) != time.Duration(tc.max)*time.Minute {
				t.Errorf("final state %s/%s %q %s at %v", st.Status, st.ConversationStatus, st.EndReason, st.Outcome, st.EndedAt)
			}
		})
	}
}

// A maximum wait while the conversation rings on an agent who has not accepted yet
// withdraws the offer and closes it.
func TestWaitingMaxWaitWhileRinging(t *testing.T) {
	d := waitingDesk(t, pgstore.WaitingStrategySettings{MaxWaitEnabled: true, MaxWaitMessage: "Sorry.", MaxWaitMinutes: 1})
	d.env.RegisterDelayedCallback(func() {
		d.mu.Lock()
		d.ready = []string{ana}
		d.mu.Unlock()
		d.env.SignalWorkflow(workflows.AgentAvailableSignal, workflows.AgentAvailable{AgentID: ana})
	}, 50*time.Second)
	late := d.accept(65*time.Second, ana)
	st := d.run()
	if got := d.sent(t); !slices.Equal(got, []string{"maxWait@1m0s"}) {
		t.Errorf("sent %v", got)
	}
	if st.Status != pgstore.InteractionAbandoned || st.EndReason != workflows.MaxWaitReason || st.AgentID != "" ||
		st.ConversationStatus != pgstore.ConversationClosed {
		t.Errorf("final state %s/%s %q agent %q", st.Status, st.ConversationStatus, st.EndReason, st.AgentID)
	}
	if late.done && late.err == nil {
		t.Errorf("an accept after the close went through")
	}
}

// The welcome goes once, when automatic assignment has nobody left to offer the
// conversation to, and never again.
func TestWaitingWelcomeOnce(t *testing.T) {
	d := waitingDesk(t, welcomeOnly, ana, bo, cy)
	d.end(30 * time.Minute)
	d.run()
	if got := d.sent(t); !slices.Equal(got, []string{"welcome@1m0s"}) {
		t.Errorf("sent %v", got)
	}
	rung := 0
	for _, l := range d.log {
		if strings.HasPrefix(l, "offer ") {
			rung++
		}
	}
	if rung != 3 {
		t.Errorf("%d offers, want three rung out", rung)
	}
	if d.messages[0].Body != welcomeOnly.WelcomeMessage {
		t.Errorf("welcome %q", d.messages[0].Body)
	}
}

// The strategy ends for good when an agent accepts: not even a transfer back to the
// queue starts it again.
func TestWaitingStopsWhenAssigned(t *testing.T) {
	d := waitingDesk(t, everyMinute)
	d.env.RegisterDelayedCallback(func() {
		d.mu.Lock()
		d.ready = []string{ana}
		d.mu.Unlock()
		d.env.SignalWorkflow(workflows.AgentAvailableSignal, workflows.AgentAvailable{AgentID: ana})
	}, 3*time.Minute+30*time.Second)
	wantOKLater := d.accept(3*time.Minute+40*time.Second, ana)
	d.endBy(40*time.Minute, ana)
	st := d.run()
	wantOK(t, "accept", wantOKLater)
	if got, want := d.sent(t), append([]string{"welcome@0s"}, announcements(time.Minute, time.Minute, 3)...); !slices.Equal(got, want) {
		t.Errorf("sent %v, want %v", got, want)
	}
	if st.EndReason != "done" || st.AgentID != ana {
		t.Errorf("final state %s %q", st.Status, st.AgentID)
	}
}

// A conversation that came while its queue was outside working hours gets the away
// message and nothing of the waiting strategy, even once the queue opens.
func TestWaitingNotOutsideHours(t *testing.T) {
	for _, close := range []bool{true, false} {
		d, _ := awayDesk(t, &workflows.OutsideHours{PeriodID: periodID, AwayMessage: "We are closed.", Close: close})
		s := everyMinute
		s.MaxWaitEnabled, s.MaxWaitMessage, s.MaxWaitMinutes = true, "Bye.", 30
		d.input.Waiting = &s
		if !close {
			d.end(90 * time.Minute)
		}
		st := d.run()
		if got := d.sent(t); !slices.Equal(got, []string{"away@0s"}) {
			t.Errorf("close %v: sent %v, want the away message only", close, got)
		}
		if st.EndReason == workflows.MaxWaitReason {
			t.Errorf("close %v: closed by the maximum wait", close)
		}
	}
}

// A long wait continues as new with the strategy's progress: the next run neither
// welcomes again nor repeats an announcement, and goes on where the last one was.
func TestWaitingCarriedAcrossContinueAsNew(t *testing.T) {
	d := waitingDesk(t, everyMinute)
	d.env.ExecuteWorkflow(workflows.Interaction, d.input)
	var can *workflow.ContinueAsNewError
	if err := d.env.GetWorkflowError(); !errors.As(err, &can) {
		t.Fatalf("workflow error %v, want a continue-as-new after its rounds", err)
	}
	var next workflows.InteractionInput
	if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &next); err != nil {
		t.Fatal(err)
	}
	if c := next.Carried; c == nil || c.Waiting == nil || !c.Waiting.Over || !c.Waiting.Welcomed || c.Waiting.Announced != 60 ||
		next.Waiting == nil || *next.Waiting != everyMinute {
		t.Fatalf("carried %+v", next.Carried)
	}
	if got := len(d.messages); got != 61 {
		t.Errorf("first run sent %d messages", got)
	}

	// A run that takes over halfway through the hour sends the rest only.
	d2 := waitingDesk(t, everyMinute)
	next.Carried.Waiting = &workflows.WaitingProgress{Since: d2.start.Add(-30 * time.Minute), Welcomed: true, Announced: 30}
	d2.input = next
	d2.end(45 * time.Minute)
	d2.run()
	var got []string
	for i, m := range d2.messages {
		if m.MessageID != workflows.WaitingMessageID(interactionID, workflows.WaitingAnnouncement, 31+i) {
			t.Errorf("message %d is %s", i, m.MessageID)
		}
		got = append(got, "announcement@"+m.CreatedAt.Sub(d2.start).String())
	}
	if want := announcements(time.Minute, time.Minute, 30); !slices.Equal(got, want) {
		t.Errorf("second run sent %v, want %v", got, want)
	}
}

// A conversation an available agent accepts when it is first offered is never left
// unassigned: it hears nothing of the strategy.
func TestWaitingNothingWhenAcceptedAtOnce(t *testing.T) {
	s := everyMinute
	s.MaxWaitEnabled, s.MaxWaitMessage, s.MaxWaitMinutes = true, "Bye.", 2
	d := waitingDesk(t, s, ana)
	wantOKLater := d.accept(5*time.Second, ana)
	d.endBy(10*time.Minute, ana)
	st := d.run()
	wantOK(t, "accept", wantOKLater)
	if len(d.messages) != 0 || st.EndReason != "done" {
		t.Errorf("sent %v, ended %q", d.sent(t), st.EndReason)
	}
}
