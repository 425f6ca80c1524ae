package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"switchboard/presence"
	"switchboard/routing"
)

// auditedAgent is what the auditor knows of an agent's configuration.
type auditedAgent struct {
	capacity routing.Capacity
	queues   []string
	skills   []string
}

// auditor watches presence (Redis) and the read model (PostgreSQL) while
// interactions are assigned, and checks the ACD's invariants at every look:
//
//   - no agent holds more slots on a channel than their capacity (presence, read
//     in one atomic script; and the read model, offered plus connected);
//   - no interaction has a slot with two agents at once (presence), and presence's
//     slot and owner records agree;
//   - no eligible agent stays idle while an interaction they could take waits: a
//     queued interaction with an eligible agent who has room is a "stall", and a
//     stall must not last (the safety recheck would make it last a minute; the
//     wake-ups make it short).
//
// After a run, checkOffers reads the offers log: each interaction's offers never
// overlap, never go twice to one agent, and end with the accepted one.
type auditor struct {
	ps     *presence.Store
	pool   *pgxpool.Pool
	tenant string
	agents map[string]auditedAgent
	// defaultQueue is the Default queue's ID, which includes every agent.
	defaultQueue string
	// reservation is how long an offer's reservation lasts (ring timeout plus
	// dispatch.ReservationMargin).
	reservation time.Duration

	// paused turns the stall check off (the worker is down: nothing is assigned).
	paused atomic.Bool

	mu         sync.Mutex
	looks      int
	violations []string
	maxSlots   int
	stallSince map[string]time.Time
	maxStall   time.Duration
	maxStallAt string
	// stallDetails explains the first long stalls: the interaction, its offers
	// and the idle agent as the stores had them.
	stallDetails []string
	explained    map[string]bool
}

func newAuditor(ps *presence.Store, pool *pgxpool.Pool, tenant, defaultQueue string, reservation time.Duration, agents map[string]auditedAgent) *auditor {
	return &auditor{ps: ps, pool: pool, tenant: tenant, defaultQueue: defaultQueue, reservation: reservation, agents: agents,
		stallSince: map[string]time.Time{}, explained: map[string]bool{}}
}

// watch looks every interval until ctx ends.
func (a *auditor) watch(ctx context.Context, interval time.Duration) {
	for ctx.Err() == nil {
		a.look(ctx)
		select {
		case <-ctx.Done():
		case <-time.After(interval):
		}
	}
}

func (a *auditor) fail(format string, args ...any) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.violations) < 50 {
		a.violations = append(a.violations, fmt.Sprintf(format, args...))
	}
}

type waitingRow struct {
	id, queue string
	channel   routing.Channel
	skills    []string
	excluded  []string
}

func (a *auditor) look(ctx context.Context) {
	slots, err := a.ps.Audit(ctx, a.tenant)
	if errors.Is(err, presence.ErrInconsistent) {
		a.fail("presence inconsistent: %v", err)
	}
	if err != nil {
		return // a cancelled context at the end
	}
	now := time.Now()
	held := map[string]routing.Occupancy{}
	owners := map[string][]string{}
	for _, s := range slots {
		if held[s.Agent] == nil {
			held[s.Agent] = routing.Occupancy{}
		}
		held[s.Agent][s.Channel]++
		owners[s.Interaction] = append(owners[s.Interaction], s.Agent)
	}
	for agent, occ := range held {
		for ch, n := range occ {
			if capacity := a.capacityOf(agent, ch); n > capacity {
				a.fail("presence: agent %s holds %d %s slots, capacity %d", agent, n, ch, capacity)
			}
		}
	}
	for ix, agents := range owners {
		if len(agents) > 1 {
			a.fail("presence: interaction %s is with %d agents at once: %v", ix, len(agents), agents)
		}
	}

	// The read model: offered and connected per agent and channel, in one snapshot.
	// An offer whose reservation has lapsed (its run was held up past the ring
	// timeout and the margin, e.g. with no worker) holds no slot any more, though
	// the row says offered until the run catches up.
	rows, err := a.pool.Query(ctx, `
		SELECT coalesce(offered_agent_id, agent_id)::text, channel, count(*) FROM interactions
		WHERE tenant_id = $1 AND (status = 'connected' OR status = 'offered' AND offered_at > now() - $2::interval)
		GROUP BY 1, 2`, a.tenant, a.reservation)
	if err != nil {
		return
	}
	var (
		agent string
		ch    routing.Channel
		n     int
	)
	_, err = pgx.ForEachRow(rows, []any{&agent, &ch, &n}, func() error {
		if capacity := a.capacityOf(agent, ch); n > capacity {
			a.fail("read model: agent %s has %d %s interactions offered or connected, capacity %d", agent, n, ch, capacity)
		}
		return nil
	})
	if err != nil {
		return
	}

	// Stalls: a queued interaction some eligible agent has room for.
	rows, err = a.pool.Query(ctx, `
		SELECT id::text, queue_id::text, channel, required_skills::text[], excluded_agents::text[] FROM interactions
		WHERE tenant_id = $1 AND status = 'queued'`, a.tenant)
	if err != nil {
		return
	}
	var waiting []waitingRow
	var w waitingRow
	if _, err := pgx.ForEachRow(rows, []any{&w.id, &w.queue, &w.channel, &w.skills, &w.excluded}, func() error {
		waiting = append(waiting, w)
		return nil
	}); err != nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.looks++
	a.maxSlots = max(a.maxSlots, len(slots))
	stalled := map[string]bool{}
	if !a.paused.Load() {
		for _, w := range waiting {
			if who := a.eligibleIdle(w, held); who != "" {
				stalled[w.id] = true
				since, ok := a.stallSince[w.id]
				if !ok {
					a.stallSince[w.id] = now
					continue
				}
				d := now.Sub(since)
				if d > a.maxStall {
					a.maxStall, a.maxStallAt = d, fmt.Sprintf("interaction %s (%s) with agent %s free", w.id, w.channel, who)
				}
				if d > 5*time.Second && !a.explained[w.id] && len(a.stallDetails) < 3 {
					a.explained[w.id] = true
					a.stallDetails = append(a.stallDetails, a.explain(ctx, w.id, who))
				}
			}
		}
	}
	for id := range a.stallSince {
		if !stalled[id] {
			delete(a.stallSince, id)
		}
	}
}

// explain describes a stalled interaction and the agent who could take it.
func (a *auditor) explain(ctx context.Context, id, agent string) string {
	var b strings.Builder
	var row, offers []byte
	_ = a.pool.QueryRow(ctx, `SELECT row_to_json(i)::text FROM interactions i WHERE tenant_id = $1 AND id = $2`, a.tenant, id).Scan(&row)
	_ = a.pool.QueryRow(ctx, `SELECT coalesce(json_agg(o ORDER BY attempt), '[]')::text FROM interaction_offers o WHERE tenant_id = $1 AND interaction_id = $2`, a.tenant, id).Scan(&offers)
	p, err := a.ps.Get(ctx, a.tenant, agent)
	slots, _ := a.ps.Slots(ctx, a.tenant, agent)
	fmt.Fprintf(&b, "stalled interaction %s\n  row %s\n  offers %s\n  agent %s config %+v\n  presence %+v (%v)\n  slots %+v", id, row, offers, agent, a.agents[agent], p, err, slots)
	return b.String()
}

// eligibleIdle returns an agent with room who may take the waiting interaction, or
// "". Every agent of the test is logged in and Available throughout.
func (a *auditor) eligibleIdle(w waitingRow, held map[string]routing.Occupancy) string {
	ids := make([]string, 0, len(a.agents))
	for id := range a.agents {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		ag := a.agents[id]
		if w.queue != a.defaultQueue && !slices.Contains(ag.queues, w.queue) {
			continue
		}
		if slices.Contains(w.excluded, id) {
			continue
		}
		ok := true
		for _, s := range w.skills {
			ok = ok && slices.Contains(ag.skills, s)
		}
		if ok && held[id][w.channel] < a.capacityOf(id, w.channel) {
			return id
		}
	}
	return ""
}

func (a *auditor) capacityOf(agent string, ch routing.Channel) int {
	if ch == routing.Voice {
		return routing.VoiceCapacity
	}
	return a.agents[agent].capacity[ch]
}

// report fails t on any violation and logs what the auditor saw.
func (a *auditor) report(t *testing.T, maxStall time.Duration) {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	t.Logf("auditor: %d looks, at most %d slots live at once, longest stall %v %s", a.looks, a.maxSlots, a.maxStall.Round(time.Millisecond), a.maxStallAt)
	if a.looks < 10 {
		t.Errorf("the auditor looked only %d times", a.looks)
	}
	for _, v := range a.violations {
		t.Error(v)
	}
	if a.maxStall > maxStall {
		for _, d := range a.stallDetails {
			t.Log(d)
		}
		t.Errorf("an eligible agent stayed idle %v while an interaction waited (%s); wake-ups should keep it under %v", a.maxStall, a.maxStallAt, maxStall)
	}
}

// checkOffers verifies the offers log of every listed interaction once they are all
// over: every one was accepted by exactly one agent after at most a few offers, and
// its offers follow each other without overlap, each to a different agent.
func (a *auditor) checkOffers(t *testing.T, ctx context.Context, ids []string) (offers map[string]int) {
	t.Helper()
	rows, err := a.pool.Query(ctx, `
		SELECT interaction_id::text, attempt, agent_id::text, offered_at, coalesce(outcome, ''), responded_at
		FROM interaction_offers WHERE tenant_id = $1 AND interaction_id = ANY($2::uuid[])
		ORDER BY interaction_id, attempt`, a.tenant, ids)
	if err != nil {
		t.Fatal(err)
	}
	type offer struct {
		attempt   int
		agent     string
		at        time.Time
		outcome   string
		responded *time.Time
	}
	log := map[string][]offer{}
	var (
		id string
		o  offer
	)
	if _, err := pgx.ForEachRow(rows, []any{&id, &o.attempt, &o.agent, &o.at, &o.outcome, &o.responded}, func() error {
		log[id] = append(log[id], o)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	created := map[string]time.Time{}
	rows, err = a.pool.Query(ctx, `SELECT id::text, created_at FROM interactions WHERE tenant_id = $1 AND id = ANY($2::uuid[])`, a.tenant, ids)
	if err != nil {
		t.Fatal(err)
	}
	var at time.Time
	if _, err := pgx.ForEachRow(rows, []any{&id, &at}, func() error { created[id] = at; return nil }); err != nil {
		t.Fatal(err)
	}
	offers = map[string]int{}
	var bad []string
	for _, id := range ids {
		os := log[id]
		var seq []string
		for _, o := range os {
			seq = append(seq, o.outcome)
		}
		offers[strings.Join(seq, ",")]++
		agents := map[string]bool{}
		for i, o := range os {
			switch {
			case o.attempt != i+1:
				bad = append(bad, fmt.Sprintf("%s: attempt %d at position %d", id, o.attempt, i+1))
			case agents[o.agent]:
				bad = append(bad, fmt.Sprintf("%s: offered twice to agent %s", id, o.agent))
			case o.responded == nil:
				bad = append(bad, fmt.Sprintf("%s: offer %d never answered", id, o.attempt))
			case i > 0 && os[i-1].responded != nil && o.at.Before(*os[i-1].responded):
				bad = append(bad, fmt.Sprintf("%s: offer %d at %v while offer %d rang until %v", id, o.attempt, o.at, i, *os[i-1].responded))
			case i < len(os)-1 && o.outcome == "accepted":
				bad = append(bad, fmt.Sprintf("%s: offer %d accepted but offered again", id, o.attempt))
			}
			agents[o.agent] = true
		}
		if len(os) == 0 || os[len(os)-1].outcome != "accepted" {
			bad = append(bad, fmt.Sprintf("%s: not accepted: %+v", id, os))
		}
	}
	// How long assignment took: creation to first offer, and an answered offer to
	// the next one.
	var first, next []time.Duration
	for _, id := range ids {
		os := log[id]
		if len(os) == 0 {
			continue
		}
		first = append(first, os[0].at.Sub(created[id]))
		for i := 1; i < len(os); i++ {
			if os[i-1].responded != nil {
				next = append(next, os[i].at.Sub(*os[i-1].responded))
			}
		}
	}
	t.Logf("creation to first offer: %s; answer to next offer: %s", spread(first), spread(next))
	if len(bad) > 0 {
		t.Errorf("%d offers log problems, first: %s", len(bad), strings.Join(bad[:min(len(bad), 10)], "\n"))
	}
	return offers
}

// spread summarises durations as p50/p90/p99/max.
func spread(ds []time.Duration) string {
	if len(ds) == 0 {
		return "none"
	}
	slices.Sort(ds)
	at := func(q float64) time.Duration { return ds[int(q*float64(len(ds)-1))].Round(time.Millisecond) }
	return fmt.Sprintf("p50 %v, p90 %v, p99 %v, max %v (n=%d)", at(0.5), at(0.9), at(0.99), ds[len(ds)-1].Round(time.Millisecond), len(ds))
}
