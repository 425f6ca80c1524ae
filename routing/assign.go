package routing

import (
	"cmp"
	"math"
	"slices"
	"strings"
	"time"
)

// Candidate is a snapshot of one agent taken when an interaction is to be
// assigned.
type Candidate struct {
	AgentID string `json:"agentId"`
	Status  Status `json:"status"`
	// Queues and Skills are IDs; membership of DefaultQueue is implied.
	Queues []string `json:"queues,omitempty"`
	Skills []string `json:"skills,omitempty"`
	// Capacity is the agent's effective capacity (see EffectiveCapacity).
	Capacity  Capacity  `json:"capacity"`
	Occupancy Occupancy `json:"occupancy"`
	// LastAssignedAt is when the agent was last given an interaction; the zero
	// time means never (in this session), which ranks as longest waiting.
	LastAssignedAt time.Time `json:"lastAssignedAt"`
	// PreviouslyAssigned is set when the agent already held, rejected or let
	// time out the interaction being assigned; they are not offered it again.
	PreviouslyAssigned bool `json:"previouslyAssigned,omitempty"`
}

// StickyWindow is how recent the customer's last contact with an agent must
// be for that agent to get the new interaction first.
type StickyWindow string

// Sticky windows. StickyOff assigns by score alone.
const (
	StickyOff    StickyWindow = ""
	Sticky30Days StickyWindow = "30d"
	Sticky60Days StickyWindow = "60d"
	StickyYear   StickyWindow = "365d"
	StickyEver   StickyWindow = "ever"
)

// Valid reports whether w is a known window.
func (w StickyWindow) Valid() bool {
	switch w {
	case StickyOff, Sticky30Days, Sticky60Days, StickyYear, StickyEver:
		return true
	}
	return false
}

// Covers reports whether a contact at last is inside the window ending at now.
// Windows are fixed spans of 24-hour days (a year is 365 days) measured
// between instants, so the answer does not depend on any time zone or DST
// rule; the boundary is inclusive. A contact time after now (clock skew
// between services) counts as inside.
func (w StickyWindow) Covers(last, now time.Time) bool {
	if last.IsZero() {
		return false
	}
	var days int
	switch w {
	case StickyEver:
		return true
	case Sticky30Days:
		days = 30
	case Sticky60Days:
		days = 60
	case StickyYear:
		days = 365
	default:
		return false
	}
	return now.Sub(last) <= time.Duration(days)*24*time.Hour
}

// Request describes the interaction being assigned.
type Request struct {
	InteractionID  string       `json:"interactionId"`
	Channel        Channel      `json:"channel"`
	QueueID        string       `json:"queueId"`
	RequiredSkills []string     `json:"requiredSkills,omitempty"`
	StickyWindow   StickyWindow `json:"stickyWindow,omitempty"`
	// LastAgentID and LastContactAt identify the agent who last handled this
	// customer, looked up by the caller.
	LastAgentID   string    `json:"lastAgentId,omitempty"`
	LastContactAt time.Time `json:"lastContactAt"`
}

// Reason says why a candidate is not eligible.
type Reason string

// Ineligibility reasons. Eligible checks them in this order (so reports the
// first that applies); ReasonDuplicateCandidate is only given by Choose.
const (
	ReasonNone               Reason = ""
	ReasonInvalidCandidate   Reason = "invalid_candidate"
	ReasonDuplicateCandidate Reason = "duplicate_candidate"
	ReasonUnknownChannel     Reason = "unknown_channel"
	ReasonNotAvailable       Reason = "not_available"
	ReasonNotInQueue         Reason = "not_in_queue"
	ReasonMissingSkill       Reason = "missing_skill"
	ReasonNoRoom             Reason = "no_room"
	ReasonPreviouslyAssigned Reason = "previously_assigned"
)

// Eligible reports whether c may be offered req's interaction, and if not,
// the first reason found. The combined Full Capacity figure is deliberately
// not checked (see CapacityStateOf); per-channel room is.
func Eligible(c Candidate, req Request) (bool, Reason) {
	switch {
	case c.AgentID == "":
		return false, ReasonInvalidCandidate
	case !req.Channel.Valid():
		return false, ReasonUnknownChannel
	case !c.Status.Group.ReceivesNew():
		return false, ReasonNotAvailable
	case !inQueue(c.Queues, req.QueueID):
		return false, ReasonNotInQueue
	case !hasAll(c.Skills, req.RequiredSkills):
		return false, ReasonMissingSkill
	case !HasRoom(c.Occupancy, c.Capacity, req.Channel):
		return false, ReasonNoRoom
	case c.PreviouslyAssigned:
		return false, ReasonPreviouslyAssigned
	}
	return true, ReasonNone
}

func inQueue(queues []string, q string) bool {
	return q == DefaultQueue || slices.Contains(queues, q)
}

func hasAll(have, need []string) bool {
	for _, s := range need {
		if !slices.Contains(have, s) {
			return false
		}
	}
	return true
}

// Weights of the weighted-sum method; equal, so load and fairness count the
// same.
const (
	WorkloadWeight = 0.5
	UnservedWeight = 0.5
)

// ScoreInput is what the weighted-sum method needs about one agent.
type ScoreInput struct {
	AgentID  string
	Workload float64
	// Unserved is the time since the agent's last assignment; ignored when
	// NeverAssigned.
	Unserved      time.Duration
	NeverAssigned bool
}

// Score is one candidate's line in an assignment decision, kept so the
// decision can be audited and explained to a supervisor.
type Score struct {
	AgentID         string  `json:"agentId"`
	Eligible        bool    `json:"eligible"`
	Reason          Reason  `json:"reason,omitempty"`
	Sticky          bool    `json:"sticky,omitempty"`
	Workload        float64 `json:"workload"`
	WorkloadScore   float64 `json:"workloadScore"`
	UnservedSeconds float64 `json:"unservedSeconds"`
	NeverAssigned   bool    `json:"neverAssigned,omitempty"`
	UnservedScore   float64 `json:"unservedScore"`
	Total           float64 `json:"total"`
}

// scoreQuantum: totals equal to nine decimals are ties, so that two
// mathematically equal scores reached by different float paths are settled by
// the documented tie-break rather than by the last bit of rounding noise.
const scoreQuantum = 1e9

// WeightedScores applies the weighted-sum method and returns the scores best
// first.
//
//   - Workload score = min(workload)/workload. An agent with workload 0 scores
//     1 (the limit of the formula, and the least loaded agent does score 1);
//     when the minimum is 0 every loaded agent therefore scores 0, which
//     strongly favours idle agents — the intent of the attribute.
//   - Unserved score = unserved/max(unserved). A never-assigned agent counts
//     as having waited as long as the longest-waiting agent (score 1) and
//     wins the tie-break against them; if nobody has waited at all, everyone
//     scores 1, as the attribute then tells them apart in no way.
//   - Total = 0.5·workload score + 0.5·unserved score; highest wins; ties go
//     to the longest unserved, then the smaller agent ID.
//
// Negative or NaN workloads are treated as 0 and negative unserved times
// (clock skew) as 0, so the ranking is always a total order.
func WeightedScores(in []ScoreInput) []Score {
	out := make([]Score, len(in))
	ws := make([]float64, len(in))
	minW := math.Inf(1)
	var maxU time.Duration
	for i, s := range in {
		w := s.Workload
		if !(w >= 0) { // also catches NaN
			w = 0
		}
		w = min(w, math.MaxFloat64)
		ws[i] = w
		minW = min(minW, w)
		if !s.NeverAssigned {
			maxU = max(maxU, s.Unserved)
		}
	}
	for i, s := range in {
		sc := Score{AgentID: s.AgentID, Eligible: true, Workload: ws[i], NeverAssigned: s.NeverAssigned}
		if ws[i] == 0 {
			sc.WorkloadScore = 1
		} else {
			sc.WorkloadScore = minW / ws[i]
		}
		u := max(s.Unserved, 0)
		switch {
		case s.NeverAssigned:
			u = maxU
			sc.UnservedScore = 1
		case maxU == 0:
			sc.UnservedScore = 1
		default:
			sc.UnservedScore = float64(u) / float64(maxU)
		}
		sc.UnservedSeconds = u.Seconds()
		// Explicit conversions are rounding points: they forbid FMA fusion,
		// keeping totals identical on every architecture (see package doc).
		sc.Total = float64(WorkloadWeight*sc.WorkloadScore) + float64(UnservedWeight*sc.UnservedScore)
		out[i] = sc
	}
	unserved := func(i int) time.Duration { return max(in[i].Unserved, 0) }
	idx := make([]int, len(in))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		if c := cmp.Compare(quantize(out[b].Total), quantize(out[a].Total)); c != 0 {
			return c
		}
		if in[a].NeverAssigned != in[b].NeverAssigned {
			if in[a].NeverAssigned {
				return -1
			}
			return 1
		}
		if !in[a].NeverAssigned {
			if c := cmp.Compare(unserved(b), unserved(a)); c != 0 {
				return c
			}
		}
		return strings.Compare(out[a].AgentID, out[b].AgentID)
	})
	ranked := make([]Score, len(out))
	for i, j := range idx {
		ranked[i] = out[j]
	}
	return ranked
}

func quantize(x float64) int64 { return int64(math.Round(float64(x * scoreQuantum))) }

// Choose picks the agent to offer req's interaction to.
//
// The sticky agent (req.LastAgentID, whose last contact with this customer
// falls inside req.StickyWindow) wins outright if eligible; otherwise the
// eligible candidate with the best weighted score wins. ok is false when no
// candidate is eligible.
//
// scores lists every candidate: eligible ones first, winner at scores[0],
// then by rank; then ineligible ones by agent ID with their reason. The result
// depends only on the set of candidates, not their order. Candidates that
// share an agent ID are all excluded as ReasonDuplicateCandidate, since which
// snapshot is current cannot be told without relying on input order.
func Choose(req Request, cands []Candidate, now time.Time) (winner string, scores []Score, ok bool) {
	count := make(map[string]int, len(cands))
	for _, c := range cands {
		count[c.AgentID]++
	}
	var inputs []ScoreInput
	var rejected []Score
	for _, c := range cands {
		eligible, reason := Eligible(c, req)
		if eligible && count[c.AgentID] > 1 {
			eligible, reason = false, ReasonDuplicateCandidate
		}
		if !eligible {
			rejected = append(rejected, Score{AgentID: c.AgentID, Reason: reason})
			continue
		}
		in := ScoreInput{AgentID: c.AgentID, Workload: Workload(c.Occupancy, c.Capacity)}
		if c.LastAssignedAt.IsZero() {
			in.NeverAssigned = true
		} else {
			in.Unserved = max(now.Sub(c.LastAssignedAt), 0)
		}
		inputs = append(inputs, in)
	}
	ranked := WeightedScores(inputs)
	if req.LastAgentID != "" && req.StickyWindow.Covers(req.LastContactAt, now) {
		if i := slices.IndexFunc(ranked, func(s Score) bool { return s.AgentID == req.LastAgentID }); i >= 0 {
			sticky := ranked[i]
			sticky.Sticky = true
			copy(ranked[1:i+1], ranked[:i])
			ranked[0] = sticky
		}
	}
	slices.SortFunc(rejected, func(a, b Score) int {
		return cmp.Or(strings.Compare(a.AgentID, b.AgentID), strings.Compare(string(a.Reason), string(b.Reason)))
	})
	scores = append(ranked, rejected...)
	if len(ranked) == 0 {
		return "", scores, false
	}
	return ranked[0].AgentID, scores, true
}
