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
	f := newField(in)
	out := make([]Score, len(in))
	keys := make([]rankKey, len(in))
	for i, s := range in {
		out[i] = f.score(s)
		keys[i] = rankOf(s, out[i])
	}
	idx := make([]int, len(in))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return compareRank(keys[a], keys[b]) })
	ranked := make([]Score, len(out))
	for i, j := range idx {
		ranked[i] = out[j]
	}
	return ranked
}

// field is what every weighted score is relative to: the least workload and
// the longest unserved time among the candidates scored together.
type field struct {
	minW float64
	maxU time.Duration
}

func newField(in []ScoreInput) field {
	f := field{minW: math.Inf(1)}
	for _, s := range in {
		f.minW = min(f.minW, cleanWorkload(s.Workload))
		if !s.NeverAssigned {
			f.maxU = max(f.maxU, s.Unserved)
		}
	}
	return f
}

// cleanWorkload treats negative and NaN workloads as 0.
func cleanWorkload(w float64) float64 {
	if !(w >= 0) { // also catches NaN
		w = 0
	}
	return min(w, math.MaxFloat64)
}

// score is s's line within the field.
func (f field) score(s ScoreInput) Score {
	w := cleanWorkload(s.Workload)
	sc := Score{AgentID: s.AgentID, Eligible: true, Workload: w, NeverAssigned: s.NeverAssigned}
	if w == 0 {
		sc.WorkloadScore = 1
	} else {
		sc.WorkloadScore = f.minW / w
	}
	u := max(s.Unserved, 0)
	switch {
	case s.NeverAssigned:
		u = f.maxU
		sc.UnservedScore = 1
	case f.maxU == 0:
		sc.UnservedScore = 1
	default:
		sc.UnservedScore = float64(u) / float64(f.maxU)
	}
	sc.UnservedSeconds = u.Seconds()
	// Explicit conversions are rounding points: they forbid FMA fusion,
	// keeping totals identical on every architecture (see package doc).
	sc.Total = float64(WorkloadWeight*sc.WorkloadScore) + float64(UnservedWeight*sc.UnservedScore)
	return sc
}

// rankKey is what the ranking compares: the total to nine decimals, then
// never assigned, then the longest unserved, then the smaller agent ID.
type rankKey struct {
	total    int64
	never    bool
	unserved time.Duration
	agent    string
}

func rankOf(s ScoreInput, sc Score) rankKey {
	return rankKey{total: quantize(sc.Total), never: s.NeverAssigned, unserved: max(s.Unserved, 0), agent: s.AgentID}
}

// compareRank orders a before b (negative) when a ranks higher.
func compareRank(a, b rankKey) int {
	if c := cmp.Compare(b.total, a.total); c != 0 {
		return c
	}
	if a.never != b.never {
		if a.never {
			return -1
		}
		return 1
	}
	if !a.never {
		if c := cmp.Compare(b.unserved, a.unserved); c != 0 {
			return c
		}
	}
	return strings.Compare(a.agent, b.agent)
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
	var rejected []Score
	inputs := scoreInputs(req, cands, now, func(c Candidate, reason Reason) {
		rejected = append(rejected, Score{AgentID: c.AgentID, Reason: reason})
	})
	ranked := WeightedScores(inputs)
	if sticky(req, now) {
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

// Best picks the same agent as Choose, with the same score line, and counts
// the eligible candidates, without ranking or listing everyone: its cost grows
// linearly with the candidates and it allocates little, which is what a
// decision over thousands of agents needs when only the winner is kept.
func Best(req Request, cands []Candidate, now time.Time) (winner Score, eligible int, ok bool) {
	inputs := scoreInputs(req, cands, now, nil)
	if len(inputs) == 0 {
		return Score{}, 0, false
	}
	f := newField(inputs)
	if sticky(req, now) {
		if i := slices.IndexFunc(inputs, func(s ScoreInput) bool { return s.AgentID == req.LastAgentID }); i >= 0 {
			winner = f.score(inputs[i])
			winner.Sticky = true
			return winner, len(inputs), true
		}
	}
	var best rankKey
	for i, in := range inputs {
		sc := f.score(in)
		if k := rankOf(in, sc); i == 0 || compareRank(k, best) < 0 {
			winner, best = sc, k
		}
	}
	return winner, len(inputs), true
}

// sticky reports whether req names a last agent whose contact is inside the
// queue's window.
func sticky(req Request, now time.Time) bool {
	return req.LastAgentID != "" && req.StickyWindow.Covers(req.LastContactAt, now)
}

// scoreInputs returns the weighted-sum inputs of the eligible candidates, in
// input order, and reports each other one to reject (when not nil) with its
// reason. Candidates that share an agent ID are all ineligible.
func scoreInputs(req Request, cands []Candidate, now time.Time, reject func(Candidate, Reason)) []ScoreInput {
	dup := duplicates(cands)
	inputs := make([]ScoreInput, 0, len(cands))
	for i := range cands {
		c := &cands[i]
		eligible, reason := Eligible(*c, req)
		if eligible && dup != nil && dup[c.AgentID] {
			eligible, reason = false, ReasonDuplicateCandidate
		}
		if !eligible {
			if reject != nil {
				reject(*c, reason)
			}
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
	return inputs
}

// duplicates returns the agent IDs that more than one candidate has, nil when
// there are none. A bitset of hashed IDs finds the few IDs that may repeat,
// so only those are counted in a map: the check costs one hash per candidate
// rather than a map of every candidate.
func duplicates(cands []Candidate) map[string]bool {
	if len(cands) < 2 {
		return nil
	}
	bits := 64
	for bits < 32*len(cands) {
		bits *= 2
	}
	seen := make([]uint64, 2*bits/64) // per hash bucket: seen once, seen again
	once, again := seen[:bits/64], seen[bits/64:]
	hashes := make([]uint32, len(cands))
	suspects := 0
	for i := range cands {
		h := fnv1a(cands[i].AgentID) & uint32(bits-1)
		hashes[i] = h
		w, b := h/64, uint64(1)<<(h%64)
		if once[w]&b != 0 {
			if again[w]&b == 0 {
				again[w] |= b
				suspects++
			}
			continue
		}
		once[w] |= b
	}
	if suspects == 0 {
		return nil
	}
	count := make(map[string]int, 4*suspects)
	for i, h := range hashes {
		if again[h/64]&(uint64(1)<<(h%64)) != 0 {
			count[cands[i].AgentID]++
		}
	}
	var out map[string]bool
	for id, n := range count {
		if n > 1 {
			if out == nil {
				out = map[string]bool{}
			}
			out[id] = true
		}
	}
	return out
}

// fnv1a is the 32-bit FNV-1a hash of s: fixed, so the package stays free of
// randomness (any hash gives duplicates the same answer).
func fnv1a(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}
