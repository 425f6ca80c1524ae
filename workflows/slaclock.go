package workflows

import (
	"slices"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"switchboard/activities"
	"switchboard/hours"
	"switchboard/pgstore"
	"switchboard/routing"
	"switchboard/sla"
)

// SLAClockPrefix starts the ID of every SLA clock workflow.
const SLAClockPrefix = "sla/"

// SLAClockWorkflowID names the SLA clock of one conversation.
func SLAClockWorkflowID(interactionID string) string { return SLAClockPrefix + interactionID }

// Signals and query of the SLA clock workflow.
const (
	// SLAEventSignal is an event of the conversation (SLAEventInput), sent by its
	// interaction workflow.
	SLAEventSignal = "sla-event"
	// SLARecalculateSignal tells the clock the tenant's policies changed
	// (activities.SLARecalculation): it matches again and recalculates.
	SLARecalculateSignal = "sla-recalculate"
	// SLAClockQuery answers the SLAClockState.
	SLAClockQuery = "state"
)

// maxSLAClockRounds bounds the evaluations of one run before it continues as new.
const maxSLAClockRounds = 500

// slaDueMargin is how long after a clock's due instant it is evaluated: a reply at
// the due instant itself is in time, so the breach is seen just after it.
const slaDueMargin = time.Millisecond

// SLAEventInput is one event of a conversation as its interaction tells its clock.
type SLAEventInput struct {
	// Seq numbers the interaction's events to its clock: events of one instant
	// are taken in Seq order, whatever order the signals arrive in.
	Seq int64     `json:"seq"`
	At  time.Time `json:"at"`
	// Kind, Automated and Status are the sla.Event; Kind is empty for a queue
	// change only.
	Kind      sla.Kind   `json:"kind,omitempty"`
	Automated bool       `json:"automated,omitempty"`
	Status    sla.Status `json:"status,omitempty"`
	// QueueID is set when the conversation moved to this queue.
	QueueID string `json:"queueId,omitempty"`
}

// SLAClockInput starts the SLA clock of a conversation at its customer's first
// message.
type SLAClockInput struct {
	TenantID      string `json:"tenantId"`
	InteractionID string `json:"interactionId"`
	// QueueID is the conversation's queue when the clock started.
	QueueID string `json:"queueId"`
	// Facts are what policy conditions test.
	Facts     routing.Facts `json:"facts"`
	StartedAt time.Time     `json:"startedAt"`
	// Events are the conversation's events so far, the customer's first message
	// among them.
	Events []SLAEventInput `json:"events"`
	// Carried is the state a run hands to the next one (continue-as-new).
	Carried *SLAClockCarry `json:"carried,omitempty"`
}

// SLAClockCarry is what a run of the clock hands to the next.
type SLAClockCarry struct {
	Match *activities.SLAMatchResult `json:"match,omitempty"`
	// MatchedQueue is the queue the match was made for.
	MatchedQueue string `json:"matchedQueue"`
	// Writes counts the read-model writes so far.
	Writes int64 `json:"writes"`
	// Wanted is the newest policy generation the clock was told of.
	Wanted int64 `json:"wanted"`
}

// SLAClockState is the query's answer.
type SLAClockState struct {
	TenantID      string `json:"tenantId"`
	InteractionID string `json:"interactionId"`
	QueueID       string `json:"queueId"`
	// Match is the policy and severity followed; nil when none applies.
	Match      *pgstore.SLAMatch `json:"match,omitempty"`
	Generation int64             `json:"generation"`
	Open       bool              `json:"open"`
	// Result is the clocks as last evaluated.
	Result sla.Result `json:"result"`
	// NextWake is when the clock evaluates next by itself (a due instant or a
	// working-hours edge); nil when only an event can change it.
	NextWake *time.Time `json:"nextWake,omitempty"`
	Events   int        `json:"events"`
}

// SLAClock is the SLA clock of one conversation, a child of its interaction
// workflow (which outlives the interaction's own continue-as-new). It starts at the
// customer's first message and matches the tenant's SLA policies (the first enabled
// one, valid at that instant, whose queue scope and condition fit); the policy's
// default severity gives the targets. The interaction tells it every customer
// message, agent reply (automated ones flagged), status change (Solved pauses,
// closing stops) and queue change (SLAEventSignal). After each event it evaluates the
// clocks over the whole history with the pure sla package, writes the read model and
// the breach records (publishing slaBreached events), and sleeps on one durable timer
// until the next due instant or, when the severity counts working hours only, the
// queue's next opening or closing. A queue change, or a change of the tenant's
// policies (SLARecalculateSignal, or a newer policy generation seen at a write),
// matches again and recalculates the whole history under the new policy: breaches
// that no longer hold are withdrawn. It ends with the conversation's close.
func SLAClock(ctx workflow.Context, in SLAClockInput) (*SLAClockState, error) {
	if in.TenantID == "" || in.InteractionID == "" || in.QueueID == "" || in.StartedAt.IsZero() {
		return nil, temporal.NewNonRetryableApplicationError("an SLA clock needs a tenant, an interaction, a queue and its start", "InvalidInput", nil)
	}
	c := &slaClock{in: in, events: slices.Clone(in.Events), queue: in.QueueID, open: true}
	if k := in.Carried; k != nil {
		c.match, c.matchedQueue, c.writes, c.wanted = k.Match, k.MatchedQueue, k.Writes, k.Wanted
	}
	c.sortEvents()
	if err := workflow.SetQueryHandler(ctx, SLAClockQuery, c.state); err != nil {
		return nil, err
	}
	return c.run(ctx)
}

type slaClock struct {
	in     SLAClockInput
	events []SLAEventInput
	// queue is the conversation's queue by its latest queue change.
	queue string
	// match is the policy found for matchedQueue.
	match        *activities.SLAMatchResult
	matchedQueue string
	// cal is the calendar of match.Period.
	cal    *hours.Calendar
	calFor *hours.Period
	// wanted is the newest policy generation the clock knows of.
	wanted int64
	writes int64
	open   bool
	// solved: the conversation is Solved now (every clock on hold).
	solved   bool
	result   sla.Result
	nextWake *time.Time
}

func (c *slaClock) state() (SLAClockState, error) {
	st := SLAClockState{TenantID: c.in.TenantID, InteractionID: c.in.InteractionID, QueueID: c.queue, Open: c.open,
		Result: c.result, NextWake: c.nextWake, Events: len(c.events)}
	if c.match != nil {
		st.Match, st.Generation = c.match.Match, c.match.Generation
	}
	return st, nil
}

func (c *slaClock) run(ctx workflow.Context) (*SLAClockState, error) {
	eventsCh := workflow.GetSignalChannel(ctx, SLAEventSignal)
	recalcCh := workflow.GetSignalChannel(ctx, SLARecalculateSignal)
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute},
	})
	var a *activities.Activities
	drain := func() {
		for {
			var e SLAEventInput
			if !eventsCh.ReceiveAsync(&e) {
				break
			}
			c.events = append(c.events, e)
		}
		for {
			var r activities.SLARecalculation
			if !recalcCh.ReceiveAsync(&r) {
				break
			}
			c.wanted = max(c.wanted, r.Generation)
		}
		c.sortEvents()
	}
	for round := 0; ; round++ {
		drain()
		if c.match == nil || c.matchedQueue != c.queue || c.wanted > c.match.Generation {
			var m activities.SLAMatchResult
			err := workflow.ExecuteActivity(actx, a.MatchSLA, activities.SLAMatchRequest{
				TenantID: c.in.TenantID, InteractionID: c.in.InteractionID, QueueID: c.queue, Facts: c.in.Facts, At: c.in.StartedAt,
			}).Get(ctx, &m)
			if err != nil {
				return nil, err
			}
			if c.match != nil && c.matchedQueue != c.queue {
				if err := workflow.UpsertTypedSearchAttributes(ctx, QueueIDKey.ValueSet(c.queue)); err != nil {
					workflow.GetLogger(ctx).Warn("search attributes not set", "error", err)
				}
			}
			c.match, c.matchedQueue = &m, c.queue
			c.wanted = max(c.wanted, m.Generation)
		}
		now := workflow.Now(ctx)
		res, err := c.evaluate(now)
		if err != nil {
			return nil, temporal.NewNonRetryableApplicationError("the SLA clock cannot be evaluated: "+err.Error(), "InvalidClock", nil)
		}
		c.result = res
		c.writes++
		var rec activities.SLARecordResult
		if err := workflow.ExecuteActivity(actx, a.RecordSLAClock, c.record()).Get(ctx, &rec); err != nil {
			return nil, err
		}
		if rec.Generation > c.match.Generation {
			// The policies changed and the recalculation's signal may not have
			// come (yet): match again now.
			c.wanted = max(c.wanted, rec.Generation)
			if c.open {
				continue
			}
		}
		if !c.open {
			c.nextWake = nil
			return &SLAClockState{TenantID: c.in.TenantID, InteractionID: c.in.InteractionID, QueueID: c.queue,
				Match: c.match.Match, Generation: c.match.Generation, Result: c.result, Events: len(c.events)}, nil
		}
		if (round >= maxSLAClockRounds || workflow.GetInfo(ctx).GetContinueAsNewSuggested()) && eventsCh.Len() == 0 && recalcCh.Len() == 0 {
			next := c.in
			next.QueueID, next.Events = c.queue, c.events
			next.Carried = &SLAClockCarry{Match: c.match, MatchedQueue: c.matchedQueue, Writes: c.writes, Wanted: c.wanted}
			return nil, workflow.NewContinueAsNewError(ctx, SLAClock, next)
		}
		c.nextWake = c.wake(now)
		sel := workflow.NewSelector(ctx)
		sel.AddReceive(eventsCh, func(workflow.ReceiveChannel, bool) {})
		sel.AddReceive(recalcCh, func(workflow.ReceiveChannel, bool) {})
		tctx, cancel := workflow.WithCancel(ctx)
		if c.nextWake != nil {
			sel.AddFuture(workflow.NewTimer(tctx, max(c.nextWake.Sub(now), time.Millisecond)), func(workflow.Future) {})
		}
		sel.Select(ctx)
		cancel()
	}
}

// sortEvents orders the events by instant, then by the interaction's numbering.
func (c *slaClock) sortEvents() {
	slices.SortStableFunc(c.events, func(a, b SLAEventInput) int {
		if n := a.At.Compare(b.At); n != 0 {
			return n
		}
		return int(a.Seq - b.Seq)
	})
	c.queue, c.solved = c.in.QueueID, false
	for _, e := range c.events {
		if e.QueueID != "" {
			c.queue = e.QueueID
		}
		if e.Kind == sla.StatusChange {
			c.solved = e.Status == sla.Solved
		}
		if e.Kind == sla.StatusChange && e.Status == sla.Closed {
			c.open = false
		}
	}
}

// evaluate computes the clocks at now over the whole history under the current
// match: the history is short, and a recalculation is the same computation.
func (c *slaClock) evaluate(now time.Time) (sla.Result, error) {
	at := now
	if n := len(c.events); n > 0 && c.events[n-1].At.After(at) {
		at = c.events[n-1].At // an event stamped by a clock a little ahead
	}
	if c.match == nil || c.match.Match == nil {
		return sla.Result{At: at, Clocks: []sla.Clock{}, Breaches: []sla.Breach{}}, nil
	}
	if c.match.Period != c.calFor {
		c.cal, c.calFor = nil, c.match.Period
		if p := c.match.Period; p != nil {
			cal, err := hours.New(*p)
			if err != nil {
				return sla.Result{}, err
			}
			c.cal = cal
		}
	}
	t := sla.NewTracker(sla.Config{Severity: c.match.Match.Severity, Calendar: c.cal, ExcludeAutomated: c.match.Match.ExcludeAutomated})
	for _, e := range c.events {
		if e.Kind == "" {
			continue
		}
		if err := t.Add(sla.Event{At: e.At, Kind: e.Kind, Automated: e.Automated, Status: e.Status}); err != nil {
			return sla.Result{}, err
		}
	}
	return t.At(at)
}

// wake is when the clock must evaluate by itself: the first due instant of a clock
// that counts and is not breached yet and, when the severity counts working hours
// only and a clock is active, the queue's next opening or closing (so the read model
// shows it running or on hold). Nil when only an event can change anything.
func (c *slaClock) wake(now time.Time) *time.Time {
	var next *time.Time
	consider := func(t time.Time) {
		if !t.After(now) {
			t = now
		}
		if next == nil || t.Before(*next) {
			next = &t
		}
	}
	active := false
	for _, k := range c.result.Clocks {
		if k.State != sla.Running && !(k.State == sla.Paused && !k.DueAt.IsZero()) {
			continue
		}
		active = true
		if !k.Breached && !k.DueAt.IsZero() {
			consider(k.DueAt.Add(slaDueMargin))
		}
	}
	if active && !c.solved && c.cal != nil && c.match.Match.Severity.Counting == sla.WorkingHours {
		var edge time.Time
		var ok bool
		if c.cal.Open(now) {
			edge, ok = c.cal.NextClosing(now)
		} else {
			edge, ok = c.cal.NextOpening(now)
		}
		if ok {
			consider(edge)
		}
	}
	return next
}

func (c *slaClock) record() pgstore.SLAClockRecord {
	r := pgstore.SLAClockRecord{
		TenantID: c.in.TenantID, InteractionID: c.in.InteractionID, QueueID: c.queue,
		StartedAt: c.in.StartedAt, Open: c.open, Result: c.result, Seq: c.writes,
	}
	if c.match != nil {
		r.Match, r.Generation = c.match.Match, c.match.Generation
	}
	return r
}
