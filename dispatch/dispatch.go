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
	"slices"
	"sync"
	"time"

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

	mu     sync.Mutex
	agents map[string]queueAgents
}

// queueAgents is a queue's members as cached, by agent ID.
type queueAgents struct {
	byID    map[string]routing.Candidate
	fetched time.Time
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
	// Considered and Eligible count the candidates of the last try.
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
		cands, err := d.candidates(ctx, req.TenantID, q, req.Excluded)
		if err != nil {
			return Decision{}, err
		}
		winner, scores, ok := routing.Choose(rreq, cands, time.Now())
		dec.Considered, dec.Eligible = len(cands), 0
		for _, s := range scores {
			if s.Eligible {
				dec.Eligible++
			}
		}
		if !ok {
			return dec, nil
		}
		i := slices.IndexFunc(cands, func(c routing.Candidate) bool { return c.AgentID == winner })
		at := time.Now()
		reserved, err := d.Presence.Reserve(ctx, req.TenantID, winner, req.InteractionID, req.Channel, cands[i].Capacity[req.Channel], ttl)
		if err != nil {
			return Decision{}, err
		}
		if reserved {
			dec.AgentID, dec.Score = winner, &scores[0]
			dec.ReservedAt, dec.RingUntil = at, at.Add(q.RingTimeout)
			return dec, nil
		}
	}
	dec.Contended = true
	return dec, nil
}

// candidates are the online, enabled agents of the queue with their live state;
// excluded agents are marked PreviouslyAssigned.
func (d *Dispatcher) candidates(ctx context.Context, tenantID string, q pgstore.AssignmentQueue, excluded []string) ([]routing.Candidate, error) {
	online, err := d.Presence.Online(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	static, err := d.queueAgents(ctx, tenantID, q, online)
	if err != nil {
		return nil, fmt.Errorf("agents of queue %s: %w", q.QueueID, err)
	}
	ids := make([]string, len(static))
	for i, c := range static {
		ids[i] = c.AgentID
	}
	live, err := d.Presence.Snapshot(ctx, tenantID, ids)
	if err != nil {
		return nil, err
	}
	out := make([]routing.Candidate, len(static))
	for i, c := range static {
		c = live[i].Candidate(c)
		c.PreviouslyAssigned = slices.Contains(excluded, c.AgentID)
		out[i] = c
	}
	return out, nil
}

// Wake tells the workflow of a waiting interaction that an agent's slot was reserved
// for it (AgentAvailableSignal): it adopts the reservation as its next offer. It
// returns ErrGone when the interaction no longer runs. The wiring provides it;
// dispatch owns no workflow names.
type Wake func(ctx context.Context, tenantID, interactionID, agentID string) error

// ErrGone is Wake's answer for an interaction whose workflow has ended.
var ErrGone = errors.New("dispatch: the interaction no longer runs")

// OfferWaiting is bulk assignment for an agent who may have room now (login, a status
// in the Available group, a slot released): it reserves one of the agent's slots for
// each waiting interaction the agent should take — those of the agent's queues the
// agent is eligible for, in order of priority then creation, until the agent is full —
// and wakes each, which then offers itself to the agent. A reservation that fails (the
// interaction was taken meanwhile, the agent filled up) is skipped. It returns the
// interactions woken.
func (d *Dispatcher) OfferWaiting(ctx context.Context, tenantID, agentID string, wake Wake) ([]string, error) {
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

// queueAgents returns the settings of the queue's enabled agents among online, from
// the cache when AgentsTTL allows.
func (d *Dispatcher) queueAgents(ctx context.Context, tenantID string, q pgstore.AssignmentQueue, online []string) ([]routing.Candidate, error) {
	if d.AgentsTTL <= 0 {
		return d.Store.AssignmentAgents(ctx, tenantID, q, online)
	}
	key := tenantID + "/" + q.QueueID
	d.mu.Lock()
	cached, ok := d.agents[key]
	d.mu.Unlock()
	if !ok || time.Since(cached.fetched) > d.AgentsTTL {
		all, err := d.Store.AssignmentAgents(ctx, tenantID, q, nil)
		if err != nil {
			return nil, err
		}
		cached = queueAgents{byID: make(map[string]routing.Candidate, len(all)), fetched: time.Now()}
		for _, c := range all {
			cached.byID[c.AgentID] = c
		}
		d.mu.Lock()
		if d.agents == nil {
			d.agents = map[string]queueAgents{}
		}
		d.agents[key] = cached
		d.mu.Unlock()
	}
	out := make([]routing.Candidate, 0, len(online))
	for _, id := range online {
		if c, ok := cached.byID[id]; ok {
			out = append(out, c) // shares Skills and Capacity, which nothing changes
		}
	}
	return out, nil
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
