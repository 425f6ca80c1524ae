// Package dispatch makes the ACD's assignment decisions on live data: it reads the
// candidates of an interaction from PostgreSQL (queue members, skills, capacity) and
// Redis (presence, occupancy), lets the pure routing package choose, and reserves the
// winner atomically in presence; and when an agent becomes free it reserves the agent
// for the waiting interactions they should be given (bulk assignment) and wakes them
// through the Wake the wiring gives it, since the workflows' names are not its own.
//
// A decision is taken on a snapshot that may be stale by the time it is acted on; the
// reservation, one Redis script, is what makes it safe: it re-checks status and
// capacity and refuses a second holder of the interaction.
package dispatch

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"switchboard/pgstore"
	"switchboard/presence"
	"switchboard/routing"
)

// ReservationMargin is how long a reservation outlives the ring timeout: the time the
// interaction workflow has to notice the timeout and release the slot itself. If it
// cannot (its worker died), the reservation lapses on its own this much later.
const ReservationMargin = 15 * time.Second

// maxReserveTries bounds how often one decision is retaken when the winner's slot
// was taken between the snapshot and the reservation.
const maxReserveTries = 5

// maxBulkRounds bounds how often bulk assignment lists the waiting interactions
// again after finding some already taken.
const maxBulkRounds = 4

// fetchTimeout bounds the read of a queue's agents that concurrent decisions share.
const fetchTimeout = 30 * time.Second

// Dispatcher reads PostgreSQL and Redis for assignment decisions. Its only state is
// an optional cache of queue members' settings (AgentsTTL); presence is always read
// fresh, and the reservation re-checks it atomically.
type Dispatcher struct {
	Store    *pgstore.Store
	Presence *presence.Store
	// AgentsTTL, when positive, keeps each queue's enabled agents with their
	// skills and capacity in process memory that long, so a decision reads only
	// presence: with thousands of agents, that read dominated each decision. A
	// change to membership, skills or capacity reaches decisions that much later.
	AgentsTTL time.Duration
	// WakeCallback tells a self-callback waiting past its time for its agent that
	// the agent's voice slot is now reserved for its call; nil leaves such
	// callbacks to look by themselves (their safety recheck).
	WakeCallback CallbackWake

	mu      sync.Mutex
	agents  map[string]queueAgents
	fetches singleflight.Group
}

// queueAgents is a queue's members as cached, and the ready agents found not to be
// members since (looked up once each, not at every decision).
type queueAgents struct {
	byID    members
	fetched time.Time
	absent  map[string]bool
}

// Request is one interaction to offer.
type Request struct {
	TenantID      string          `json:"tenantId"`
	InteractionID string          `json:"interactionId"`
	Channel       routing.Channel `json:"channel"`
	QueueID       string          `json:"queueId"`
	// RequiredSkills are skill IDs the agent must hold.
	RequiredSkills []string `json:"requiredSkills,omitempty"`
	// Customer identifies the customer for the sticky-agent rule.
	Customer string `json:"customer,omitempty"`
	// Excluded agents had the interaction already and are not offered it again.
	Excluded []string `json:"excluded,omitempty"`
}

// Decision is the outcome of Reserve.
type Decision struct {
	// AgentID is the agent whose slot is now reserved; empty when nobody was.
	AgentID string `json:"agentId,omitempty"`
	// Score is the winner's line of the routing decision.
	Score *routing.Score `json:"score,omitempty"`
	// Adopted: the interaction was already reserved (an earlier try of the same
	// offer whose answer was lost), and that reservation is the decision.
	Adopted bool `json:"adopted,omitempty"`
	// Manual: the queue does not assign this channel automatically.
	Manual bool `json:"manual,omitempty"`
	// Contended: every winner's slot was taken before it could be reserved;
	// deciding again at once may well succeed.
	Contended bool `json:"contended,omitempty"`
	// Considered counts the candidates of the last try — the queue's enabled
	// agents who were ready for new work (logged in, in an Available-group
	// status) — and Eligible those of them who could take the interaction.
	Considered int `json:"considered"`
	Eligible   int `json:"eligible"`
	// RingTimeout is the tenant's; the reservation lasts it plus ReservationMargin.
	RingTimeout time.Duration `json:"ringTimeout"`
	// ReservedAt is when the agent's reservation began, and RingUntil when the
	// offer must stop ringing: ReservationMargin before the reservation lapses. An
	// adopted reservation began earlier (bulk assignment made it), so it rings only
	// for what is left of it.
	ReservedAt time.Time `json:"reservedAt"`
	RingUntil  time.Time `json:"ringUntil"`
}

// Reserve picks the agent to offer the interaction to and reserves one of their
// slots on its channel. Sticky agent first when the queue says so, else the weighted
// sum; excluded agents are never chosen. When the interaction already holds a live
// reservation, that one is returned (Adopted): this makes a retried call safe.
func (d *Dispatcher) Reserve(ctx context.Context, req Request) (Decision, error) {
	q, err := d.Store.GetAssignmentQueue(ctx, req.TenantID, req.QueueID)
	if err != nil {
		return Decision{}, fmt.Errorf("queue of interaction %s: %w", req.InteractionID, err)
	}
	dec := Decision{RingTimeout: q.RingTimeout}
	if held, ok, err := d.Presence.Holder(ctx, req.TenantID, req.InteractionID); err != nil {
		return Decision{}, err
	} else if ok {
		dec.AgentID, dec.Adopted = held.Agent, true
		dec.RingUntil = held.ExpiresAt.Add(-ReservationMargin)
		dec.ReservedAt = dec.RingUntil.Add(-q.RingTimeout)
		if held.Held {
			dec.ReservedAt, dec.RingUntil = time.Now(), time.Now()
		}
		return dec, nil
	}
	if !q.AutoAssigns(req.Channel) {
		dec.Manual = true
		return dec, nil
	}
	rreq := routing.Request{
		InteractionID: req.InteractionID, Channel: req.Channel, QueueID: q.QueueID,
		RequiredSkills: req.RequiredSkills, StickyWindow: q.Sticky,
	}
	if q.Sticky != routing.StickyOff {
		agent, at, ok, err := d.Store.LastContact(ctx, req.TenantID, req.Customer, req.InteractionID)
		if err != nil {
			return Decision{}, fmt.Errorf("sticky agent of %s: %w", req.InteractionID, err)
		}
		if ok {
			rreq.LastAgentID, rreq.LastContactAt = agent, at
		}
	}
	ttl := q.RingTimeout + ReservationMargin
	for range maxReserveTries {
		c, err := d.choose(ctx, req.TenantID, q, rreq, req.Excluded)
		if err != nil {
			return Decision{}, err
		}
		dec.Considered, dec.Eligible = c.considered, c.eligible
		if !c.ok {
			return dec, nil
		}
		winner := c.winner
		at := time.Now()
		reserved, err := d.Presence.Reserve(ctx, req.TenantID, winner.AgentID, req.InteractionID, req.Channel, c.capacity, ttl)
		if err != nil {
			return Decision{}, err
		}
		if reserved {
			dec.AgentID, dec.Score = winner.AgentID, &winner
			dec.ReservedAt, dec.RingUntil = at, at.Add(q.RingTimeout)
			return dec, nil
		}
	}
	dec.Contended = true
	return dec, nil
}

// choice is one try's pick.
type choice struct {
	winner routing.Score
	// capacity is the winner's on the request's channel.
	capacity             int
	considered, eligible int
	ok                   bool
}

// choose reads the candidates and lets routing pick, as routing.Choose would
// (routing.Best: the same winner without ranking everyone).
func (d *Dispatcher) choose(ctx context.Context, tenantID string, q pgstore.AssignmentQueue, req routing.Request, excluded []string) (choice, error) {
	buf := candidateBuffers.Get().(*[]routing.Candidate)
	defer func() {
		clear(*buf) // drops the references to the agents' settings and state
		*buf = (*buf)[:0]
		candidateBuffers.Put(buf)
	}()
	cands, err := d.candidates(ctx, tenantID, q, excluded, (*buf)[:0])
	*buf = cands
	if err != nil {
		return choice{}, err
	}
	out := choice{considered: len(cands)}
	out.winner, out.eligible, out.ok = routing.Best(req, cands, time.Now())
	if out.ok {
		i := slices.IndexFunc(cands, func(c routing.Candidate) bool { return c.AgentID == out.winner.AgentID })
		out.capacity = cands[i].Capacity[req.Channel]
	}
	return out, nil
}

// candidateBuffers recycle the candidate lists of decisions: with thousands of
// agents each is large, and only the winner's line outlives the decision.
var candidateBuffers = sync.Pool{New: func() any { return new([]routing.Candidate) }}

// candidates appends to buf the queue's enabled agents who are ready for new
// work (logged in, in an Available-group status: presence's ready index, so
// agents on a break or offline are never read), with their live state; excluded
// agents are marked PreviouslyAssigned.
func (d *Dispatcher) candidates(ctx context.Context, tenantID string, q pgstore.AssignmentQueue, excluded []string, buf []routing.Candidate) ([]routing.Candidate, error) {
	ready, err := d.Presence.Ready(ctx, tenantID)
	if err != nil {
		return buf, err
	}
	members, err := d.queueAgents(ctx, tenantID, q, ready)
	if err != nil {
		return buf, fmt.Errorf("agents of queue %s: %w", q.QueueID, err)
	}
	// Agents with the same load share one occupancy (nothing changes it), so
	// the candidates make a map per distinct load, not per agent.
	occ := map[presence.Load]routing.Occupancy{}
	for _, r := range ready {
		m, ok := members[r.Agent]
		if !ok {
			continue
		}
		o, seen := occ[r.Load]
		if !seen {
			o = r.Load.Occupancy()
			occ[r.Load] = o
		}
		c := r.Candidate(*m, o)
		c.PreviouslyAssigned = slices.Contains(excluded, c.AgentID)
		buf = append(buf, c)
	}
	return buf, nil
}

// Wake tells the workflow of a waiting interaction that an agent's slot was reserved
// for it (AgentAvailableSignal): it adopts the reservation as its next offer. It
// returns ErrGone when the interaction no longer runs. The wiring provides it;
// dispatch owns no workflow names.
type Wake func(ctx context.Context, tenantID, interactionID, agentID string) error

// ErrGone is Wake's answer for an interaction whose workflow has ended.
var ErrGone = errors.New("dispatch: the interaction no longer runs")

// CallbackWake wakes the workflow of callback callbackID: the agent's slot is
// reserved for its call. ErrGone says the callback no longer waits.
type CallbackWake func(ctx context.Context, tenantID, callbackID, agentID string) error

// CallbackHold is how long a slot reserved for a callback's call lives before the
// call confirms it: the call starts at once, and a crash between the two frees the
// slot by itself.
const CallbackHold = time.Minute

// maxCallbackWakes bounds the self-callbacks one bulk assignment looks at.
const maxCallbackWakes = 5

// offerCallbacks gives an agent who may have room the self-callbacks past their time
// that wait for them, before any queued interaction: a callback was promised to the
// customer, and the calls of the queue would otherwise take the agent's voice slot
// again each time it frees. It reserves the slot for the callback's next call (the
// reservation re-checks status and room) and wakes the callback, which adopts it.
func (d *Dispatcher) offerCallbacks(ctx context.Context, tenantID, agentID string) error {
	waiting, err := d.Store.WaitingSelfCallbacks(ctx, tenantID, agentID, time.Now(), maxCallbackWakes)
	if err != nil || len(waiting) == 0 {
		return err
	}
	for _, c := range waiting {
		ok, err := d.Presence.Reserve(ctx, tenantID, agentID, c.NextFireID, routing.Voice, 1, CallbackHold)
		if err != nil {
			return err
		}
		if !ok {
			held, found, err := d.Presence.Holder(ctx, tenantID, c.NextFireID)
			if err != nil {
				return err
			}
			if !found || held.Agent != agentID || held.Held {
				continue // no room for this call (another may be reserved already)
			}
			// Reserved already (a retry of this call): wake it again.
		}
		err = d.WakeCallback(ctx, tenantID, c.ID, agentID)
		if errors.Is(err, ErrGone) {
			if _, err := d.Presence.Release(ctx, tenantID, agentID, c.NextFireID); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("wake callback %s: %w", c.ID, err)
		}
		return nil // the agent's one voice slot is the callback's
	}
	return nil
}

// OfferWaiting is bulk assignment for an agent who may have room now (login, a status
// in the Available group, a slot released). A self-callback of the agent past its
// time goes first (offerCallbacks). Then it reserves one of the agent's slots for
// each waiting interaction the agent should take — those of the agent's queues the
// agent is eligible for, in order of priority then creation, until the agent is full —
// and wakes each, which then offers itself to the agent. A reservation that fails (the
// interaction was taken meanwhile, the agent filled up) is skipped. It returns the
// interactions woken.
func (d *Dispatcher) OfferWaiting(ctx context.Context, tenantID, agentID string, wake Wake) ([]string, error) {
	if d.WakeCallback != nil {
		if err := d.offerCallbacks(ctx, tenantID, agentID); err != nil {
			return nil, err
		}
	}
	var (
		woken []string
		taken []string
		ttl   time.Duration
	)
	// A waiting interaction already reserved for another agent still reads as
	// queued until its run adopts the reservation; such ones are skipped and the
	// listing taken again without them, so they do not use up the agent's room.
	for range maxBulkRounds {
		waiting, capacity, err := d.WaitingFor(ctx, tenantID, agentID, slices.Concat(taken, woken))
		if err != nil || len(waiting) == 0 {
			return woken, err
		}
		if ttl == 0 {
			settings, err := d.Store.GetACDSettings(ctx, tenantID)
			if err != nil {
				return woken, err
			}
			ttl = time.Duration(settings.RingTimeoutSeconds)*time.Second + ReservationMargin
		}
		skipped := false
		for _, w := range waiting {
			ok, err := d.Presence.Reserve(ctx, tenantID, agentID, w.ID, w.Channel, capacity[w.Channel], ttl)
			if err != nil {
				return woken, err
			}
			if !ok {
				held, found, err := d.Presence.Holder(ctx, tenantID, w.ID)
				if err != nil {
					return woken, err
				}
				if !found || held.Agent != agentID || held.Held {
					// Taken by someone else (or the agent filled up or left).
					taken = append(taken, w.ID)
					skipped = true
					continue
				}
				// A retry of this very call reserved it already: wake it again.
			}
			if wake != nil {
				err := wake(ctx, tenantID, w.ID, agentID)
				if errors.Is(err, ErrGone) {
					// It ended after it was listed: give the slot back at once.
					if _, err := d.Presence.Release(ctx, tenantID, agentID, w.ID); err != nil {
						return woken, err
					}
					taken = append(taken, w.ID)
					skipped = true
					continue
				}
				if err != nil {
					return woken, fmt.Errorf("wake interaction %s: %w", w.ID, err)
				}
			}
			woken = append(woken, w.ID)
		}
		if !skipped {
			return woken, nil
		}
	}
	return woken, nil
}

// queueAgents returns the settings of the queue's enabled agents, by agent ID:
// of those among ready, read from PostgreSQL, or all of them from the cache when
// AgentsTTL allows. Concurrent decisions that find the cache stale wait for one
// read rather than each making its own.
func (d *Dispatcher) queueAgents(ctx context.Context, tenantID string, q pgstore.AssignmentQueue, ready []presence.ReadyAgent) (members, error) {
	if d.AgentsTTL <= 0 {
		if len(ready) == 0 {
			return nil, nil
		}
		ids := make([]string, len(ready))
		for i, r := range ready {
			ids[i] = r.Agent
		}
		return d.fetchAgents(ctx, tenantID, q, ids)
	}
	key := tenantID + "/" + q.QueueID
	d.mu.Lock()
	cached, ok := d.agents[key]
	d.mu.Unlock()
	if ok && time.Since(cached.fetched) <= d.AgentsTTL {
		return d.withNewcomers(ctx, tenantID, q, key, cached, ready)
	}
	v, err, _ := d.fetches.Do(key, func() (any, error) {
		// Shared by every decision waiting for it, so not bound to this one's
		// cancellation.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fetchTimeout)
		defer cancel()
		fetched := time.Now()
		byID, err := d.fetchAgents(ctx, tenantID, q, nil)
		if err != nil {
			return nil, err
		}
		d.mu.Lock()
		if d.agents == nil {
			d.agents = map[string]queueAgents{}
		}
		d.agents[key] = queueAgents{byID: byID, fetched: fetched}
		d.mu.Unlock()
		return byID, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(members), nil
}

// withNewcomers completes a cached member list with the ready agents it does not
// know: an agent created, enabled or added to the queue after the list was read,
// who logs in at once, would otherwise get no offers until the list is read again,
// and bulk assignment ran at their login already. Each unknown agent is looked up
// once per cached list; those who are not members are remembered as such.
func (d *Dispatcher) withNewcomers(ctx context.Context, tenantID string, q pgstore.AssignmentQueue, key string, cached queueAgents, ready []presence.ReadyAgent) (members, error) {
	var unknown []string
	for _, r := range ready {
		if cached.byID[r.Agent] == nil && !cached.absent[r.Agent] {
			unknown = append(unknown, r.Agent)
		}
	}
	if len(unknown) == 0 {
		return cached.byID, nil
	}
	found, err := d.fetchAgents(ctx, tenantID, q, unknown)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	cur := d.agents[key]
	if !cur.fetched.Equal(cached.fetched) {
		cur = cached // read again meanwhile: complete the list this decision has
	}
	byID := cur.byID
	if len(found) > 0 {
		byID = make(members, len(cur.byID)+len(found))
		maps.Copy(byID, cur.byID)
		maps.Copy(byID, found)
	}
	absent := maps.Clone(cur.absent)
	if absent == nil {
		absent = map[string]bool{}
	}
	for _, id := range unknown {
		if found[id] == nil {
			absent[id] = true
		}
	}
	if d.agents[key].fetched.Equal(cached.fetched) {
		d.agents[key] = queueAgents{byID: byID, fetched: cached.fetched, absent: absent}
	}
	return byID, nil
}

// members are a queue's enabled agents with their settings, by agent ID; shared
// by concurrent decisions, so read-only.
type members map[string]*routing.Candidate

// fetchAgents reads the settings of the queue's enabled agents among ids (all of
// them when ids is nil). Candidates made from them share Queues, Skills and
// Capacity, which nothing changes.
//
// Agents mostly have the same capacity and skills, so equal ones are made one
// shared value, and the agent IDs the map is keyed by are laid out in one
// block: a decision looks every ready agent up and reads their capacity, and
// with thousands of agents that is cheap only when it stays in the CPU's cache.
func (d *Dispatcher) fetchAgents(ctx context.Context, tenantID string, q pgstore.AssignmentQueue, ids []string) (members, error) {
	all, err := d.Store.AssignmentAgents(ctx, tenantID, q, ids)
	if err != nil {
		return nil, err
	}
	var block strings.Builder
	for _, c := range all {
		block.WriteString(c.AgentID)
	}
	keys := block.String()
	queues := []string{q.QueueID}
	capacities := map[string]routing.Capacity{}
	skills := map[string][]string{}
	byID := make(members, len(all))
	for i := range all {
		c := &all[i]
		id := keys[:len(c.AgentID)]
		keys = keys[len(c.AgentID):]
		c.AgentID = id
		if len(c.Queues) == 1 && c.Queues[0] == q.QueueID {
			c.Queues = queues
		}
		k := fmt.Sprint(c.Capacity)
		if shared, ok := capacities[k]; ok {
			c.Capacity = shared
		} else {
			capacities[k] = c.Capacity
		}
		k = strings.Join(c.Skills, ",")
		if shared, ok := skills[k]; ok {
			c.Skills = shared
		} else {
			skills[k] = c.Skills
		}
		byID[id] = c
	}
	return byID, nil
}

// WaitingFor lists the waiting interactions to give agent now that they may have
// room, in the order to give them (routing.BulkAssign), with the agent's effective
// capacity, leaving out except. It lists nothing for an agent who is not logged in in an Available-group
// status, or whose agent record is disabled.
func (d *Dispatcher) WaitingFor(ctx context.Context, tenantID, agentID string, except []string) ([]routing.Waiting, routing.Capacity, error) {
	live, err := d.Presence.Snapshot(ctx, tenantID, []string{agentID})
	if err != nil {
		return nil, nil, err
	}
	st := live[0]
	if !st.LoggedIn || !st.Status.Group.ReceivesNew() {
		return nil, nil, nil
	}
	a, err := d.Store.GetAgent(ctx, tenantID, agentID)
	if err != nil {
		return nil, nil, fmt.Errorf("agent %s: %w", agentID, err)
	}
	if !a.Enabled {
		return nil, nil, nil
	}
	cand := st.Candidate(routing.Candidate{Queues: a.QueueIDs, Skills: a.SkillIDs, Capacity: a.EffectiveCapacity})
	room := routing.Occupancy{}
	for _, ch := range routing.Channels() {
		capacity := cand.Capacity[ch]
		if ch == routing.Voice {
			capacity = routing.VoiceCapacity
		}
		if n := capacity - cand.Occupancy[ch]; n > 0 {
			room[ch] = n
		}
	}
	if len(room) == 0 {
		return nil, nil, nil
	}
	waiting, err := d.Store.Waiting(ctx, tenantID, pgstore.WaitingFilter{AgentID: agentID, QueueIDs: a.QueueIDs, Skills: a.SkillIDs, Room: room, Except: except})
	if err != nil {
		return nil, nil, fmt.Errorf("waiting interactions for agent %s: %w", agentID, err)
	}
	byID := make(map[string]routing.Waiting, len(waiting))
	for _, w := range waiting {
		byID[w.ID] = w
	}
	var out []routing.Waiting
	for _, id := range routing.BulkAssign(cand, waiting, time.Now()) {
		out = append(out, byID[id])
	}
	return out, cand.Capacity, nil
}
