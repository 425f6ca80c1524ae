package sla

import (
	"fmt"
	"slices"
	"time"

	"switchboard/hours"
)

// Metric is one of a severity's measured times.
type Metric string

// Metrics.
const (
	// FirstResponse runs from the start of counting to the first agent reply.
	FirstResponse Metric = "firstResponse"
	// NextReply runs from a customer message that follows an agent reply to the
	// agent's next reply; each such exchange is a new cycle.
	NextReply Metric = "nextReply"
	// Resolution runs from the start of counting until the conversation is
	// solved; reopening resumes it where it stopped.
	Resolution Metric = "resolution"
)

// Metrics lists the metrics in display order.
var Metrics = []Metric{FirstResponse, NextReply, Resolution}

// Kind is the kind of a conversation event.
type Kind string

// Event kinds.
const (
	// CustomerMessage is a message from the end user.
	CustomerMessage Kind = "customerMessage"
	// AgentReply is an outbound message; Automated marks one sent by automation,
	// working hours, a waiting strategy or a chatbot rather than a person.
	AgentReply Kind = "agentReply"
	// StatusChange sets the conversation's Status.
	StatusChange Kind = "statusChange"
	// BotStart is a chatbot taking the conversation.
	BotStart Kind = "botStart"
	// BotHandover is the chatbot handing the conversation over to agents.
	BotHandover Kind = "botHandover"
)

// Status is a conversation status.
type Status string

// Statuses.
const (
	Open    Status = "open"
	Waiting Status = "waiting"
	Solved  Status = "solved"
	Closed  Status = "closed"
)

// Event is one entry of a conversation's history.
type Event struct {
	At        time.Time `json:"at"`
	Kind      Kind      `json:"kind"`
	Automated bool      `json:"automated,omitempty"`
	Status    Status    `json:"status,omitempty"`
}

// Validate checks the event's shape.
func (e Event) Validate() error {
	if e.At.IsZero() {
		return invalid("at", "is required")
	}
	switch e.Kind {
	case CustomerMessage, AgentReply, BotStart, BotHandover:
		if e.Status != "" {
			return invalid("status", "only a status change has a status")
		}
	case StatusChange:
		switch e.Status {
		case Open, Waiting, Solved, Closed:
		default:
			return invalid("status", "unknown status %q", e.Status)
		}
	default:
		return invalid("kind", "unknown event kind %q", e.Kind)
	}
	return nil
}

// State is where a metric's clock stands.
type State string

// States.
const (
	// Pending: not started (no customer message yet, or for next reply no
	// customer message awaiting a reply).
	Pending State = "pending"
	// Running: counting now.
	Running State = "running"
	// Paused: started but on hold (conversation solved, or outside working hours).
	Paused State = "paused"
	// Met: the awaited reply came, or (resolution) the conversation is solved.
	Met State = "met"
	// Stopped: the conversation was closed before the clock was met.
	Stopped State = "stopped"
)

// Clock is one metric's clock at an instant. For next reply it is the latest cycle.
type Clock struct {
	Metric Metric        `json:"metric"`
	State  State         `json:"state"`
	Target time.Duration `json:"target"`
	// Cycle is the next-reply exchange the clock is of (from 1; 0 while none
	// started); 1 for the other metrics once started.
	Cycle int `json:"cycle"`
	// StartedAt is when the clock (or cycle) started; zero while pending.
	StartedAt time.Time `json:"startedAt"`
	// Elapsed is the counted time so far; Remaining is Target minus Elapsed,
	// negative once breached.
	Elapsed   time.Duration `json:"elapsed"`
	Remaining time.Duration `json:"remaining"`
	// DueAt is when the clock reaches its target if nothing else pauses it:
	// set while running or on hold for working hours, and once breached (the
	// breach instant); zero when pending, met, stopped, paused in Solved, or
	// when the working hours never open again.
	DueAt      time.Time `json:"dueAt"`
	Breached   bool      `json:"breached"`
	BreachedAt time.Time `json:"breachedAt"`
	MetAt      time.Time `json:"metAt"`
}

// Breach is one metric reaching its target. Cycle numbers the next-reply
// exchanges from 1 (the first customer message after the first response opens
// cycle 1); first response and resolution have one cycle.
type Breach struct {
	Metric Metric    `json:"metric"`
	Cycle  int       `json:"cycle"`
	At     time.Time `json:"at"`
}

// Result is the SLA of a conversation at an instant: a clock for each metric
// the severity tracks (in Metrics order) and every breach so far, in order.
type Result struct {
	At       time.Time `json:"at"`
	Clocks   []Clock   `json:"clocks"`
	Breaches []Breach  `json:"breaches"`
}

// Clock returns the metric's clock, if the severity tracks it.
func (r Result) Clock(m Metric) (Clock, bool) {
	for _, c := range r.Clocks {
		if c.Metric == m {
			return c, true
		}
	}
	return Clock{}, false
}

// Config is what the clocks of one conversation follow.
type Config struct {
	Severity Severity
	// Calendar is the working hours of the conversation's queue; with
	// WorkingHours counting and no calendar the clocks count always (a queue
	// without working hours is always open).
	Calendar *hours.Calendar
	// ExcludeAutomated ignores automated replies, and while a chatbot has the
	// conversation nothing counts: counting starts at the handover.
	ExcludeAutomated bool
}

// Evaluate is the SLA at instant at of a conversation with this history.
// Events are taken in time order (the given order among equal instants);
// events after at are not yet known and are ignored.
func Evaluate(cfg Config, history []Event, at time.Time) (Result, error) {
	events := slices.Clone(history)
	slices.SortStableFunc(events, func(a, b Event) int { return a.At.Compare(b.At) })
	t := NewTracker(cfg)
	for _, e := range events {
		if e.At.After(at) {
			break
		}
		if err := t.Add(e); err != nil {
			return Result{}, err
		}
	}
	return t.At(at)
}

// meter is one metric's running count.
type meter struct {
	target    time.Duration
	active    bool // started and neither met nor stopped
	started   time.Time
	elapsed   time.Duration
	breachAt  time.Time
	metAt     time.Time
	stopped   bool
	cycleOpen bool // next reply: a customer message awaits a reply
	cycle     int  // the current cycle, from 1
}

// Tracker follows a conversation event by event. Add is incremental; At
// reads the clocks without changing the tracker. A tracker fed a history
// gives the same answers as Evaluate over that history.
type Tracker struct {
	cfg       Config
	now       time.Time // instant the meters are advanced to
	bot       bool      // a chatbot has the conversation (only with ExcludeAutomated)
	waiting   bool      // the customer wrote; counting has not started
	started   bool
	responded bool // the first agent reply came
	solved    bool
	closed    bool
	meters    map[Metric]*meter
	breaches  []Breach
}

// NewTracker starts following a conversation with no events yet.
func NewTracker(cfg Config) *Tracker {
	t := &Tracker{cfg: cfg, meters: map[Metric]*meter{}}
	for _, m := range Metrics {
		if d := cfg.Severity.Target(m); d > 0 {
			t.meters[m] = &meter{target: d}
		}
	}
	return t
}

func (t *Tracker) clone() *Tracker {
	c := *t
	c.meters = make(map[Metric]*meter, len(t.meters))
	for _, k := range Metrics { // in order: workflows replay this
		if v := t.meters[k]; v != nil {
			m := *v
			c.meters[k] = &m
		}
	}
	c.breaches = slices.Clone(t.breaches)
	return &c
}

// Add records the next event; events must come in time order.
func (t *Tracker) Add(e Event) error {
	if err := e.Validate(); err != nil {
		return err
	}
	if !t.now.IsZero() && e.At.Before(t.now) {
		return fmt.Errorf("event at %s is before the previous one at %s", e.At.Format(time.RFC3339Nano), t.now.Format(time.RFC3339Nano))
	}
	t.advance(e.At)
	if t.closed {
		return nil // a closed conversation's SLA is final
	}
	human := !(e.Automated && t.cfg.ExcludeAutomated)
	switch e.Kind {
	case BotStart:
		if t.cfg.ExcludeAutomated && !t.started {
			t.bot = true
		}
	case BotHandover:
		if t.bot {
			t.bot = false
			if t.waiting {
				t.start(e.At)
			}
		}
	case CustomerMessage:
		switch {
		case !t.started && t.bot:
			t.waiting = true
		case !t.started:
			t.start(e.At)
		case t.responded:
			if m := t.meters[NextReply]; m != nil && !m.cycleOpen {
				*m = meter{target: m.target, active: true, started: e.At, cycleOpen: true, cycle: m.cycle + 1}
			}
		}
	case AgentReply:
		if !t.started || !human {
			break
		}
		if !t.responded {
			t.responded = true
			t.meet(FirstResponse, e.At)
		} else {
			t.meet(NextReply, e.At)
		}
	case StatusChange:
		switch e.Status {
		case Solved:
			t.solved = true
			t.meet(Resolution, e.At)
		case Closed:
			t.closed = true
			for _, metric := range Metrics {
				if m := t.meters[metric]; m != nil && m.active {
					m.active, m.stopped = false, true
				}
			}
		default:
			if t.solved {
				t.solved = false
				if m := t.meters[Resolution]; m != nil && t.started && !m.metAt.IsZero() {
					m.active, m.metAt = true, time.Time{}
				}
			}
		}
	}
	return nil
}

func (t *Tracker) start(at time.Time) {
	t.started, t.waiting = true, false
	for _, metric := range Metrics {
		if m := t.meters[metric]; m != nil && metric != NextReply {
			m.active, m.started, m.cycle = true, at, 1
		}
	}
}

func (t *Tracker) meet(metric Metric, at time.Time) {
	m := t.meters[metric]
	if m == nil || !m.active {
		return
	}
	m.active, m.metAt, m.cycleOpen = false, at, false
}

// counting reports whether active clocks count at instant u, apart from working hours.
func (t *Tracker) counting() bool { return t.started && !t.solved && !t.closed }

func (t *Tracker) byHours() bool {
	return t.cfg.Severity.Counting == WorkingHours && t.cfg.Calendar != nil
}

// advance moves the meters from t.now to to, under the state as it is.
func (t *Tracker) advance(to time.Time) {
	from := t.now
	t.now = to
	if from.IsZero() || !t.counting() || !to.After(from) {
		return
	}
	for _, metric := range Metrics {
		m := t.meters[metric]
		if m == nil || !m.active {
			continue
		}
		wasBreached := !m.breachAt.IsZero()
		need := m.target - m.elapsed
		counted, reachedAt, reached := t.count(from, to, need)
		m.elapsed += counted
		if !wasBreached && reached {
			m.breachAt = reachedAt
			t.breaches = append(t.breaches, Breach{Metric: metric, Cycle: m.cycle, At: reachedAt})
		}
	}
	slices.SortStableFunc(t.breaches, func(a, b Breach) int { return a.At.Compare(b.At) })
}

// count is the counted time in [from, to) (to zero: unbounded, then it stops
// once need is reached), and whether and when the count passes need (need < 0:
// at from).
func (t *Tracker) count(from, to time.Time, need time.Duration) (counted time.Duration, reachedAt time.Time, reached bool) {
	if need < 0 {
		reachedAt, reached = from, true
	}
	add := func(a, b time.Time) bool { // counts [a, b); true when done
		if !to.IsZero() && b.After(to) {
			b = to
		}
		d := b.Sub(a)
		// Bounded, the target is breached only once exceeded (a reply at the due
		// instant is in time); unbounded, the due instant is when it is reached.
		if !reached && (counted+d > need || (to.IsZero() && counted+d >= need)) {
			reachedAt, reached = a.Add(need-counted), true
		}
		counted += d
		return (!to.IsZero() && !b.Before(to)) || (to.IsZero() && reached)
	}
	if !t.byHours() {
		if to.IsZero() {
			add(from, from.Add(need))
			return counted, reachedAt, reached
		}
		add(from, to)
		return counted, reachedAt, reached
	}
	cal := t.cfg.Calendar
	for u := from; to.IsZero() || u.Before(to); {
		if !cal.Open(u) {
			next, ok := cal.NextOpening(u)
			if !ok || (!to.IsZero() && !next.Before(to)) {
				return counted, reachedAt, reached
			}
			u = next
			continue
		}
		end, ok := cal.NextClosing(u)
		if !ok { // open for good
			if to.IsZero() {
				end = u.Add(need - counted)
			} else {
				end = to
			}
		}
		if add(u, end) {
			return counted, reachedAt, reached
		}
		u = end
	}
	return counted, reachedAt, reached
}

// At is the SLA at instant at, which must not be before the last event added.
func (t *Tracker) At(at time.Time) (Result, error) {
	if !t.now.IsZero() && at.Before(t.now) {
		return Result{}, fmt.Errorf("instant %s is before the last event at %s", at.Format(time.RFC3339Nano), t.now.Format(time.RFC3339Nano))
	}
	c := t.clone()
	c.advance(at)
	res := Result{At: at, Clocks: []Clock{}, Breaches: c.breaches}
	if res.Breaches == nil {
		res.Breaches = []Breach{}
	}
	openNow := !c.byHours() || c.cfg.Calendar.Open(at)
	for _, metric := range Metrics {
		m := c.meters[metric]
		if m == nil {
			continue
		}
		k := Clock{Metric: metric, Target: m.target, Cycle: m.cycle, StartedAt: m.started, Elapsed: m.elapsed,
			Remaining: m.target - m.elapsed, BreachedAt: m.breachAt, Breached: !m.breachAt.IsZero(), MetAt: m.metAt}
		switch {
		case m.active && c.counting() && openNow:
			k.State = Running
		case m.active:
			k.State = Paused
		case !m.metAt.IsZero():
			k.State = Met
		case m.stopped:
			k.State = Stopped
		default:
			k.State = Pending
		}
		switch {
		case k.Breached:
			k.DueAt = m.breachAt
		case m.active && c.counting():
			if _, due, ok := c.count(at, time.Time{}, k.Remaining); ok {
				k.DueAt = due
			}
		}
		res.Clocks = append(res.Clocks, k)
	}
	return res, nil
}
