package sla_test

import (
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"switchboard/hours"
	"switchboard/sla"
)

var t0 = time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC) // a Monday

func mins(n int) time.Time { return t0.Add(time.Duration(n) * time.Minute) }

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func cust(t time.Time) sla.Event  { return sla.Event{At: t, Kind: sla.CustomerMessage} }
func reply(t time.Time) sla.Event { return sla.Event{At: t, Kind: sla.AgentReply} }
func auto(t time.Time) sla.Event  { return sla.Event{At: t, Kind: sla.AgentReply, Automated: true} }
func status(t time.Time, s sla.Status) sla.Event {
	return sla.Event{At: t, Kind: sla.StatusChange, Status: s}
}

func severity(first, next, resolution int, c sla.Counting) sla.Severity {
	return sla.Severity{Name: "Default", Default: true, FirstResponseMinutes: first, NextReplyMinutes: next, ResolutionMinutes: resolution, Counting: c}
}

func calendar(t testing.TB, p hours.Period) *hours.Calendar {
	t.Helper()
	c, err := hours.New(p)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// office is Monday to Friday 08:00–16:00 in Europe/Zagreb.
func office(t testing.TB) *hours.Calendar {
	w := hours.Week{}
	for _, d := range []string{"monday", "tuesday", "wednesday", "thursday", "friday"} {
		w[d] = hours.Day{Enabled: true, Ranges: []hours.Range{{From: "08:00", To: "16:00"}}}
	}
	return calendar(t, hours.Period{TimeZone: "Europe/Zagreb", Days: w})
}

// nightly is 01:00–04:00 every day in Europe/Zagreb, which on 2026-03-29 (clocks
// forward at 02:00) lasts two hours.
func nightly(t testing.TB) *hours.Calendar {
	w := hours.Week{}
	for _, d := range hours.Weekdays {
		w[d] = hours.Day{Enabled: true, Ranges: []hours.Range{{From: "01:00", To: "04:00"}}}
	}
	return calendar(t, hours.Period{TimeZone: "Europe/Zagreb", Days: w})
}

// want is the expected clock of one metric; zero times mean "zero".
type want struct {
	metric     sla.Metric
	state      sla.State
	elapsed    time.Duration
	due        time.Time
	breachedAt time.Time
	metAt      time.Time
	startedAt  time.Time
}

func TestClocks(t *testing.T) {
	m := time.Minute
	type tc struct {
		name     string
		cfg      sla.Config
		events   []sla.Event
		at       time.Time
		want     []want
		breaches []sla.Breach
	}
	always := severity(15, 5, 60, sla.Always)
	cases := []tc{
		{
			name: "no customer message: everything pending", cfg: sla.Config{Severity: always},
			events: []sla.Event{auto(mins(0))}, at: mins(30),
			want: []want{{metric: sla.FirstResponse, state: sla.Pending}, {metric: sla.NextReply, state: sla.Pending}, {metric: sla.Resolution, state: sla.Pending}},
		},
		{
			name: "first response running from the customer's first message", cfg: sla.Config{Severity: always},
			events: []sla.Event{cust(mins(0)), cust(mins(2))}, at: mins(5),
			want: []want{
				{metric: sla.FirstResponse, state: sla.Running, elapsed: 5 * m, due: mins(15), startedAt: mins(0)},
				{metric: sla.NextReply, state: sla.Pending},
				{metric: sla.Resolution, state: sla.Running, elapsed: 5 * m, due: mins(60), startedAt: mins(0)},
			},
		},
		{
			name: "reply in time meets first response", cfg: sla.Config{Severity: always},
			events: []sla.Event{cust(mins(0)), reply(mins(10))}, at: mins(20),
			want: []want{{metric: sla.FirstResponse, state: sla.Met, elapsed: 10 * m, metAt: mins(10), startedAt: mins(0)}},
		},
		{
			name: "reply at the due instant is in time", cfg: sla.Config{Severity: always},
			events: []sla.Event{cust(mins(0)), reply(mins(15))}, at: mins(20),
			want: []want{{metric: sla.FirstResponse, state: sla.Met, elapsed: 15 * m, metAt: mins(15), startedAt: mins(0)}},
		},
		{
			name: "late reply: breached at the due instant, then met", cfg: sla.Config{Severity: always},
			events: []sla.Event{cust(mins(0)), reply(mins(20))}, at: mins(30),
			want:     []want{{metric: sla.FirstResponse, state: sla.Met, elapsed: 20 * m, due: mins(15), breachedAt: mins(15), metAt: mins(20), startedAt: mins(0)}},
			breaches: []sla.Breach{{Metric: sla.FirstResponse, Cycle: 1, At: mins(15)}},
		},
		{
			name: "paused in Solved, resumed on reopening", cfg: sla.Config{Severity: always},
			events: []sla.Event{cust(mins(0)), status(mins(5), sla.Solved), status(mins(65), sla.Open)}, at: mins(70),
			want: []want{
				{metric: sla.FirstResponse, state: sla.Running, elapsed: 10 * m, due: mins(75), startedAt: mins(0)},
				{metric: sla.Resolution, state: sla.Running, elapsed: 10 * m, due: mins(120), startedAt: mins(0)},
			},
		},
		{
			name: "while Solved: first response paused with no due time, resolution met", cfg: sla.Config{Severity: always},
			events: []sla.Event{cust(mins(0)), status(mins(5), sla.Solved)}, at: mins(300),
			want: []want{
				{metric: sla.FirstResponse, state: sla.Paused, elapsed: 5 * m, startedAt: mins(0)},
				{metric: sla.Resolution, state: sla.Met, elapsed: 5 * m, metAt: mins(5), startedAt: mins(0)},
			},
		},
		{
			name: "waiting status keeps counting", cfg: sla.Config{Severity: always},
			events: []sla.Event{cust(mins(0)), status(mins(5), sla.Waiting)}, at: mins(10),
			want: []want{{metric: sla.FirstResponse, state: sla.Running, elapsed: 10 * m, due: mins(15), startedAt: mins(0)}},
		},
		{
			name: "next reply: each customer message after a reply starts a cycle, later ones do not reset it",
			cfg:  sla.Config{Severity: always},
			events: []sla.Event{cust(mins(0)), reply(mins(2)), cust(mins(10)), cust(mins(12)), reply(mins(20)),
				cust(mins(30))},
			at: mins(33),
			want: []want{
				{metric: sla.FirstResponse, state: sla.Met, elapsed: 2 * m, metAt: mins(2), startedAt: mins(0)},
				{metric: sla.NextReply, state: sla.Running, elapsed: 3 * m, due: mins(35), startedAt: mins(30)},
			},
			breaches: []sla.Breach{{Metric: sla.NextReply, Cycle: 1, At: mins(15)}},
		},
		{
			name: "next reply breaches are numbered by their exchange", cfg: sla.Config{Severity: always},
			events:   []sla.Event{cust(mins(0)), reply(mins(2)), cust(mins(10)), reply(mins(12)), cust(mins(20)), reply(mins(40))},
			at:       mins(50),
			want:     []want{{metric: sla.NextReply, state: sla.Met, elapsed: 20 * m, due: mins(25), breachedAt: mins(25), metAt: mins(40), startedAt: mins(20)}},
			breaches: []sla.Breach{{Metric: sla.NextReply, Cycle: 2, At: mins(25)}},
		},
		{
			name: "next reply met by the agent's reply", cfg: sla.Config{Severity: always},
			events: []sla.Event{cust(mins(0)), reply(mins(2)), cust(mins(10)), reply(mins(13))}, at: mins(40),
			want: []want{{metric: sla.NextReply, state: sla.Met, elapsed: 3 * m, metAt: mins(13), startedAt: mins(10)}},
		},
		{
			name: "automated replies count when not excluded", cfg: sla.Config{Severity: always},
			events: []sla.Event{cust(mins(0)), auto(mins(1)), cust(mins(3)), auto(mins(4))}, at: mins(30),
			want: []want{
				{metric: sla.FirstResponse, state: sla.Met, elapsed: 1 * m, metAt: mins(1), startedAt: mins(0)},
				{metric: sla.NextReply, state: sla.Met, elapsed: 1 * m, metAt: mins(4), startedAt: mins(3)},
			},
		},
		{
			name: "automated replies ignored when excluded", cfg: sla.Config{Severity: always, ExcludeAutomated: true},
			events: []sla.Event{cust(mins(0)), auto(mins(1)), reply(mins(20))}, at: mins(30),
			want:     []want{{metric: sla.FirstResponse, state: sla.Met, elapsed: 20 * m, due: mins(15), breachedAt: mins(15), metAt: mins(20), startedAt: mins(0)}},
			breaches: []sla.Breach{{Metric: sla.FirstResponse, Cycle: 1, At: mins(15)}},
		},
		{
			name: "excluded: counting starts at the chatbot's handover", cfg: sla.Config{Severity: always, ExcludeAutomated: true},
			events: []sla.Event{{At: mins(0), Kind: sla.BotStart}, cust(mins(0)), auto(mins(1)), cust(mins(3)), auto(mins(4)),
				{At: mins(30), Kind: sla.BotHandover}},
			at: mins(40),
			want: []want{
				{metric: sla.FirstResponse, state: sla.Running, elapsed: 10 * m, due: mins(45), startedAt: mins(30)},
				{metric: sla.NextReply, state: sla.Pending},
				{metric: sla.Resolution, state: sla.Running, elapsed: 10 * m, due: mins(90), startedAt: mins(30)},
			},
		},
		{
			name: "not excluded: the chatbot's replies are responses", cfg: sla.Config{Severity: always},
			events: []sla.Event{{At: mins(0), Kind: sla.BotStart}, cust(mins(0)), auto(mins(1)), {At: mins(30), Kind: sla.BotHandover}},
			at:     mins(40),
			want:   []want{{metric: sla.FirstResponse, state: sla.Met, elapsed: 1 * m, metAt: mins(1), startedAt: mins(0)}},
		},
		{
			name: "close stops every clock and later events change nothing", cfg: sla.Config{Severity: always},
			events: []sla.Event{cust(mins(0)), status(mins(5), sla.Closed), reply(mins(6)), status(mins(7), sla.Open)}, at: mins(500),
			want: []want{
				{metric: sla.FirstResponse, state: sla.Stopped, elapsed: 5 * m, startedAt: mins(0)},
				{metric: sla.NextReply, state: sla.Pending},
				{metric: sla.Resolution, state: sla.Stopped, elapsed: 5 * m, startedAt: mins(0)},
			},
		},
		{
			name: "closed after solved: resolution stays met", cfg: sla.Config{Severity: always},
			events: []sla.Event{cust(mins(0)), reply(mins(1)), status(mins(5), sla.Solved), status(mins(9), sla.Closed)}, at: mins(100),
			want: []want{{metric: sla.Resolution, state: sla.Met, elapsed: 5 * m, metAt: mins(5), startedAt: mins(0)}},
		},
		{
			name: "untracked metrics have no clock", cfg: sla.Config{Severity: severity(0, 0, 30, sla.Always)},
			events: []sla.Event{cust(mins(0))}, at: mins(1),
			want: []want{{metric: sla.Resolution, state: sla.Running, elapsed: 1 * m, due: mins(30), startedAt: mins(0)}},
		},
		{
			name: "always ignores working hours", cfg: sla.Config{Severity: always, Calendar: office(t)},
			events: []sla.Event{cust(at("2026-06-06T12:00:00Z"))}, at: at("2026-06-06T12:05:00Z"), // Saturday
			want: []want{{metric: sla.FirstResponse, state: sla.Running, elapsed: 5 * m, due: at("2026-06-06T12:15:00Z"), startedAt: at("2026-06-06T12:00:00Z")}},
		},
		{
			// Friday 15:50 CEST; 10 minutes count before closing, 20 more from Monday 08:00 CEST.
			name: "working hours: paused over the weekend", cfg: sla.Config{Severity: severity(30, 0, 0, sla.WorkingHours), Calendar: office(t)},
			events: []sla.Event{cust(at("2026-06-05T13:50:00Z"))}, at: at("2026-06-06T10:00:00Z"),
			want: []want{{metric: sla.FirstResponse, state: sla.Paused, elapsed: 10 * m, due: at("2026-06-08T06:20:00Z"), startedAt: at("2026-06-05T13:50:00Z")}},
		},
		{
			name: "working hours: breached after the reopening", cfg: sla.Config{Severity: severity(30, 0, 0, sla.WorkingHours), Calendar: office(t)},
			events: []sla.Event{cust(at("2026-06-05T13:50:00Z"))}, at: at("2026-06-08T07:00:00Z"),
			want:     []want{{metric: sla.FirstResponse, state: sla.Running, elapsed: 70 * m, due: at("2026-06-08T06:20:00Z"), breachedAt: at("2026-06-08T06:20:00Z"), startedAt: at("2026-06-05T13:50:00Z")}},
			breaches: []sla.Breach{{Metric: sla.FirstResponse, Cycle: 1, At: at("2026-06-08T06:20:00Z")}},
		},
		{
			name: "working hours: a message outside hours counts from the opening", cfg: sla.Config{Severity: severity(30, 0, 0, sla.WorkingHours), Calendar: office(t)},
			events: []sla.Event{cust(at("2026-06-06T10:00:00Z")), reply(at("2026-06-08T06:25:00Z"))}, at: at("2026-06-08T09:00:00Z"),
			want: []want{{metric: sla.FirstResponse, state: sla.Met, elapsed: 25 * m, metAt: at("2026-06-08T06:25:00Z"), startedAt: at("2026-06-06T10:00:00Z")}},
		},
		{
			name:   "working hours: target reached exactly at closing is breached only when counting resumes",
			cfg:    sla.Config{Severity: severity(10, 0, 0, sla.WorkingHours), Calendar: office(t)},
			events: []sla.Event{cust(at("2026-06-05T13:50:00Z"))}, at: at("2026-06-07T10:00:00Z"),
			want: []want{{metric: sla.FirstResponse, state: sla.Paused, elapsed: 10 * m, due: at("2026-06-08T06:00:00Z"), startedAt: at("2026-06-05T13:50:00Z")}},
		},
		{
			// 01:00 CET = 00:00Z; at 01:00Z the clock jumps 02:00 CET → 03:00 CEST, so the
			// day counts 00:00Z–01:00Z and 01:00Z–02:00Z (03:00–04:00 CEST): 120 minutes.
			// The 30 left count from Monday 01:00 CEST = Sunday 23:00Z.
			name: "working hours across the spring-forward night", cfg: sla.Config{Severity: severity(150, 0, 0, sla.WorkingHours), Calendar: nightly(t)},
			events: []sla.Event{cust(at("2026-03-29T00:00:00Z"))}, at: at("2026-03-29T12:00:00Z"),
			want: []want{{metric: sla.FirstResponse, state: sla.Paused, elapsed: 120 * m, due: at("2026-03-29T23:30:00Z"), startedAt: at("2026-03-29T00:00:00Z")}},
		},
		{
			// On 2026-10-25 the clock goes back at 03:00 CEST to 02:00 CET: 01:00–04:00 lasts four hours.
			name: "working hours across the fall-back night", cfg: sla.Config{Severity: severity(240, 0, 0, sla.WorkingHours), Calendar: nightly(t)},
			events: []sla.Event{cust(at("2026-10-24T23:00:00Z"))}, at: at("2026-10-25T02:30:00Z"),
			want: []want{{metric: sla.FirstResponse, state: sla.Running, elapsed: 210 * m, due: at("2026-10-25T03:00:00Z"), startedAt: at("2026-10-24T23:00:00Z")}},
		},
		{
			name: "working hours and Solved together", cfg: sla.Config{Severity: severity(0, 0, 60, sla.WorkingHours), Calendar: office(t)},
			// Monday 08:00 CEST start, solved 08:20–09:00, then counting to 16:00 closing.
			events: []sla.Event{cust(at("2026-06-08T06:00:00Z")), status(at("2026-06-08T06:20:00Z"), sla.Solved), status(at("2026-06-08T07:00:00Z"), sla.Open)},
			at:     at("2026-06-08T07:10:00Z"),
			want:   []want{{metric: sla.Resolution, state: sla.Running, elapsed: 30 * m, due: at("2026-06-08T07:40:00Z"), startedAt: at("2026-06-08T06:00:00Z")}},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := sla.Evaluate(c.cfg, c.events, c.at)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range c.want {
				k, ok := res.Clock(w.metric)
				if !ok {
					t.Fatalf("%s: no clock", w.metric)
				}
				got := want{metric: k.Metric, state: k.State, elapsed: k.Elapsed, due: k.DueAt, breachedAt: k.BreachedAt, metAt: k.MetAt, startedAt: k.StartedAt}
				if !reflect.DeepEqual(got, w) {
					t.Errorf("%s:\n got %+v\nwant %+v", w.metric, got, w)
				}
				if k.Remaining != k.Target-k.Elapsed || k.Breached != !k.BreachedAt.IsZero() {
					t.Errorf("%s: remaining %v / breached %v inconsistent", w.metric, k.Remaining, k.Breached)
				}
			}
			if len(c.want) == 3 && len(res.Clocks) != 3 {
				t.Errorf("clocks %d, want 3", len(res.Clocks))
			}
			wantBreaches := c.breaches
			if wantBreaches == nil {
				wantBreaches = []sla.Breach{}
			}
			if !reflect.DeepEqual(res.Breaches, wantBreaches) {
				t.Errorf("breaches %+v, want %+v", res.Breaches, wantBreaches)
			}
		})
	}
}

func TestUntrackedMetricHasNoClock(t *testing.T) {
	res, err := sla.Evaluate(sla.Config{Severity: severity(0, 0, 30, sla.Always)}, []sla.Event{cust(mins(0))}, mins(1))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Clocks) != 1 || res.Clocks[0].Metric != sla.Resolution {
		t.Fatalf("clocks %+v, want resolution only", res.Clocks)
	}
}

func TestEvaluateRefusesBadEvents(t *testing.T) {
	cfg := sla.Config{Severity: severity(15, 0, 0, sla.Always)}
	for _, e := range []sla.Event{
		{Kind: sla.CustomerMessage},
		{At: t0, Kind: "wave"},
		{At: t0, Kind: sla.StatusChange, Status: "pending"},
		{At: t0, Kind: sla.AgentReply, Status: sla.Open},
	} {
		if _, err := sla.Evaluate(cfg, []sla.Event{e}, mins(1)); err == nil {
			t.Errorf("%+v accepted", e)
		}
	}
}

// TestIncrementalMatchesFullHistory feeds random histories to a tracker one
// event at a time, reading it at random instants in between, and compares each
// reading with a recalculation from the whole history.
func TestIncrementalMatchesFullHistory(t *testing.T) {
	cals := []*hours.Calendar{nil, office(t), nightly(t)}
	kinds := []func(time.Time) sla.Event{
		cust, cust, reply, auto,
		func(u time.Time) sla.Event { return status(u, sla.Solved) },
		func(u time.Time) sla.Event { return status(u, sla.Open) },
		func(u time.Time) sla.Event { return status(u, sla.Waiting) },
		func(u time.Time) sla.Event { return sla.Event{At: u, Kind: sla.BotStart} },
		func(u time.Time) sla.Event { return sla.Event{At: u, Kind: sla.BotHandover} },
		func(u time.Time) sla.Event { return status(u, sla.Closed) },
	}
	r := rand.New(rand.NewPCG(1, 2))
	for run := range 300 {
		cfg := sla.Config{
			Severity:         severity(r.IntN(120), r.IntN(60), 1+r.IntN(2000), []sla.Counting{sla.Always, sla.WorkingHours}[r.IntN(2)]),
			Calendar:         cals[r.IntN(len(cals))],
			ExcludeAutomated: r.IntN(2) == 0,
		}
		start := at("2026-03-27T20:00:00Z").Add(time.Duration(r.IntN(400*24)) * time.Hour)
		var history []sla.Event
		u := start
		for range 1 + r.IntN(25) {
			u = u.Add(time.Duration(r.IntN(12*60)) * time.Minute)
			history = append(history, kinds[r.IntN(len(kinds))](u))
		}
		tr := sla.NewTracker(cfg)
		for i, e := range history {
			if err := tr.Add(e); err != nil {
				t.Fatal(err)
			}
			next := e.At.Add(48 * time.Hour)
			if i+1 < len(history) {
				next = history[i+1].At
			}
			for range 3 {
				q := e.At
				if d := next.Sub(e.At); d > 0 {
					q = e.At.Add(time.Duration(r.Int64N(int64(d))))
				}
				got, err := tr.At(q)
				if err != nil {
					t.Fatal(err)
				}
				full, err := sla.Evaluate(cfg, history, q)
				if err != nil {
					t.Fatal(err)
				}
				// Events at exactly q that come after e are known to the full history only.
				if i+1 < len(history) && history[i+1].At.Equal(q) {
					continue
				}
				if !reflect.DeepEqual(got, full) {
					t.Fatalf("run %d after event %d at %s:\nincremental %+v\nfull        %+v", run, i, q, got, full)
				}
			}
		}
	}
}

func TestTrackerRefusesOutOfOrder(t *testing.T) {
	tr := sla.NewTracker(sla.Config{Severity: severity(15, 0, 0, sla.Always)})
	if err := tr.Add(cust(mins(10))); err != nil {
		t.Fatal(err)
	}
	if err := tr.Add(reply(mins(5))); err == nil {
		t.Error("an event before the previous one was accepted")
	}
	if _, err := tr.At(mins(5)); err == nil {
		t.Error("a reading before the last event was accepted")
	}
}
