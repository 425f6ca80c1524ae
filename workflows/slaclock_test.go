package workflows_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"switchboard/activities"
	"switchboard/hours"
	"switchboard/pgstore"
	"switchboard/sla"
	"switchboard/workflows"
)

// slaStore stands for PostgreSQL behind the SLA clock's activities: the tenant's
// policy generation, the policy each queue matches (a missing queue matches none),
// the working hours of each queue, and every record the clock wrote.
type slaStore struct {
	mu      sync.Mutex
	env     *testsuite.TestWorkflowEnvironment
	gen     int64
	byQueue map[string]*pgstore.SLAMatch
	periods map[string]*hours.Period
	matches []activities.SLAMatchRequest
	records []pgstore.SLAClockRecord
	// at are the instants of the records.
	at []time.Time
}

// mock registers the clock workflow and mocks its activities in env.
func (s *slaStore) mock(env *testsuite.TestWorkflowEnvironment) {
	s.env = env
	if s.byQueue == nil {
		s.byQueue, s.periods = map[string]*pgstore.SLAMatch{}, map[string]*hours.Period{}
	}
	env.RegisterWorkflow(workflows.SLAClock)
	var a *activities.Activities
	env.OnActivity(a.MatchSLA, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.SLAMatchRequest) (activities.SLAMatchResult, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.matches = append(s.matches, in)
		out := activities.SLAMatchResult{Generation: s.gen, Period: s.periods[in.QueueID]}
		if m := s.byQueue[in.QueueID]; m != nil {
			c := *m
			out.Match = &c
		}
		return out, nil
	})
	env.OnActivity(a.RecordSLAClock, mock.Anything, mock.Anything).Return(func(_ context.Context, r pgstore.SLAClockRecord) (activities.SLARecordResult, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if n := len(s.records); n > 0 && s.records[n-1].Seq >= r.Seq {
			return activities.SLARecordResult{Generation: s.gen}, nil
		}
		s.records = append(s.records, r)
		s.at = append(s.at, env.Now())
		return activities.SLARecordResult{Applied: true, Generation: s.gen}, nil
	})
}

// last is the latest record.
func (s *slaStore) last(t *testing.T) pgstore.SLAClockRecord {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.records) == 0 {
		t.Fatal("the clock wrote nothing")
	}
	return s.records[len(s.records)-1]
}

// breaches lists a record's breaches as "metric#cycle@offset".
func breaches(r pgstore.SLAClockRecord, start time.Time) []string {
	out := []string{}
	for _, b := range r.Result.Breaches {
		out = append(out, fmt.Sprintf("%s#%d@%s", b.Metric, b.Cycle, b.At.Sub(start)))
	}
	return out
}

// clocks lists a record's clocks as "metric state".
func clocks(r pgstore.SLAClockRecord) []string {
	out := []string{}
	for _, c := range r.Result.Clocks {
		out = append(out, string(c.Metric)+" "+string(c.State))
	}
	return out
}

// history lists every record as "offset: clocks | breaches".
func (s *slaStore) history(start time.Time) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for i, r := range s.records {
		line := fmt.Sprintf("%s: %s", s.at[i].Sub(start), strings.Join(clocks(r), ", "))
		if b := breaches(r, start); len(b) > 0 {
			line += " | " + strings.Join(b, ", ")
		}
		if !r.Open {
			line += " | closed"
		}
		out = append(out, line)
	}
	return out
}

const (
	slaQueueA  = "6f1c2c3e-0000-4000-8000-0000000005a1"
	slaQueueB  = "6f1c2c3e-0000-4000-8000-0000000005b1"
	goldPolicy = "6f1c2c3e-0000-4000-8000-0000000005c1"
	silver     = "6f1c2c3e-0000-4000-8000-0000000005c2"
)

func slaMatch(policy string, first, next, resolution time.Duration, counting sla.Counting) *pgstore.SLAMatch {
	return &pgstore.SLAMatch{PolicyID: policy, PolicyName: "P " + policy[len(policy)-2:], Severity: sla.Severity{
		Name: "Default", Default: true, FirstResponseSeconds: int(first / time.Second), NextReplySeconds: int(next / time.Second),
		ResolutionSeconds: int(resolution / time.Second), Counting: counting,
	}}
}

// clockRun drives one SLA clock workflow on its own, started at start by the
// customer's first message in queue A.
type clockRun struct {
	t     *testing.T
	env   *testsuite.TestWorkflowEnvironment
	store *slaStore
	start time.Time
	seq   int64
}

func newClockRun(t *testing.T, start time.Time) *clockRun {
	var suite testsuite.WorkflowTestSuite
	c := &clockRun{t: t, env: suite.NewTestWorkflowEnvironment(), store: &slaStore{gen: 1}, start: start}
	c.env.SetStartTime(start)
	c.env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: workflows.SLAClockWorkflowID(interactionID)})
	c.store.mock(c.env)
	c.env.OnUpsertTypedSearchAttributes(mock.Anything).Return(nil)
	return c
}

// event signals e at offset at (its instant is the offset's).
func (c *clockRun) event(at time.Duration, e workflows.SLAEventInput) {
	c.seq++
	e.Seq, e.At = c.seq+1, c.start.Add(at)
	c.env.RegisterDelayedCallback(func() { c.env.SignalWorkflow(workflows.SLAEventSignal, e) }, at)
}

func (c *clockRun) customer(at time.Duration) {
	c.event(at, workflows.SLAEventInput{Kind: sla.CustomerMessage})
}
func (c *clockRun) reply(at time.Duration, automated bool) {
	c.event(at, workflows.SLAEventInput{Kind: sla.AgentReply, Automated: automated})
}
func (c *clockRun) status(at time.Duration, s sla.Status) {
	c.event(at, workflows.SLAEventInput{Kind: sla.StatusChange, Status: s})
}
func (c *clockRun) queue(at time.Duration, q string) {
	c.event(at, workflows.SLAEventInput{QueueID: q})
}

// policiesChanged tells the clock at offset at that the policies reached gen, after
// edit changed what the store matches.
func (c *clockRun) policiesChanged(at time.Duration, gen int64, edit func(s *slaStore)) {
	c.env.RegisterDelayedCallback(func() {
		c.store.mu.Lock()
		c.store.gen = gen
		edit(c.store)
		c.store.mu.Unlock()
		c.env.SignalWorkflow(workflows.SLARecalculateSignal, activities.SLARecalculation{Generation: gen})
	}, at)
}

// state queries the clock at offset at.
func (c *clockRun) state(at time.Duration, st *workflows.SLAClockState) {
	c.env.RegisterDelayedCallback(func() {
		v, err := c.env.QueryWorkflow(workflows.SLAClockQuery)
		if err == nil {
			err = v.Get(st)
		}
		if err != nil {
			c.t.Error(err)
		}
	}, at)
}

func (c *clockRun) run() workflows.SLAClockState {
	c.t.Helper()
	c.env.ExecuteWorkflow(workflows.SLAClock, workflows.SLAClockInput{
		TenantID: tenantID, InteractionID: interactionID, QueueID: slaQueueA, StartedAt: c.start,
		Events: []workflows.SLAEventInput{{Seq: 1, At: c.start, Kind: sla.CustomerMessage}},
	})
	if !c.env.IsWorkflowCompleted() {
		c.t.Fatal("clock did not complete")
	}
	if err := c.env.GetWorkflowError(); err != nil {
		c.t.Fatalf("clock error: %v", err)
	}
	var st workflows.SLAClockState
	if err := c.env.GetWorkflowResult(&st); err != nil {
		c.t.Fatal(err)
	}
	return st
}

func wantLines(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s:\n got  %q\n want %q", what, got, want)
	}
}

// A first response that never comes breaches at its due instant, on the clock's own
// timer; the close stops every clock at once and ends the workflow.
func TestSLAClockBreachesThenCloseStops(t *testing.T) {
	m := time.Minute
	c := newClockRun(t, time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC))
	c.store.byQueue[slaQueueA] = slaMatch(goldPolicy, 5*m, 0, 60*m, sla.Always)
	c.customer(2 * m)
	c.status(10*m, sla.Closed)
	st := c.run()
	wantLines(t, "records", c.store.history(c.start), []string{
		"0s: firstResponse running, resolution running",
		"2m0s: firstResponse running, resolution running",
		"5m0.001s: firstResponse running, resolution running | firstResponse#1@5m0s",
		"10m0s: firstResponse stopped, resolution stopped | firstResponse#1@5m0s | closed",
	})
	if st.Open || len(c.store.matches) != 1 || c.store.matches[0].At != c.start {
		t.Errorf("final %+v, matches %+v", st, c.store.matches)
	}
	if got := c.env.Now().Sub(c.start); got != 10*m {
		t.Errorf("ended at %s: no timer outlives the close", got)
	}
}

// Solved pauses every clock (and meets resolution) with no timer armed; reopening
// resumes resolution where it stopped, and it breaches once its remaining time has
// passed; a reply meets the first response before its due.
func TestSLAClockSolvedPausesAndReopeningResumes(t *testing.T) {
	m := time.Minute
	c := newClockRun(t, time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC))
	c.store.byQueue[slaQueueA] = slaMatch(goldPolicy, 10*m, 0, 30*m, sla.Always)
	c.reply(2*m, false)
	c.status(10*m, sla.Solved)
	var paused workflows.SLAClockState
	c.state(40*m, &paused)
	c.status(70*m, sla.Open)
	c.status(200*m, sla.Closed)
	c.run()
	wantLines(t, "records", c.store.history(c.start), []string{
		"0s: firstResponse running, resolution running",
		"2m0s: firstResponse met, resolution running",
		"10m0s: firstResponse met, resolution met",
		"1h10m0s: firstResponse met, resolution running",
		// 10 minutes counted before Solved, 20 after reopening.
		"1h30m0.001s: firstResponse met, resolution running | resolution#1@1h30m0s",
		"3h20m0s: firstResponse met, resolution stopped | resolution#1@1h30m0s | closed",
	})
	if paused.NextWake != nil {
		t.Errorf("a timer while Solved: %v", paused.NextWake)
	}
}

// With working hours only, the clocks run Friday 15:50–16:00 in Zagreb, are on hold
// over the weekend (the clock wakes only at the closing and the opening to show it),
// and resume Monday 08:00: a 30-minute first response breaches Monday at 08:20.
// Solved on Monday pauses it again across the next closing.
func TestSLAClockWorkingHoursPauseAndResume(t *testing.T) {
	m := time.Minute
	friday := time.Date(2026, 6, 5, 13, 50, 0, 0, time.UTC) // 15:50 in Zagreb
	c := newClockRun(t, friday)
	c.store.byQueue[slaQueueA] = slaMatch(goldPolicy, 30*m, 0, 8*60*m, sla.WorkingHours)
	c.store.periods[slaQueueA] = &hours.Period{TimeZone: "Europe/Zagreb", Days: office()}
	monday := time.Date(2026, 6, 8, 6, 0, 0, 0, time.UTC) // 08:00 in Zagreb
	c.status(monday.Add(60*m).Sub(friday), sla.Solved)
	c.status(monday.Add(10*60*m).Sub(friday), sla.Closed)
	c.run()
	wantLines(t, "records", c.store.history(c.start), []string{
		"0s: firstResponse running, resolution running",
		"10m0s: firstResponse paused, resolution paused",      // Friday 16:00
		"64h10m0s: firstResponse running, resolution running", // Monday 08:00
		"64h30m0.001s: firstResponse running, resolution running | firstResponse#1@64h30m0s",
		"65h10m0s: firstResponse paused, resolution met | firstResponse#1@64h30m0s", // Solved at 09:00
		"74h10m0s: firstResponse stopped, resolution met | firstResponse#1@64h30m0s | closed",
	})
}

func office() hours.Week {
	w := hours.Week{}
	for _, d := range []string{"monday", "tuesday", "wednesday", "thursday", "friday"} {
		w[d] = hours.Day{Enabled: true, Ranges: []hours.Range{{From: "08:00", To: "16:00"}}}
	}
	return w
}

// A queue change to a queue with another policy matches again and recalculates the
// whole history under it: a breach of the stricter policy is withdrawn under the
// laxer one, and a move to a stricter one finds a breach in the past at once.
func TestSLAClockQueueChangeRecalculates(t *testing.T) {
	m := time.Minute
	c := newClockRun(t, time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC))
	c.store.byQueue[slaQueueA] = slaMatch(goldPolicy, 10*m, 0, 0, sla.Always)
	c.store.byQueue[slaQueueB] = slaMatch(silver, 30*m, 0, 0, sla.Always)
	c.queue(15*m, slaQueueB)
	c.queue(40*m, slaQueueA)
	c.status(50*m, sla.Closed)
	c.run()
	wantLines(t, "records", c.store.history(c.start), []string{
		"0s: firstResponse running",
		"10m0.001s: firstResponse running | firstResponse#1@10m0s",
		"15m0s: firstResponse running", // under silver: not breached yet
		"30m0.001s: firstResponse running | firstResponse#1@30m0s",
		"40m0s: firstResponse running | firstResponse#1@10m0s", // gold again: breached at 10m
		"50m0s: firstResponse stopped | firstResponse#1@10m0s | closed",
	})
	var queues []string
	for _, mt := range c.store.matches {
		queues = append(queues, mt.QueueID)
	}
	wantLines(t, "matches", queues, []string{slaQueueA, slaQueueB, slaQueueA})
	if r := c.store.last(t); r.QueueID != slaQueueA || r.Match.PolicyID != goldPolicy {
		t.Errorf("last record %+v", r)
	}
}

// A change of the tenant's policies recalculates an open clock: told by the
// recalculation's signal, or, when that signal does not come, by the newer
// generation its next write reports. Breaches follow the edited targets, and a
// policy that no longer applies leaves the clock without one.
func TestSLAClockPolicyEditRecalculates(t *testing.T) {
	m := time.Minute
	c := newClockRun(t, time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC))
	c.store.byQueue[slaQueueA] = slaMatch(goldPolicy, 10*m, 0, 0, sla.Always)
	// At 5m the first response target drops to 3 minutes: breached 2 minutes ago.
	c.policiesChanged(5*m, 2, func(s *slaStore) { s.byQueue[slaQueueA] = slaMatch(goldPolicy, 3*m, 0, 0, sla.Always) })
	// At 7m the policy is disabled without a signal; the customer writes at 8m.
	c.env.RegisterDelayedCallback(func() {
		c.store.mu.Lock()
		c.store.gen, c.store.byQueue[slaQueueA] = 3, nil
		c.store.mu.Unlock()
	}, 7*m)
	c.customer(8 * m)
	// A stale signal of an older generation changes nothing.
	c.policiesChanged(9*m, 2, func(*slaStore) {})
	c.status(12*m, sla.Closed)
	c.run()
	wantLines(t, "records", c.store.history(c.start), []string{
		"0s: firstResponse running",
		"5m0s: firstResponse running | firstResponse#1@3m0s",
		"8m0s: firstResponse running | firstResponse#1@3m0s", // written under generation 2, told of 3
		"8m0s: ", // matched again: no policy applies
		"9m0s: ",
		"12m0s:  | closed",
	})
	gens := []int64{}
	for _, r := range c.store.records {
		gens = append(gens, r.Generation)
	}
	if !slices.Equal(gens, []int64{1, 2, 2, 3, 3, 3}) {
		t.Errorf("generations %v", gens)
	}
}

// Automated replies meet the first response unless the policy excludes them; next
// reply cycles are numbered, and a late reply in the second one breaches cycle 2.
func TestSLAClockAutomatedRepliesAndNextReply(t *testing.T) {
	m := time.Minute
	for _, exclude := range []bool{false, true} {
		t.Run(fmt.Sprintf("exclude=%v", exclude), func(t *testing.T) {
			c := newClockRun(t, time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC))
			match := slaMatch(goldPolicy, 5*m, 4*m, 0, sla.Always)
			match.ExcludeAutomated = exclude
			c.store.byQueue[slaQueueA] = match
			c.reply(time.Minute, true) // a waiting strategy's welcome
			c.reply(3*m, false)
			c.customer(10 * m)
			c.reply(12*m, false)
			c.customer(20 * m)
			c.reply(30*m, false)
			c.status(31*m, sla.Closed)
			c.run()
			r := c.store.last(t)
			want := []string{"nextReply#2@24m0s"}
			if first, _ := r.Result.Clock(sla.FirstResponse); !exclude && first.MetAt != c.start.Add(time.Minute) ||
				exclude && first.MetAt != c.start.Add(3*m) {
				t.Errorf("first response met at %s", first.MetAt.Sub(c.start))
			}
			wantLines(t, "breaches", breaches(r, c.start), want)
		})
	}
}

// The interaction starts its conversation's clock at the customer's first message
// and tells it every agent reply, status change, queue change and the close; the
// clock outlives nothing of it.
func TestInteractionFeedsItsSLAClock(t *testing.T) {
	m := time.Minute
	d := newDesk(t, ana, bo)
	d.queues()
	d.sla.byQueue[queueID] = slaMatch(goldPolicy, 5*m, 0, 30*m, sla.Always)
	d.sla.byQueue[salesQueue] = slaMatch(silver, 10*m, 0, 30*m, sla.Always)
	d.sla.gen = 1
	d.accept(time.Second, ana)
	d.signalAt(m, workflows.InboundMessageSignal, workflows.InboundMessageInput{MessageID: "6f1c2c3e-0000-4000-8000-000000000601", Body: "Hello"})
	d.send(4*m, as(ana), "6f1c2c3e-0000-4000-8000-000000000602", "Hi, how can I help?")
	d.conversation(6*m, as(ana), pgstore.ConversationSolved)
	d.signalAt(8*m, workflows.InboundMessageSignal, workflows.InboundMessageInput{MessageID: "6f1c2c3e-0000-4000-8000-000000000603", Body: "One more thing"})
	d.changeQueue(9*m, salesQueue, "")
	d.endBy(20*m, ana)
	d.dispose(21*m, as(ana), "Closed", "Resolved")
	d.run()
	var queues []string
	for _, mt := range d.sla.matches {
		queues = append(queues, mt.QueueID)
	}
	wantLines(t, "matched queues", queues, []string{queueID, salesQueue})
	r := d.sla.last(t)
	if r.Open || r.QueueID != salesQueue || r.Match.PolicyID != silver {
		t.Fatalf("last record %+v", r)
	}
	first, _ := r.Result.Clock(sla.FirstResponse)
	res, _ := r.Result.Clock(sla.Resolution)
	// Resolution: 5 minutes to Solved, reopened by the message at 8m, stopped at 20m.
	if first.State != sla.Met || !first.MetAt.Equal(d.start.Add(4*m)) || res.State != sla.Stopped || res.Elapsed != 17*m {
		t.Errorf("first response %+v\nresolution %+v", first, res)
	}
	if len(r.Result.Breaches) != 0 {
		t.Errorf("breaches %+v", r.Result.Breaches)
	}
}

// The recalculation walks the open clocks a page at a time; a change that comes
// during the walk starts it over from the first clock with the newer generation,
// and it ends when a walk finishes with nothing newer waiting.
func TestSLARecalcWalksPagesAndRestartsOnANewerChange(t *testing.T) {
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	var a *activities.Activities
	var pages []string
	open := 250 // clocks
	env.OnActivity(a.SignalSLAClocks, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.SLARecalcPage) (activities.SLARecalcResult, error) {
		from := 0
		if in.After != "" {
			fmt.Sscanf(in.After, "%d", &from)
		}
		to := min(from+in.Limit, open)
		pages = append(pages, fmt.Sprintf("g%d %d-%d", in.Generation, from, to))
		if in.ClockWorkflowPrefix != workflows.SLAClockPrefix || in.Signal != workflows.SLARecalculateSignal {
			t.Errorf("page %+v", in)
		}
		if in.Generation == 2 && from == 100 {
			env.SignalWorkflow(workflows.SLAPoliciesChangedSignal, activities.SLARecalculation{Generation: 3})
		}
		return activities.SLARecalcResult{Last: fmt.Sprintf("%d", to), Signaled: to - from, Done: to == open}, nil
	})
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(workflows.SLAPoliciesChangedSignal, activities.SLARecalculation{Generation: 2})
	}, 0)
	env.ExecuteWorkflow(workflows.SLARecalc, workflows.SLARecalcInput{TenantID: tenantID})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var st workflows.SLARecalcState
	if err := env.GetWorkflowResult(&st); err != nil {
		t.Fatal(err)
	}
	wantLines(t, "pages", pages, []string{"g2 0-100", "g2 100-200", "g3 0-100", "g3 100-200", "g3 200-250"})
	if st.Generation != 3 || st.Clocks != 450 {
		t.Errorf("state %+v", st)
	}
}

// A long conversation's clock continues as new before its history grows large,
// carrying its events, its match and its count of writes.
func TestSLAClockContinuesAsNew(t *testing.T) {
	c := newClockRun(t, time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC))
	c.store.byQueue[slaQueueA] = slaMatch(goldPolicy, 0, time.Hour, 0, sla.Always)
	for i := range 600 {
		if i%2 == 0 {
			c.reply(time.Duration(i+1)*time.Second, false)
		} else {
			c.customer(time.Duration(i+1) * time.Second)
		}
	}
	c.env.ExecuteWorkflow(workflows.SLAClock, workflows.SLAClockInput{
		TenantID: tenantID, InteractionID: interactionID, QueueID: slaQueueA, StartedAt: c.start,
		Events: []workflows.SLAEventInput{{Seq: 1, At: c.start, Kind: sla.CustomerMessage}},
	})
	var cont *workflow.ContinueAsNewError
	if err := c.env.GetWorkflowError(); !errors.As(err, &cont) {
		t.Fatalf("workflow error %v, want continue-as-new", err)
	}
	var next workflows.SLAClockInput
	if err := converter.GetDefaultDataConverter().FromPayloads(cont.Input, &next); err != nil {
		t.Fatal(err)
	}
	k := next.Carried
	if k == nil || k.Match == nil || k.Match.Match.PolicyID != goldPolicy || k.MatchedQueue != slaQueueA || k.Writes != int64(len(c.store.records)) ||
		len(next.Events) != len(c.store.records) || !next.StartedAt.Equal(c.start) {
		t.Errorf("carried %+v with %d events; %d records", k, len(next.Events), len(c.store.records))
	}
	if len(c.store.matches) != 1 {
		t.Errorf("matched %d times", len(c.store.matches))
	}
}
