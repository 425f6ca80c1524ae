package presence

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"switchboard/routing"
)

// Slot is one interaction counted against an agent's capacity: reserved for
// an offer, or held after the agent accepted.
type Slot struct {
	Agent       string          `json:"agent"`
	Interaction string          `json:"interaction"`
	Channel     routing.Channel `json:"channel"`
	Held        bool            `json:"held"`
	// ExpiresAt is a reservation's deadline; zero for a held slot.
	ExpiresAt time.Time `json:"expiresAt"`
}

// AgentState is what routing needs about one agent, read in one round trip.
// It carries the routing part of Presence only (Get has the rest), because
// every extra field is paid for per agent on every decision.
type AgentState struct {
	Agent string `json:"agent"`
	// LoggedIn and Expired are as in Presence.
	LoggedIn bool `json:"loggedIn"`
	Expired  bool `json:"expired,omitempty"`
	// Status is the effective status: Offline unless LoggedIn.
	Status         routing.Status     `json:"status"`
	Voice          routing.VoiceState `json:"voice,omitempty"`
	LastAssignedAt time.Time          `json:"lastAssignedAt"`
	// Occupancy counts per channel the held slots plus the live
	// reservations (a ringing offer keeps its slot); on voice an in_call
	// voice state counts as the slot even without one. Only
	// channels with something on them are present.
	Occupancy routing.Occupancy `json:"occupancy"`
	// Reserved is the part of Occupancy that is live reservations.
	Reserved routing.Occupancy `json:"reserved"`
	// Slots lists the live slots, ordered by channel then interaction.
	Slots []Slot `json:"slots"`
}

// Candidate completes c (queues, skills and capacity come from PostgreSQL)
// with the live part: ID, effective status, occupancy, last assignment.
func (a AgentState) Candidate(c routing.Candidate) routing.Candidate {
	c.AgentID = a.Agent
	c.Status = a.Status
	c.Occupancy = a.Occupancy
	c.LastAssignedAt = a.LastAssignedAt
	return c
}

// Holding is one interaction an agent holds according to the authoritative
// records (PostgreSQL read model / interaction workflows), for Rebuild.
type Holding struct {
	Agent       string          `json:"agent"`
	Interaction string          `json:"interaction"`
	Channel     routing.Channel `json:"channel"`
	// AssignedAt, when set, restores the agent's last-assigned time if it
	// is newer than what Redis has.
	AssignedAt time.Time `json:"assignedAt"`
}

// RebuildResult counts what Rebuild changed.
type RebuildResult struct {
	// Restored holdings were missing, reserved, or recorded on another
	// agent or channel, and are now held as listed.
	Restored int `json:"restored"`
	// Pruned held slots were not in the list and older than pruneBefore
	// (or had no owner record at all).
	Pruned int `json:"pruned"`
}

// member is the slot-set member of interaction on ch.
func member(ch routing.Channel, interaction string) string { return string(ch) + "|" + interaction }

// allMembers lists the interaction's member on every channel, so scripts can
// drop a stale one without knowing its channel.
func allMembers(interaction string) []any {
	chs := routing.Channels()
	out := make([]any, len(chs))
	for i, ch := range chs {
		out[i] = member(ch, interaction)
	}
	return out
}

// Reserve atomically takes one of agent's slots on ch for interaction, for
// ttl (the ring timeout plus a margin: if the process that reserved dies,
// the slot frees itself then). It reports false, with no error, when the
// agent is not logged in or lapsed, not in an Available-group status, has no
// room (live slots on ch ≥ capacity; voice capacity is always 1), or when the
// interaction is already reserved or held by any agent, this one included:
// a repeat is refused so that two code paths can never both believe they own
// the same offer. An activity retrying a Reserve whose reply was lost should
// look at Holder, or Release and reserve again.
func (s *Store) Reserve(ctx context.Context, tenant, agent, interaction string, ch routing.Channel, capacity int, ttl time.Duration) (bool, error) {
	return s.reserve(ctx, tenant, agent, interaction, ch, capacity, ttl, false)
}

// ReserveOwn is Reserve for an interaction the agent starts themselves (outbound):
// any status of a live session will do, as an agent on a break may still call a
// customer back; the capacity is checked as for an offer.
func (s *Store) ReserveOwn(ctx context.Context, tenant, agent, interaction string, ch routing.Channel, capacity int, ttl time.Duration) (bool, error) {
	return s.reserve(ctx, tenant, agent, interaction, ch, capacity, ttl, true)
}

func (s *Store) reserve(ctx context.Context, tenant, agent, interaction string, ch routing.Channel, capacity int, ttl time.Duration, anyStatus bool) (bool, error) {
	k, err := s.agentKeys(tenant, agent)
	if err != nil {
		return false, err
	}
	if err := checkID("interaction", interaction); err != nil {
		return false, err
	}
	switch {
	case !ch.Valid():
		return false, fmt.Errorf("%w: unknown channel %q", ErrInvalid, ch)
	case capacity < 0 || capacity > routing.MaxCapacity:
		return false, fmt.Errorf("%w: capacity %d outside 0..%d", ErrInvalid, capacity, routing.MaxCapacity)
	case ttl < time.Millisecond:
		return false, fmt.Errorf("%w: reservation ttl %v is below 1ms", ErrInvalid, ttl)
	}
	if ch == routing.Voice {
		capacity = routing.VoiceCapacity
	}
	res, err := reserveScript.Run(ctx, s.rdb,
		[]string{k.agent(agent), k.slots(agent), k.ix(interaction), k.agents(), k.ready()},
		agent, interaction, string(ch), capacity, durationMS(ttl), durationMS(reservationGC), anyStatusArg(anyStatus)).StringSlice()
	if err != nil {
		return false, fmt.Errorf("presence: reserve %s for agent %s: %w", interaction, agent, err)
	}
	return len(res) > 0 && res[0] == "ok", nil
}

// Confirm turns agent's live reservation of interaction into a held slot
// (the agent accepted) and sets the agent's last-assigned time. It is
// idempotent: confirming a slot already held by agent reports true and
// changes nothing. It reports false when the reservation lapsed, was
// released, or belongs to another agent; the offer is then void. Presence is
// not checked: an agent who accepted holds the interaction whatever their
// status has become since.
func (s *Store) Confirm(ctx context.Context, tenant, agent, interaction string) (bool, error) {
	k, err := s.agentKeys(tenant, agent)
	if err != nil {
		return false, err
	}
	if err := checkID("interaction", interaction); err != nil {
		return false, err
	}
	args := append([]any{agent, interaction}, allMembers(interaction)...)
	res, err := confirmScript.Run(ctx, s.rdb,
		[]string{k.agent(agent), k.slots(agent), k.ix(interaction), k.ready()}, args...).StringSlice()
	if err != nil {
		return false, fmt.Errorf("presence: confirm %s for agent %s: %w", interaction, agent, err)
	}
	return len(res) > 0 && (res[0] == "ok" || res[0] == "held"), nil
}

// Release frees agent's slot for interaction, reserved or held (offer
// rejected or timed out, interaction ended, transferred away, or moved to a
// conversation status that does not count). It never touches another
// agent's slot and is idempotent; it reports whether anything was removed.
func (s *Store) Release(ctx context.Context, tenant, agent, interaction string) (bool, error) {
	k, err := s.agentKeys(tenant, agent)
	if err != nil {
		return false, err
	}
	if err := checkID("interaction", interaction); err != nil {
		return false, err
	}
	args := append([]any{agent}, allMembers(interaction)...)
	n, err := releaseScript.Run(ctx, s.rdb, []string{k.slots(agent), k.ix(interaction), k.agent(agent), k.ready()}, args...).Int()
	if err != nil {
		return false, fmt.Errorf("presence: release %s for agent %s: %w", interaction, agent, err)
	}
	return n == 1, nil
}

// snapshotFields are the presence fields Snapshot reads, and snapshotIndex
// their positions in presenceFields.
var (
	snapshotFields = []string{"on", "status", "group", "voice", "deadline", "la"}
	snapshotIndex  = func() []int {
		out := make([]int, len(snapshotFields))
		for i, f := range snapshotFields {
			out[i] = slices.Index(presenceFields, f)
		}
		return out
	}()
)

// Occupancy returns the agent's live occupancy per channel (see
// AgentState.Occupancy).
func (s *Store) Occupancy(ctx context.Context, tenant, agent string) (routing.Occupancy, error) {
	st, err := s.Snapshot(ctx, tenant, []string{agent})
	if err != nil {
		return nil, err
	}
	return st[0].Occupancy, nil
}

// LastAssignedAt returns when the agent last confirmed an interaction (zero:
// never, or not since Redis was flushed and rebuilt without it).
func (s *Store) LastAssignedAt(ctx context.Context, tenant, agent string) (time.Time, error) {
	k, err := s.agentKeys(tenant, agent)
	if err != nil {
		return time.Time{}, err
	}
	v, err := s.rdb.HGet(ctx, k.agent(agent), "la").Result()
	if errors.Is(err, redis.Nil) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("presence: last assigned of agent %s: %w", agent, err)
	}
	return timeOf(ms(v)), nil
}

// Slots lists the agent's live slots.
func (s *Store) Slots(ctx context.Context, tenant, agent string) ([]Slot, error) {
	st, err := s.Snapshot(ctx, tenant, []string{agent})
	if err != nil {
		return nil, err
	}
	return st[0].Slots, nil
}

// Holder returns the live slot of interaction, if any agent has one.
func (s *Store) Holder(ctx context.Context, tenant, interaction string) (Slot, bool, error) {
	k, err := s.keys(tenant)
	if err != nil {
		return Slot{}, false, err
	}
	if err := checkID("interaction", interaction); err != nil {
		return Slot{}, false, err
	}
	pipe := s.rdb.Pipeline()
	tc := pipe.Time(ctx)
	gc := pipe.Get(ctx, k.ix(interaction))
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return Slot{}, false, fmt.Errorf("presence: holder of %s: %w", interaction, err)
	}
	v, err := gc.Result()
	if errors.Is(err, redis.Nil) {
		return Slot{}, false, nil
	}
	o, ok := parseOwner(v)
	if !ok {
		return Slot{}, false, fmt.Errorf("presence: holder of %s: %w: owner record %q", interaction, ErrInconsistent, v)
	}
	now := tc.Val().UnixMilli()
	if !o.held && o.n <= now {
		return Slot{}, false, nil
	}
	sl := Slot{Agent: o.agent, Interaction: interaction, Channel: o.ch, Held: o.held}
	if !o.held {
		sl.ExpiresAt = timeOf(o.n)
	}
	return sl, true, nil
}

// owner is a decoded owner record ("R|agent|channel|deadline" or
// "H|agent|channel|since").
type owner struct {
	held  bool
	agent string
	ch    routing.Channel
	n     int64
}

func parseOwner(v string) (owner, bool) {
	parts := strings.Split(v, "|")
	if len(parts) != 4 || (parts[0] != "R" && parts[0] != "H") {
		return owner{}, false
	}
	n, err := strconv.ParseInt(parts[3], 10, 64)
	if err != nil {
		return owner{}, false
	}
	return owner{held: parts[0] == "H", agent: parts[1], ch: routing.Channel(parts[2]), n: n}, true
}

// Snapshot reads the presence and live slots of every listed agent in one
// pipelined round trip, in the order given (unknown agents read as logged
// out and empty). Liveness is judged against the Redis clock read at the head
// of the same pipeline. The reads of different agents are not one atomic
// step — an agent may change between two of them — which is why the
// decision it feeds is always confirmed by Reserve.
func (s *Store) Snapshot(ctx context.Context, tenant string, agents []string) ([]AgentState, error) {
	k, err := s.keys(tenant)
	if err != nil {
		return nil, err
	}
	for _, a := range agents {
		if err := checkID("agent", a); err != nil {
			return nil, err
		}
	}
	if len(agents) == 0 {
		return []AgentState{}, nil
	}
	pipe := s.rdb.Pipeline()
	tc := pipe.Time(ctx)
	hm := make([]*redis.SliceCmd, len(agents))
	zs := make([]*redis.ZSliceCmd, len(agents))
	for i, a := range agents {
		hm[i] = pipe.HMGet(ctx, k.agent(a), snapshotFields...)
		zs[i] = pipe.ZRangeWithScores(ctx, k.slots(a), 0, -1)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("presence: snapshot of %d agents in tenant %s: %w", len(agents), tenant, err)
	}
	now := tc.Val().UnixMilli()
	out := make([]AgentState, len(agents))
	full := make([]any, len(presenceFields))
	for i, a := range agents {
		clear(full)
		for j, v := range hm[i].Val() {
			full[snapshotIndex[j]] = v
		}
		p := parsePresence(a, now, full)
		st := AgentState{
			Agent:          a,
			LoggedIn:       p.LoggedIn,
			Expired:        p.Expired,
			Status:         p.Status,
			Voice:          p.Voice,
			LastAssignedAt: p.LastAssignedAt,
			Occupancy:      routing.Occupancy{},
			Reserved:       routing.Occupancy{},
			Slots:          []Slot{},
		}
		for _, z := range zs[i].Val() {
			m, _ := z.Member.(string)
			chs, ix, ok := strings.Cut(m, "|")
			if !ok || z.Score <= float64(now) {
				continue // malformed, or a lapsed reservation not yet cleaned
			}
			sl := Slot{Agent: a, Interaction: ix, Channel: routing.Channel(chs), Held: math.IsInf(z.Score, 1)}
			st.Occupancy[sl.Channel]++
			if !sl.Held {
				sl.ExpiresAt = timeOf(int64(z.Score))
				st.Reserved[sl.Channel]++
			}
			st.Slots = append(st.Slots, sl)
		}
		if st.Voice.OccupiesVoice() && st.Occupancy[routing.Voice] < 1 {
			st.Occupancy[routing.Voice] = 1
		}
		slices.SortFunc(st.Slots, func(x, y Slot) int {
			return cmp.Or(cmp.Compare(x.Channel, y.Channel), cmp.Compare(x.Interaction, y.Interaction))
		})
		out[i] = st
	}
	return out, nil
}

// Audit reads every live slot of the tenant in one atomic step and checks
// each against its interaction's owner record, and every agent's ready-index
// entry against their presence and live slots. It returns the slots ordered
// by agent then interaction, and an error wrapping ErrInconsistent if a slot
// and its owner record disagree or the ready index does not match presence
// (which the scripts never leave behind). Its cost grows with the tenant's
// agents: it is for auditors, tests and supervisors' consistency checks, not
// for the assignment path.
func (s *Store) Audit(ctx context.Context, tenant string) ([]Slot, error) {
	k, err := s.keys(tenant)
	if err != nil {
		return nil, err
	}
	res, err := auditScript.Run(ctx, s.rdb, []string{k.agents(), k.ready()}, k.base).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("presence: audit tenant %s: %w", tenant, err)
	}
	if len(res) < 3 {
		return nil, fmt.Errorf("presence: audit tenant %s: short reply %v", tenant, res)
	}
	now := ms(res[0])
	nslots, _ := strconv.Atoi(res[1])
	nready, _ := strconv.Atoi(res[2])
	if nslots < 0 || 3+4*nslots > len(res) || (len(res)-3-4*nslots)%7 != 0 {
		return nil, fmt.Errorf("presence: audit tenant %s: reply of %d items for %d slots", tenant, len(res), nslots)
	}
	var out []Slot
	var bad []error
	bySlotAgent := map[string][]Slot{}
	for i := 3; i < 3+4*nslots; i += 4 {
		agent, m, score, rec := res[i], res[i+1], res[i+2], res[i+3]
		chs, ix, _ := strings.Cut(m, "|")
		sc, err := strconv.ParseFloat(score, 64)
		if err != nil {
			bad = append(bad, fmt.Errorf("agent %s slot %q: score %q", agent, m, score))
			continue
		}
		sl := Slot{Agent: agent, Interaction: ix, Channel: routing.Channel(chs), Held: math.IsInf(sc, 1)}
		if !sl.Held {
			sl.ExpiresAt = timeOf(int64(sc))
		}
		out = append(out, sl)
		bySlotAgent[agent] = append(bySlotAgent[agent], sl)
		o, ok := parseOwner(rec)
		switch {
		case !ok:
			bad = append(bad, fmt.Errorf("agent %s slot %q: owner record %q", agent, m, rec))
		case o.agent != agent || o.ch != sl.Channel || o.held != sl.Held || (!o.held && float64(o.n) != sc):
			bad = append(bad, fmt.Errorf("agent %s slot %q (score %s): owner record %q", agent, m, score, rec))
		}
	}
	indexed := 0
	for i := 3 + 4*nslots; i+6 < len(res); i += 7 {
		agent, entry := res[i], res[i+6]
		if entry != "" {
			indexed++
		}
		if err := auditReady(agent, [5]string(res[i+1:i+6]), entry, bySlotAgent[agent], now); err != nil {
			bad = append(bad, err)
		}
	}
	if indexed != nready {
		bad = append(bad, fmt.Errorf("the ready index has %d entries, %d of them for agents of the tenant", nready, indexed))
	}
	slices.SortFunc(out, func(x, y Slot) int {
		return cmp.Or(cmp.Compare(x.Agent, y.Agent), cmp.Compare(x.Interaction, y.Interaction))
	})
	if len(bad) > 0 {
		return out, fmt.Errorf("presence: audit tenant %s: %w: %w", tenant, ErrInconsistent, errors.Join(bad...))
	}
	return out, nil
}

// Rebuild restores held occupancy from the authoritative list of what each
// agent holds — after Redis was flushed or lost, or to repair drift. Every
// listed interaction ends up held by the listed agent on the listed channel,
// replacing any reservation or hold of it elsewhere (the list wins), even
// past capacity. With a non-zero pruneBefore, held slots not in the list that
// were confirmed before pruneBefore are released; take pruneBefore from
// Store.Now before reading the list, so an interaction confirmed while the
// list was being read is never pruned. Rebuild is one atomic script: run it
// per tenant. Presence and live reservations are left as they are (see the
// package documentation); every agent's ready entry is recomputed, so the
// script's cost grows with the tenant's agents.
func (s *Store) Rebuild(ctx context.Context, tenant string, held []Holding, pruneBefore time.Time) (RebuildResult, error) {
	k, err := s.keys(tenant)
	if err != nil {
		return RebuildResult{}, err
	}
	seen := make(map[string]string, len(held))
	args := make([]any, 0, 2+4*len(held))
	var prune int64
	if !pruneBefore.IsZero() {
		prune = max(pruneBefore.UnixMilli(), 1)
	}
	args = append(args, k.base, prune)
	for i, h := range held {
		if err := checkID("agent", h.Agent); err != nil {
			return RebuildResult{}, fmt.Errorf("held[%d]: %w", i, err)
		}
		if err := checkID("interaction", h.Interaction); err != nil {
			return RebuildResult{}, fmt.Errorf("held[%d]: %w", i, err)
		}
		if !h.Channel.Valid() {
			return RebuildResult{}, fmt.Errorf("held[%d]: %w: unknown channel %q", i, ErrInvalid, h.Channel)
		}
		if prev, dup := seen[h.Interaction]; dup {
			return RebuildResult{}, fmt.Errorf("held[%d]: %w: interaction %s is listed for %s and %s", i, ErrInvalid, h.Interaction, prev, h.Agent)
		}
		seen[h.Interaction] = h.Agent
		var at int64
		if !h.AssignedAt.IsZero() {
			at = max(h.AssignedAt.UnixMilli(), 0)
		}
		args = append(args, h.Agent, h.Interaction, string(h.Channel), at)
	}
	res, err := rebuildScript.Run(ctx, s.rdb, []string{k.agents(), k.ready()}, args...).Int64Slice()
	if err != nil {
		return RebuildResult{}, fmt.Errorf("presence: rebuild tenant %s: %w", tenant, err)
	}
	if len(res) != 2 {
		return RebuildResult{}, fmt.Errorf("presence: rebuild tenant %s: reply %v", tenant, res)
	}
	return RebuildResult{Restored: int(res[0]), Pruned: int(res[1])}, nil
}

func anyStatusArg(on bool) string {
	if on {
		return "1"
	}
	return "0"
}
