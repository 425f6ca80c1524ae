package presence

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"switchboard/routing"
)

// ReadyAgent is an agent who may be offered new work at the time of the read
// — logged in with a live heartbeat, in an Available-group status — with what
// routing needs of them.
type ReadyAgent struct {
	Agent          string             `json:"agent"`
	Voice          routing.VoiceState `json:"voice,omitempty"`
	LastAssignedAt time.Time          `json:"lastAssignedAt"`
	// Load is the occupancy, counted as in AgentState.
	Load Load `json:"load"`
}

// Load is an occupancy held as a value, so that reading thousands of agents
// makes no map per agent: the live slots per channel, in the order of
// routing.Channels().
type Load [len(readyChannels)]int

// Occupancy returns the load as a new routing occupancy of the channels with
// something on them (nil when there is nothing).
func (l Load) Occupancy() routing.Occupancy {
	if l == (Load{}) {
		return nil
	}
	occ := make(routing.Occupancy, 2)
	for c, n := range l {
		if n > 0 {
			occ[readyChannels[c]] = n
		}
	}
	return occ
}

// Candidate completes c (queues, skills and capacity come from PostgreSQL)
// with the live part, occ being a.Load.Occupancy() (callers that make many
// candidates may share one occupancy between equal loads). Its status carries
// the group only — every ready agent is in the Available group; Get has the
// status's name.
func (a ReadyAgent) Candidate(c routing.Candidate, occ routing.Occupancy) routing.Candidate {
	c.AgentID = a.Agent
	c.Status = routing.Status{Group: routing.GroupAvailable}
	c.Occupancy = occ
	c.LastAssignedAt = a.LastAssignedAt
	return c
}

// Ready lists the tenant's agents who may be offered new work, in no
// particular order, in one round trip whatever their number: it reads the
// tenant's ready index, which every presence script keeps up to date in the
// same atomic step as the change it makes, and judges heartbeats and
// reservations against the Redis clock read in the same round trip. Agents
// who are logged out, lapsed, or in a Busy, Away or Unavailable status are
// never read. As with Snapshot, the answer may be stale by the time it is
// acted on: Reserve re-checks.
func (s *Store) Ready(ctx context.Context, tenant string) ([]ReadyAgent, error) {
	k, err := s.keys(tenant)
	if err != nil {
		return nil, err
	}
	pipe := s.rdb.Pipeline()
	tc := pipe.Time(ctx)
	vals := pipe.HVals(ctx, k.ready())
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("presence: ready agents of tenant %s: %w", tenant, err)
	}
	now := tc.Val().UnixMilli()
	entries := vals.Val()
	out := make([]ReadyAgent, 0, len(entries))
	for _, e := range entries {
		var r readyEntry
		if !r.parse(e, now, false) || r.deadline <= now {
			continue // lapsed heartbeat; a malformed entry is Audit's to report
		}
		out = append(out, r.ready())
	}
	return out, nil
}

// The ready index (see the package documentation) holds one entry per agent
// logged in in an Available-group status:
//
//	<agent>|<heartbeat deadline>|<last assigned>|<voice>[|<channel>:<held>[:<reservation deadline>]...]...
//
// with one channel part per channel that had live slots when the entry was
// written: the number of held slots and the deadline of each reservation.
// Reservations lapse without any script running, so readers count only the
// deadlines still ahead of the server time.

// readyChannels are the channels an entry may name, by their index in
// readyEntry's arrays.
var readyChannels = [...]routing.Channel{routing.Voice, routing.LiveChat, routing.LiveMessaging, routing.Email}

func init() {
	if !slices.Equal(readyChannels[:], routing.Channels()) {
		panic("presence: readyChannels must list routing.Channels()")
	}
}

// readyEntry is a decoded entry as seen at one server time.
type readyEntry struct {
	agent        string
	deadline, la int64
	voice        string
	// held counts held slots and live the reservations still ahead of the
	// server time, per channel; reserved keeps every reservation's deadline
	// when parse is asked to.
	held, live [len(readyChannels)]int
	reserved   [len(readyChannels)][]int64
}

// parse decodes e at server time now, reporting false when it is malformed.
// With keep it also lists every reservation deadline in reserved.
func (r *readyEntry) parse(e string, now int64, keep bool) bool {
	var f string
	var ok bool
	if r.agent, e, ok = strings.Cut(e, "|"); !ok || r.agent == "" {
		return false
	}
	if f, e, ok = strings.Cut(e, "|"); !ok {
		return false
	}
	if r.deadline, ok = parseMS(f); !ok {
		return false
	}
	if f, e, ok = strings.Cut(e, "|"); !ok {
		return false
	}
	if r.la, ok = parseMS(f); !ok {
		return false
	}
	r.voice, e, _ = strings.Cut(e, "|")
	for e != "" {
		var part string
		part, e, _ = strings.Cut(e, "|")
		chs, rest, _ := strings.Cut(part, ":")
		c := slices.Index(readyChannels[:], routing.Channel(chs))
		if c < 0 {
			return false
		}
		var n string
		n, rest, _ = strings.Cut(rest, ":")
		held, err := strconv.Atoi(n)
		if err != nil || held < 0 {
			return false
		}
		r.held[c] += held
		for rest != "" {
			n, rest, _ = strings.Cut(rest, ":")
			d, ok := parseMS(n)
			if !ok || n == "" {
				return false
			}
			if d > now {
				r.live[c]++
			}
			if keep {
				r.reserved[c] = append(r.reserved[c], d)
			}
		}
	}
	return true
}

// ready is the entry as routing sees it (after parse).
func (r *readyEntry) ready() ReadyAgent {
	a := ReadyAgent{Agent: r.agent, Voice: voiceState(r.voice), LastAssignedAt: timeOf(r.la)}
	for c, ch := range readyChannels {
		a.Load[c] = r.held[c] + r.live[c]
		if ch == routing.Voice && a.Load[c] < 1 && a.Voice.OccupiesVoice() {
			a.Load[c] = 1
		}
	}
	return a
}

// voiceState returns the constant for a stored voice state.
func voiceState(v string) routing.VoiceState {
	for _, s := range [...]routing.VoiceState{routing.VoiceIdle, routing.VoiceRinging, routing.VoiceInCall, routing.VoiceWrapping} {
		if string(s) == v {
			return s
		}
	}
	return routing.VoiceState(strings.Clone(v))
}

// parseMS parses a stored Unix-millisecond field (empty is zero).
func parseMS(f string) (int64, bool) {
	if f == "" {
		return 0, true
	}
	n, err := strconv.ParseInt(f, 10, 64)
	return n, err == nil
}

// auditReady checks one agent's ready entry against their presence fields and
// live slots at server time now, as read in the same atomic step: an agent
// logged in in an Available-group status has an entry that agrees with them,
// any other agent has none. It returns what disagrees.
func auditReady(agent string, fields [5]string, entry string, slots []Slot, now int64) error {
	on, group, deadline, la, voice := fields[0], fields[1], fields[2], fields[3], fields[4]
	want := on == "1" && group == string(routing.GroupAvailable)
	switch {
	case entry == "" && !want:
		return nil
	case entry == "":
		return fmt.Errorf("agent %s is logged in in the Available group but not in the ready index", agent)
	case !want:
		return fmt.Errorf("agent %s (on %q, group %q) is in the ready index: %q", agent, on, group, entry)
	}
	var r readyEntry
	if !r.parse(entry, now, true) {
		return fmt.Errorf("agent %s: malformed ready entry %q", agent, entry)
	}
	d, _ := parseMS(deadline)
	l, _ := parseMS(la)
	if r.agent != agent || r.deadline != d || r.la != l || r.voice != voice {
		return fmt.Errorf("agent %s: ready entry %q disagrees with presence (deadline %q, last assigned %q, voice %q)", agent, entry, deadline, la, voice)
	}
	var held [len(readyChannels)]int
	var reserved [len(readyChannels)][]int64
	for _, sl := range slots {
		c := slices.Index(readyChannels[:], sl.Channel)
		switch {
		case c < 0:
			return fmt.Errorf("agent %s: slot %s on unknown channel %q", agent, sl.Interaction, sl.Channel)
		case sl.Held:
			held[c]++
		default:
			reserved[c] = append(reserved[c], sl.ExpiresAt.UnixMilli())
		}
	}
	for c := range readyChannels {
		live := slices.DeleteFunc(slices.Clone(r.reserved[c]), func(d int64) bool { return d <= now })
		slices.Sort(live)
		slices.Sort(reserved[c])
		if r.held[c] != held[c] || !slices.Equal(live, reserved[c]) {
			return fmt.Errorf("agent %s: ready entry %q disagrees with the live slots on %s (held %d, reserved until %v)",
				agent, entry, readyChannels[c], held[c], reserved[c])
		}
	}
	return nil
}
