package routing_test

import (
	"testing"
	"time"

	"switchboard/routing"
)

// refTolerance: the reference rounds every intermediate value to two
// decimals (20/35 → 0.57, 0.57×0.5 → 0.29, 200/300 → 0.67, 0.67×0.5 → 0.34)
// and sums the rounded values, so its agent-2 total 0.63 is 0.011 above the
// exact 0.619; exact arithmetic must agree within that accumulated rounding.
const refTolerance = 0.011

func TestWeightedScoresReferenceTable(t *testing.T) {
	// The reference's first row is inconsistent with its own workload formula
	// (its occupancies give 35), so its stated workload 20 is used directly.
	in := []routing.ScoreInput{
		{AgentID: "agent-1", Workload: 20, Unserved: 10 * time.Second},
		{AgentID: "agent-2", Workload: 35, Unserved: 200 * time.Second},
		{AgentID: "agent-3", Workload: 48, Unserved: 300 * time.Second},
	}
	want := map[string]float64{"agent-1": 0.52, "agent-2": 0.63, "agent-3": 0.71}
	got := routing.WeightedScores(in)
	if got[0].AgentID != "agent-3" {
		t.Fatalf("winner = %s, want agent-3 (%+v)", got[0].AgentID, got)
	}
	for _, s := range got {
		if !approx(s.Total, want[s.AgentID], refTolerance) {
			t.Errorf("%s total = %.4f, want %.2f ± %.3f", s.AgentID, s.Total, want[s.AgentID], refTolerance)
		}
	}
	// The component scores printed in the reference, to the same tolerance.
	comp := map[string][2]float64{"agent-1": {1, 0.03}, "agent-2": {0.57, 0.67}, "agent-3": {0.42, 1}}
	for _, s := range got {
		c := comp[s.AgentID]
		if !approx(s.WorkloadScore, c[0], refTolerance) || !approx(s.UnservedScore, c[1], refTolerance) {
			t.Errorf("%s components = %.3f/%.3f, want %.2f/%.2f", s.AgentID, s.WorkloadScore, s.UnservedScore, c[0], c[1])
		}
	}
}

func TestWeightedScoresEdges(t *testing.T) {
	t.Run("zero workload scores 1, loaded agents 0 when min is 0", func(t *testing.T) {
		got := routing.WeightedScores([]routing.ScoreInput{
			{AgentID: "idle", Workload: 0, Unserved: time.Second},
			{AgentID: "busy", Workload: 10, Unserved: 100 * time.Second},
		})
		byID := scoresByID(got)
		if byID["idle"].WorkloadScore != 1 || byID["busy"].WorkloadScore != 0 {
			t.Fatalf("workload scores = %+v", got)
		}
		if got[0].AgentID != "idle" { // 0.5 + 0.005 beats 0 + 0.5
			t.Fatalf("winner = %s", got[0].AgentID)
		}
	})
	t.Run("all zero workload", func(t *testing.T) {
		for _, s := range routing.WeightedScores([]routing.ScoreInput{{AgentID: "a"}, {AgentID: "b"}}) {
			if s.WorkloadScore != 1 || s.UnservedScore != 1 || s.Total != 1 {
				t.Fatalf("score = %+v", s)
			}
		}
	})
	t.Run("never assigned counts as longest waiting and wins the tie", func(t *testing.T) {
		got := routing.WeightedScores([]routing.ScoreInput{
			{AgentID: "a", Workload: 10, Unserved: 300 * time.Second},
			{AgentID: "z", Workload: 10, NeverAssigned: true},
			{AgentID: "m", Workload: 10, Unserved: 30 * time.Second},
		})
		if got[0].AgentID != "z" || got[0].UnservedScore != 1 || got[0].UnservedSeconds != 300 || got[1].AgentID != "a" {
			t.Fatalf("ranking = %+v", got)
		}
	})
	t.Run("tie broken by longest unserved then agent id", func(t *testing.T) {
		// Equal totals: b has lower workload but waited less.
		got := routing.WeightedScores([]routing.ScoreInput{
			{AgentID: "y", Workload: 10, Unserved: 100 * time.Second},
			{AgentID: "x", Workload: 10, Unserved: 100 * time.Second},
			{AgentID: "w", Workload: 10, Unserved: 100*time.Second - time.Nanosecond},
		})
		if got[0].AgentID != "x" || got[1].AgentID != "y" || got[2].AgentID != "w" {
			t.Fatalf("ranking = %v %v %v", got[0].AgentID, got[1].AgentID, got[2].AgentID)
		}
	})
	t.Run("bad inputs do not break the order", func(t *testing.T) {
		got := routing.WeightedScores([]routing.ScoreInput{
			{AgentID: "nan", Workload: nanValue(), Unserved: -time.Second},
			{AgentID: "neg", Workload: -5, Unserved: time.Second},
		})
		if got[0].AgentID != "neg" || got[0].Total != 1 {
			t.Fatalf("ranking = %+v", got)
		}
	})
	t.Run("empty", func(t *testing.T) {
		if got := routing.WeightedScores(nil); len(got) != 0 {
			t.Fatalf("got %v", got)
		}
	})
}

func nanValue() float64 {
	zero := 0.0
	return zero / zero
}

func scoresByID(ss []routing.Score) map[string]routing.Score {
	m := make(map[string]routing.Score, len(ss))
	for _, s := range ss {
		m[s.AgentID] = s
	}
	return m
}

func chatReq() routing.Request {
	return routing.Request{InteractionID: "i-1", Channel: routing.LiveChat, QueueID: "sales", RequiredSkills: []string{"es"}}
}

// withLoad sets live chat and live messaging capacity/occupancy.
func withLoad(c routing.Candidate, capLC, occLC, capLM, occLM int) routing.Candidate {
	c.Capacity = routing.Capacity{routing.Voice: 1, routing.LiveChat: capLC, routing.LiveMessaging: capLM}
	c.Occupancy = routing.Occupancy{routing.LiveChat: occLC, routing.LiveMessaging: occLM}
	return c
}

func TestChooseReferenceTable(t *testing.T) {
	cands := []routing.Candidate{
		// (10,2,20,4) gives the workload 20 the reference states for agent 1.
		withLoad(agent("agent-1", 10), 10, 2, 20, 4),
		withLoad(agent("agent-2", 200), 5, 1, 10, 5),
		withLoad(agent("agent-3", 300), 20, 15, 5, 1),
	}
	winner, scores, ok := routing.Choose(chatReq(), cands, t0)
	if !ok || winner != "agent-3" {
		t.Fatalf("Choose = %q, %v; want agent-3", winner, ok)
	}
	want := map[string]float64{"agent-1": 0.52, "agent-2": 0.63, "agent-3": 0.71}
	for _, s := range scores {
		if !s.Eligible || !approx(s.Total, want[s.AgentID], refTolerance) {
			t.Errorf("%s: %+v, want total %.2f", s.AgentID, s, want[s.AgentID])
		}
	}
}

func TestChooseLowerRatioWins(t *testing.T) {
	// A: 2 of 4 (0.50); B: 3 of 8 (0.375); equal unserved time.
	a := agent("A", 60)
	a.Capacity = routing.Capacity{routing.LiveChat: 4}
	a.Occupancy = routing.Occupancy{routing.LiveChat: 2}
	b := agent("B", 60)
	b.Capacity = routing.Capacity{routing.LiveChat: 8}
	b.Occupancy = routing.Occupancy{routing.LiveChat: 3}
	winner, scores, ok := routing.Choose(chatReq(), []routing.Candidate{a, b}, t0)
	if !ok || winner != "B" {
		t.Fatalf("winner = %q (%+v), want B", winner, scores)
	}
	if w := scoresByID(scores); w["A"].Workload != 50 || w["B"].Workload != 37.5 {
		t.Fatalf("workloads = %v / %v", w["A"].Workload, w["B"].Workload)
	}
}

func TestEligible(t *testing.T) {
	base := agent("a", 10)
	voice := chatReq()
	voice.Channel = routing.Voice
	tests := []struct {
		name   string
		mutate func(*routing.Candidate, *routing.Request)
		reason routing.Reason
	}{
		{"eligible", func(*routing.Candidate, *routing.Request) {}, routing.ReasonNone},
		{"busy group", func(c *routing.Candidate, _ *routing.Request) {
			c.Status = routing.Status{Name: "Busy", Group: routing.GroupBusy}
		}, routing.ReasonNotAvailable},
		{"away break", func(c *routing.Candidate, _ *routing.Request) {
			c.Status = routing.Status{Name: "Lunch", Group: routing.GroupAway}
		}, routing.ReasonNotAvailable},
		{"offline", func(c *routing.Candidate, _ *routing.Request) {
			c.Status = routing.Status{Name: "Offline", Group: routing.GroupUnavailable}
		}, routing.ReasonNotAvailable},
		{"custom available-group status", func(c *routing.Candidate, _ *routing.Request) {
			c.Status = routing.Status{Name: "Ready for chats", Group: routing.GroupAvailable}
		}, routing.ReasonNone},
		{"not in queue", func(_ *routing.Candidate, r *routing.Request) { r.QueueID = "billing" }, routing.ReasonNotInQueue},
		{"default queue includes everyone", func(c *routing.Candidate, r *routing.Request) {
			c.Queues = nil
			r.QueueID = routing.DefaultQueue
		}, routing.ReasonNone},
		{"missing one skill", func(_ *routing.Candidate, r *routing.Request) { r.RequiredSkills = []string{"es", "en"} }, routing.ReasonMissingSkill},
		{"no skills required", func(c *routing.Candidate, r *routing.Request) {
			c.Skills = nil
			r.RequiredSkills = nil
		}, routing.ReasonNone},
		{"chat at capacity", func(c *routing.Candidate, _ *routing.Request) {
			c.Occupancy = routing.Occupancy{routing.LiveChat: routing.DefaultLiveChatCapacity}
		}, routing.ReasonNoRoom},
		{"one below capacity", func(c *routing.Candidate, _ *routing.Request) {
			c.Occupancy = routing.Occupancy{routing.LiveChat: routing.DefaultLiveChatCapacity - 1}
		}, routing.ReasonNone},
		{"no capacity on the channel", func(c *routing.Candidate, _ *routing.Request) {
			c.Capacity = routing.Capacity{routing.Email: 10}
		}, routing.ReasonNoRoom},
		{"voice busy with one call", func(c *routing.Candidate, r *routing.Request) {
			*r = voice
			c.Occupancy = routing.Occupancy{routing.Voice: 1}
		}, routing.ReasonNoRoom},
		{"voice free while chats are full", func(c *routing.Candidate, r *routing.Request) {
			*r = voice
			c.Occupancy = routing.Occupancy{routing.LiveChat: 5, routing.LiveMessaging: 5, routing.Email: 10}
		}, routing.ReasonNone},
		{"full capacity indicator does not gate", func(c *routing.Candidate, _ *routing.Request) {
			c.Occupancy = routing.Occupancy{routing.LiveChat: 4, routing.LiveMessaging: 4}
		}, routing.ReasonNone},
		{"previously assigned", func(c *routing.Candidate, _ *routing.Request) { c.PreviouslyAssigned = true }, routing.ReasonPreviouslyAssigned},
		{"unknown channel", func(_ *routing.Candidate, r *routing.Request) { r.Channel = "fax" }, routing.ReasonUnknownChannel},
		{"no agent id", func(c *routing.Candidate, _ *routing.Request) { c.AgentID = "" }, routing.ReasonInvalidCandidate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, r := base, chatReq()
			c.Occupancy = routing.Occupancy{}
			tt.mutate(&c, &r)
			ok, reason := routing.Eligible(c, r)
			if ok != (tt.reason == routing.ReasonNone) || reason != tt.reason {
				t.Fatalf("Eligible = %v, %q; want reason %q", ok, reason, tt.reason)
			}
		})
	}
}

func TestChooseExcludesIneligible(t *testing.T) {
	best := agent("best-but-busy", 10_000)
	best.Status = routing.Status{Name: "Busy", Group: routing.GroupBusy}
	prev := agent("previous", 9_000)
	prev.PreviouslyAssigned = true
	full := agent("full", 8_000)
	full.Occupancy = routing.Occupancy{routing.LiveChat: 5}
	other := agent("other-queue", 7_000)
	other.Queues = []string{"billing"}
	noSkill := agent("no-skill", 6_000)
	noSkill.Skills = []string{"de"}
	ok1 := agent("ok", 10)
	winner, scores, ok := routing.Choose(chatReq(), []routing.Candidate{best, prev, full, other, noSkill, ok1}, t0)
	if !ok || winner != "ok" {
		t.Fatalf("winner = %q, ok=%v", winner, ok)
	}
	want := map[string]routing.Reason{
		"best-but-busy": routing.ReasonNotAvailable, "previous": routing.ReasonPreviouslyAssigned,
		"full": routing.ReasonNoRoom, "other-queue": routing.ReasonNotInQueue, "no-skill": routing.ReasonMissingSkill,
	}
	if len(scores) != 6 || scores[0].AgentID != "ok" {
		t.Fatalf("scores = %+v", scores)
	}
	prevID := ""
	for _, s := range scores[1:] {
		if s.Eligible || s.Reason != want[s.AgentID] {
			t.Errorf("%s: eligible=%v reason=%q, want %q", s.AgentID, s.Eligible, s.Reason, want[s.AgentID])
		}
		if s.AgentID < prevID {
			t.Errorf("ineligible scores not sorted by id: %s after %s", s.AgentID, prevID)
		}
		prevID = s.AgentID
	}

	if w, _, ok := routing.Choose(chatReq(), []routing.Candidate{best, prev}, t0); ok || w != "" {
		t.Fatalf("Choose with nobody eligible = %q, %v", w, ok)
	}
	if w, _, ok := routing.Choose(chatReq(), nil, t0); ok || w != "" {
		t.Fatalf("Choose with no candidates = %q, %v", w, ok)
	}
}

func TestChooseDuplicateCandidates(t *testing.T) {
	a1 := agent("a", 500)
	a2 := agent("a", 10)
	winner, scores, ok := routing.Choose(chatReq(), []routing.Candidate{a1, a2, agent("b", 5)}, t0)
	if !ok || winner != "b" {
		t.Fatalf("winner = %q", winner)
	}
	for _, s := range scores[1:] {
		if s.AgentID != "a" || s.Reason != routing.ReasonDuplicateCandidate {
			t.Fatalf("scores = %+v", scores)
		}
	}
}

func TestChooseSticky(t *testing.T) {
	day := 24 * time.Hour
	cands := func() []routing.Candidate {
		return []routing.Candidate{agent("fresh", 1), agent("longest-idle", 1_000)}
	}
	ineligible := func(cs []routing.Candidate) []routing.Candidate {
		cs[0].Status = routing.Status{Name: "Lunch", Group: routing.GroupAway}
		return cs
	}
	previously := func(cs []routing.Candidate) []routing.Candidate {
		cs[0].PreviouslyAssigned = true
		return cs
	}
	tests := []struct {
		name   string
		window routing.StickyWindow
		ago    time.Duration
		last   string
		cands  []routing.Candidate
		want   string
		sticky bool
	}{
		{"within 30 days", routing.Sticky30Days, 29 * day, "fresh", cands(), "fresh", true},
		{"exactly 30 days is inside", routing.Sticky30Days, 30 * day, "fresh", cands(), "fresh", true},
		{"just outside 30 days", routing.Sticky30Days, 30*day + time.Second, "fresh", cands(), "longest-idle", false},
		{"60 days", routing.Sticky60Days, 45 * day, "fresh", cands(), "fresh", true},
		{"outside 60 days", routing.Sticky60Days, 61 * day, "fresh", cands(), "longest-idle", false},
		{"a year", routing.StickyYear, 365 * day, "fresh", cands(), "fresh", true},
		{"outside a year", routing.StickyYear, 366 * day, "fresh", cands(), "longest-idle", false},
		{"ever", routing.StickyEver, 20 * 365 * day, "fresh", cands(), "fresh", true},
		{"contact in the future (clock skew)", routing.Sticky30Days, -time.Minute, "fresh", cands(), "fresh", true},
		{"sticky off", routing.StickyOff, time.Hour, "fresh", cands(), "longest-idle", false},
		{"unknown window", "7d", time.Hour, "fresh", cands(), "longest-idle", false},
		{"sticky agent ineligible", routing.StickyEver, time.Hour, "fresh", ineligible(cands()), "longest-idle", false},
		{"sticky agent previously assigned", routing.StickyEver, time.Hour, "fresh", previously(cands()), "longest-idle", false},
		{"sticky agent not a candidate", routing.StickyEver, time.Hour, "gone", cands(), "longest-idle", false},
		{"no last agent", routing.StickyEver, time.Hour, "", cands(), "longest-idle", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := chatReq()
			req.StickyWindow, req.LastAgentID, req.LastContactAt = tt.window, tt.last, t0.Add(-tt.ago)
			winner, scores, ok := routing.Choose(req, tt.cands, t0)
			if !ok || winner != tt.want || scores[0].AgentID != tt.want || scores[0].Sticky != tt.sticky {
				t.Fatalf("winner = %q ok=%v scores[0]=%+v; want %q sticky=%v", winner, ok, scores[0], tt.want, tt.sticky)
			}
		})
	}
	t.Run("zero contact time never sticks", func(t *testing.T) {
		req := chatReq()
		req.StickyWindow, req.LastAgentID = routing.StickyEver, "fresh"
		if w, _, _ := routing.Choose(req, cands(), t0); w != "longest-idle" {
			t.Fatalf("winner = %q", w)
		}
	})
	t.Run("sticky winner keeps the rest ranked", func(t *testing.T) {
		req := chatReq()
		req.StickyWindow, req.LastAgentID, req.LastContactAt = routing.StickyEver, "c", t0
		cs := []routing.Candidate{agent("a", 300), agent("b", 200), agent("c", 100)}
		_, scores, _ := routing.Choose(req, cs, t0)
		if scores[0].AgentID != "c" || scores[1].AgentID != "a" || scores[2].AgentID != "b" {
			t.Fatalf("order = %s %s %s", scores[0].AgentID, scores[1].AgentID, scores[2].AgentID)
		}
	})
}

func TestChooseNeverAssignedAndSkew(t *testing.T) {
	never := agent("never", 0)
	never.LastAssignedAt = time.Time{}
	future := agent("future", 0)
	future.LastAssignedAt = t0.Add(time.Hour) // clock skew: treated as 0 s
	waited := agent("waited", 120)
	winner, scores, _ := routing.Choose(chatReq(), []routing.Candidate{future, waited, never}, t0)
	if winner != "never" {
		t.Fatalf("winner = %q", winner)
	}
	if s := scoresByID(scores)["future"]; s.UnservedSeconds != 0 || s.UnservedScore != 0 {
		t.Fatalf("future-dated agent = %+v", s)
	}
}
