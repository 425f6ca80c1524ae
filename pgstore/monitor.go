package pgstore

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"

	"switchboard/routing"
	"switchboard/timesheet"
)

// MonitorScope narrows a supervisor's live monitor: to one queue (its interactions
// and its member agents), to one campaign (its interactions; the agents logged in to
// it are picked from presence by the caller), or to both at once. Empty fields leave
// that side open.
type MonitorScope struct {
	QueueID    string `json:"queueId,omitempty"`
	CampaignID string `json:"campaignId,omitempty"`
}

// Validate checks the IDs' form; whether they exist in the tenant is the caller's
// check (GetQueue, GetCampaign).
func (m MonitorScope) Validate() error {
	if m.QueueID != "" && !isUUID(m.QueueID) {
		return invalid("queueId", "must be a queue ID")
	}
	if m.CampaignID != "" && !isUUID(m.CampaignID) {
		return invalid("campaignId", "must be a campaign ID")
	}
	return nil
}

// LiveCount is one line of the monitor's interaction summary: how many live
// interactions of a status, channel and sub-channel there are.
type LiveCount struct {
	Status  InteractionStatus `json:"status"`
	Channel routing.Channel   `json:"channel"`
	// Source is the sub-channel as received; empty when none was given.
	Source string `json:"source,omitempty"`
	Count  int    `json:"count"`
}

// LiveCounts counts the live interactions of the scope by status, channel and source:
// waiting (queued), ringing (offered), with an agent (connected, on_hold), and ended
// but still wrapped up by their agent until disposed (ended).
func (s *Store) LiveCounts(ctx context.Context, tenantID string, scope MonitorScope) ([]LiveCount, error) {
	if err := scope.Validate(); err != nil {
		return nil, err
	}
	out := []LiveCount{}
	if !isUUID(tenantID) {
		return out, nil
	}
	// The active statuses are the predicate of the partial indexes on queue and
	// campaign; ended is not, and is found per agent (interactions_agent) instead, so
	// that neither part reads the tenant's history. Users are never deleted, so every
	// ended interaction's agent is among them.
	rows, err := s.pool.Query(ctx, `
		SELECT status, channel, coalesce(source, ''), count(*)::int FROM (
		    SELECT status, channel, source FROM interactions
		    WHERE tenant_id = $1 AND status IN ('queued', 'offered', 'connected', 'on_hold')
		      AND ($2::uuid IS NULL OR queue_id = $2) AND ($3::uuid IS NULL OR campaign_id = $3)
		    UNION ALL
		    SELECT i.status, i.channel, i.source
		    FROM users u JOIN interactions i ON i.tenant_id = u.tenant_id AND i.agent_id = u.id AND i.status = 'ended'
		    WHERE u.tenant_id = $1 AND ($2::uuid IS NULL OR i.queue_id = $2) AND ($3::uuid IS NULL OR i.campaign_id = $3)) live
		GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`,
		tenantID, nullUUID(scope.QueueID), nullUUID(scope.CampaignID))
	if err != nil {
		return nil, err
	}
	var c LiveCount
	_, err = pgx.ForEachRow(rows, []any{&c.Status, &c.Channel, &c.Source, &c.Count}, func() error {
		out = append(out, c)
		return nil
	})
	return out, err
}

// MonitorAgentFilter selects the agents of a live monitor.
type MonitorAgentFilter struct {
	// QueueID keeps the queue's members (every agent for the Default queue).
	QueueID string
	// AgentID keeps this agent only.
	AgentID string
}

// Validate checks the filter.
func (f MonitorAgentFilter) Validate() error {
	if f.QueueID != "" && !isUUID(f.QueueID) {
		return invalid("queueId", "must be a queue ID")
	}
	if f.AgentID != "" && !isUUID(f.AgentID) {
		return invalid("agentId", "must be an agent ID")
	}
	return nil
}

// MonitorAgent is an agent as the live monitor lists them: who they are, their
// effective capacity, and what they have in hand according to the read model.
type MonitorAgent struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Enabled agents take interactions (see Agent.Enabled).
	Enabled  bool             `json:"enabled"`
	Capacity routing.Capacity `json:"capacity"`
	// Interactions counts, per status and channel, the interactions ringing on the
	// agent (offered), held by them (connected, on_hold) and in their wrap-up
	// (ended); only statuses with something in them are present.
	Interactions map[InteractionStatus]routing.Occupancy `json:"interactions"`
}

// Count returns how many of the agent's interactions are in st on ch.
func (a MonitorAgent) Count(st InteractionStatus, ch routing.Channel) int {
	return a.Interactions[st][ch]
}

// MonitorAgents lists the tenant's agents (users with the agent role who are not
// disabled) selected by the filter, by name, each with their effective capacity and
// the counts of the interactions they have in hand, whatever queue or campaign those
// are in: that is the load their capacity is measured against.
func (s *Store) MonitorAgents(ctx context.Context, tenantID string, f MonitorAgentFilter) ([]MonitorAgent, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	out := []MonitorAgent{}
	if !isUUID(tenantID) {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `
		SELECT u.id::text, u.name, coalesce(s.enabled, true), coalesce(s.capacity, '{}'), a.default_capacity
		FROM users u JOIN acd_settings a ON a.tenant_id = u.tenant_id
		LEFT JOIN agent_settings s ON s.tenant_id = u.tenant_id AND s.user_id = u.id
		WHERE u.tenant_id = $1 AND u.role = 'agent' AND NOT u.disabled
		  AND ($2::uuid IS NULL OR u.id = $2)
		  AND ($3::uuid IS NULL OR EXISTS (
		      SELECT 1 FROM queues q WHERE q.tenant_id = u.tenant_id AND q.id = $3
		        AND (q.is_default OR EXISTS (SELECT 1 FROM queue_agents qa
		             WHERE qa.tenant_id = u.tenant_id AND qa.queue_id = q.id AND qa.user_id = u.id))))
		ORDER BY lower(u.name), u.id`, tenantID, nullUUID(f.AgentID), nullUUID(f.QueueID))
	if err != nil {
		return nil, err
	}
	var (
		a             MonitorAgent
		override, def []byte
	)
	_, err = pgx.ForEachRow(rows, []any{&a.ID, &a.Name, &a.Enabled, &override, &def}, func() error {
		o, err := decodeCapacity(override)
		if err != nil {
			return err
		}
		d, err := decodeCapacity(def)
		if err != nil {
			return err
		}
		if a.Capacity, err = routing.EffectiveCapacity(d, o); err != nil {
			return fmt.Errorf("agent %s: %w", a.ID, err)
		}
		a.Interactions = map[InteractionStatus]routing.Occupancy{}
		out = append(out, a)
		return nil
	})
	if err != nil || len(out) == 0 {
		return out, err
	}
	ids := make([]string, len(out))
	index := make(map[string]int, len(out))
	for i, a := range out {
		ids[i], index[a.ID] = a.ID, i
	}
	// Two index walks: the agents' own interactions, and the ones ringing on them.
	rows, err = s.pool.Query(ctx, `
		SELECT agent_id::text, status, channel, count(*)::int FROM interactions
		WHERE tenant_id = $1 AND agent_id = ANY($2::uuid[]) AND status IN ('connected', 'on_hold', 'ended')
		GROUP BY 1, 2, 3
		UNION ALL
		SELECT offered_agent_id::text, status, channel, count(*)::int FROM interactions
		WHERE tenant_id = $1 AND offered_agent_id = ANY($2::uuid[]) AND status = 'offered'
		GROUP BY 1, 2, 3`, tenantID, ids)
	if err != nil {
		return nil, err
	}
	var (
		agent string
		st    InteractionStatus
		ch    routing.Channel
		n     int
	)
	_, err = pgx.ForEachRow(rows, []any{&agent, &st, &ch, &n}, func() error {
		a := out[index[agent]]
		if a.Interactions[st] == nil {
			a.Interactions[st] = routing.Occupancy{}
		}
		a.Interactions[st][ch] += n
		return nil
	})
	return out, err
}

// AgentInteraction is one interaction an agent has in hand, as a supervisor's
// drill-down shows it.
type AgentInteraction struct {
	ID      string          `json:"interactionId"`
	Channel routing.Channel `json:"channel"`
	// Source is the sub-channel ("whatsapp", "web_chat"…): the channel detail.
	Source        string    `json:"source,omitempty"`
	Direction     Direction `json:"direction"`
	CustomerPhone string    `json:"customerPhone,omitempty"`
	CustomerName  string    `json:"customerName,omitempty"`
	// Customer is who the customer is: the phone number, else the address the
	// interaction came from.
	Customer     string            `json:"customer,omitempty"`
	QueueID      string            `json:"queueId"`
	QueueName    string            `json:"queueName,omitempty"`
	CampaignID   string            `json:"campaignId,omitempty"`
	CampaignName string            `json:"campaignName,omitempty"`
	Status       InteractionStatus `json:"status"`
	// Since is when the interaction entered its current status with this agent:
	// the offer, the hold, the end, or for a connected one the latest time it became
	// connected (the answer, or the resumption after a hold).
	Since       time.Time  `json:"since"`
	ConnectedAt *time.Time `json:"connectedAt,omitempty"`
	CreatedAt   time.Time  `json:"createdAt"`
	// Sentiment is the customer's sentiment so far, once a message was scored.
	Sentiment *Sentiment `json:"sentiment,omitempty"`
}

// AgentInteractions lists what the agent has in hand — interactions ringing on them,
// held by them (connected or on hold) and in their wrap-up (ended, not yet
// disposed) — oldest first.
func (s *Store) AgentInteractions(ctx context.Context, tenantID, agentID string) ([]AgentInteraction, error) {
	out := []AgentInteraction{}
	if !isUUID(tenantID) || !isUUID(agentID) {
		return out, nil
	}
	// A connected interaction may have been on hold: its state began at the first
	// timeline entry after the last one in another status or with another agent.
	rows, err := s.pool.Query(ctx, `
		SELECT i.id::text, i.channel, coalesce(i.source, ''), i.direction, coalesce(i.customer_phone, ''),
		       coalesce(i.customer_name, ''), coalesce(i.customer, ''), i.queue_id::text, coalesce(q.name, ''),
		       coalesce(i.campaign_id::text, ''), coalesce(c.name, ''), i.status,
		       CASE i.status
		           WHEN 'offered' THEN coalesce(i.offered_at, i.updated_at)
		           WHEN 'on_hold' THEN i.held_at
		           WHEN 'ended' THEN coalesce(i.ended_at, i.updated_at)
		           ELSE coalesce((
		               SELECT min(e.at) FROM interaction_events e
		               WHERE e.tenant_id = i.tenant_id AND e.interaction_id = i.id
		                 AND e.version > coalesce((
		                     SELECT max(x.version) FROM interaction_events x
		                     WHERE x.tenant_id = i.tenant_id AND x.interaction_id = i.id
		                       AND (x.status <> i.status OR x.agent_id IS DISTINCT FROM i.agent_id)), -1)),
		               i.connected_at, i.updated_at)
		       END,
		       i.connected_at, i.created_at, i.sentiment_score, i.sentiment_messages, coalesce(i.sentiment_tag, '')
		FROM interactions i
		LEFT JOIN queues q ON q.tenant_id = i.tenant_id AND q.id = i.queue_id
		LEFT JOIN campaigns c ON c.tenant_id = i.tenant_id AND c.id = i.campaign_id
		WHERE i.tenant_id = $1
		  AND ((i.agent_id = $2 AND i.status IN ('connected', 'on_hold', 'ended'))
		       OR (i.offered_agent_id = $2 AND i.status = 'offered'))
		ORDER BY i.created_at, i.id`, tenantID, agentID)
	if err != nil {
		return nil, err
	}
	rs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (AgentInteraction, error) {
		var (
			a      AgentInteraction
			score  *float64
			scored int
			tag    string
		)
		err := r.Scan(&a.ID, &a.Channel, &a.Source, &a.Direction, &a.CustomerPhone, &a.CustomerName, &a.Customer,
			&a.QueueID, &a.QueueName, &a.CampaignID, &a.CampaignName, &a.Status, &a.Since, &a.ConnectedAt, &a.CreatedAt,
			&score, &scored, &tag)
		a.Sentiment = sentimentOf(score, scored, tag)
		return a, err
	})
	if err != nil {
		return nil, err
	}
	return append(out, rs...), nil
}

// MaxStatsRange is the longest window AgentStats reads.
const MaxStatsRange = 31 * 24 * time.Hour

// StatsFilter selects an agent's self-monitoring figures over the window [From, To).
type StatsFilter struct {
	AgentID string
	From    time.Time
	To      time.Time
	// Now is the caller's clock: a session still open is accounted up to it.
	Now time.Time
}

// Validate checks the window.
func (f StatsFilter) Validate() error {
	switch {
	case !isUUID(f.AgentID):
		return invalid("agentId", "must be an agent ID")
	case f.From.IsZero():
		return invalid("from", "is required")
	case f.To.IsZero():
		return invalid("to", "is required")
	case !f.From.Before(f.To):
		return invalid("to", "must be after from")
	case f.To.Sub(f.From) > MaxStatsRange:
		return invalid("to", "must be at most %d days after from", int(MaxStatsRange/(24*time.Hour)))
	case f.Now.IsZero():
		return invalid("now", "is required")
	}
	return nil
}

// ChannelStats are an agent's figures on one channel (or all of them) in a window.
type ChannelStats struct {
	// Offered counts the offers made to the agent in the window; Connected those of
	// them the agent accepted.
	Offered   int `json:"offered"`
	Connected int `json:"connected"`
	// ConnectionRatePercent is Connected over Offered, to one decimal (0 without
	// offers).
	ConnectionRatePercent float64 `json:"connectionRatePercent"`
	// Handled counts the interactions the agent took that connected in the window
	// and have ended (an outbound call the agent dialled counts, though it was never
	// offered); the durations are theirs, from connected to ended, in milliseconds,
	// the average rounded to the nearest millisecond. All are 0 when none ended.
	Handled            int   `json:"handled"`
	AverageDurationMs  int64 `json:"averageDurationMs"`
	LongestDurationMs  int64 `json:"longestDurationMs"`
	ShortestDurationMs int64 `json:"shortestDurationMs"`
}

// TimeStats is how the agent's logged-in time in the window was spent, in
// milliseconds, as timesheet accounts it.
type TimeStats struct {
	LoginMs int64 `json:"loginMs"`
	// TalkMs is the time in a call (voice sub-state in_call).
	TalkMs int64 `json:"talkMs"`
	// IdleMs is the time in an Available status with no call ringing, in progress
	// or in wrap-up.
	IdleMs int64 `json:"idleMs"`
	// BreakMs is the time on any break; BreakByReasonMs splits it by break reason
	// (the Away statuses flagged as breaks).
	BreakMs         int64            `json:"breakMs"`
	BreakByReasonMs map[string]int64 `json:"breakByReasonMs"`
}

// HourCount is what was offered to and accepted by the agent in one hour.
type HourCount struct {
	Offered   int `json:"offered"`
	Connected int `json:"connected"`
}

// HourStats is one hour of the trend: the offers made in that hour (UTC) and how many
// of them the agent accepted, in all and per channel (the channels with offers).
type HourStats struct {
	Hour time.Time `json:"hour"`
	HourCount
	ByChannel map[routing.Channel]HourCount `json:"byChannel"`
}

// AgentStats are an agent's self-monitoring figures over a window.
type AgentStats struct {
	AgentID string    `json:"agentId"`
	From    time.Time `json:"from"`
	To      time.Time `json:"to"`
	// Channels has every channel; Total sums them (its durations are over every
	// channel's interactions).
	Channels map[routing.Channel]ChannelStats `json:"channels"`
	Total    ChannelStats                     `json:"total"`
	Time     TimeStats                        `json:"time"`
	// Hourly has every hour from the one From falls in up to To, oldest first.
	Hourly []HourStats `json:"hourly"`
}

// AgentStats returns the agent's figures over the window: offers and their
// acceptance from interaction_offers, durations from the interactions the agent took,
// and time from the agent's session events replayed through timesheet, clipped to the
// window (a session still open is accounted up to f.Now).
func (s *Store) AgentStats(ctx context.Context, tenantID string, f StatsFilter) (AgentStats, error) {
	if err := f.Validate(); err != nil {
		return AgentStats{}, err
	}
	f.From, f.To = f.From.UTC(), f.To.UTC()
	out := AgentStats{AgentID: f.AgentID, From: f.From, To: f.To, Channels: map[routing.Channel]ChannelStats{},
		Time: TimeStats{BreakByReasonMs: map[string]int64{}}}
	for _, ch := range routing.Channels() {
		out.Channels[ch] = ChannelStats{}
	}
	hours := map[time.Time]*HourStats{}
	for h := f.From.Truncate(time.Hour); h.Before(f.To); h = h.Add(time.Hour) {
		out.Hourly = append(out.Hourly, HourStats{Hour: h, ByChannel: map[routing.Channel]HourCount{}})
	}
	for i := range out.Hourly {
		hours[out.Hourly[i].Hour] = &out.Hourly[i]
	}
	if !isUUID(tenantID) {
		return out, nil
	}

	rows, err := s.pool.Query(ctx, `
		SELECT channel, date_trunc('hour', offered_at, 'UTC'), count(*)::int, (count(*) FILTER (WHERE outcome = 'accepted'))::int
		FROM interaction_offers
		WHERE tenant_id = $1 AND agent_id = $2 AND offered_at >= $3 AND offered_at < $4
		GROUP BY 1, 2`, tenantID, f.AgentID, f.From, f.To)
	if err != nil {
		return AgentStats{}, fmt.Errorf("agent offers: %w", err)
	}
	var (
		ch             routing.Channel
		hour           time.Time
		offered, taken int
	)
	_, err = pgx.ForEachRow(rows, []any{&ch, &hour, &offered, &taken}, func() error {
		cs := out.Channels[ch]
		cs.Offered += offered
		cs.Connected += taken
		out.Channels[ch] = cs
		if h := hours[hour.UTC()]; h != nil {
			h.Offered += offered
			h.Connected += taken
			hc := h.ByChannel[ch]
			hc.Offered += offered
			hc.Connected += taken
			h.ByChannel[ch] = hc
		}
		return nil
	})
	if err != nil {
		return AgentStats{}, fmt.Errorf("agent offers: %w", err)
	}

	rows, err = s.pool.Query(ctx, `
		SELECT channel, count(*)::int, sum(ms)::bigint, max(ms), min(ms)
		FROM (SELECT channel, round(extract(epoch FROM ended_at - connected_at) * 1000)::bigint AS ms
		      FROM interactions
		      WHERE tenant_id = $1 AND agent_id = $2 AND connected_at >= $3 AND connected_at < $4
		        AND ended_at IS NOT NULL) d
		GROUP BY channel`, tenantID, f.AgentID, f.From, f.To)
	if err != nil {
		return AgentStats{}, fmt.Errorf("agent durations: %w", err)
	}
	var (
		n                      int
		sum, longest, shortest int64
		sums                   = map[routing.Channel]int64{}
	)
	_, err = pgx.ForEachRow(rows, []any{&ch, &n, &sum, &longest, &shortest}, func() error {
		cs := out.Channels[ch]
		cs.Handled, cs.LongestDurationMs, cs.ShortestDurationMs = n, longest, shortest
		out.Channels[ch] = cs
		sums[ch] = sum
		return nil
	})
	if err != nil {
		return AgentStats{}, fmt.Errorf("agent durations: %w", err)
	}
	var total int64
	for _, ch := range routing.Channels() {
		cs := out.Channels[ch]
		cs.finish(sums[ch])
		out.Channels[ch] = cs
		out.Total.add(cs)
		total += sums[ch]
	}
	out.Total.finish(total)

	if out.Time, err = s.agentTime(ctx, tenantID, f); err != nil {
		return AgentStats{}, err
	}
	return out, nil
}

// add sums c's counts and extremes into t; finish derives the rate and the average
// afterwards.
func (t *ChannelStats) add(c ChannelStats) {
	t.Offered += c.Offered
	t.Connected += c.Connected
	if c.Handled > 0 {
		if t.Handled == 0 || c.ShortestDurationMs < t.ShortestDurationMs {
			t.ShortestDurationMs = c.ShortestDurationMs
		}
		t.LongestDurationMs = max(t.LongestDurationMs, c.LongestDurationMs)
	}
	t.Handled += c.Handled
}

// finish derives the connection rate and, from the durations' sum, their average.
func (t *ChannelStats) finish(sumMs int64) {
	t.ConnectionRatePercent = 0
	if t.Offered > 0 {
		t.ConnectionRatePercent = math.Round(float64(t.Connected)*1000/float64(t.Offered)) / 10
	}
	t.AverageDurationMs = 0
	if t.Handled > 0 {
		t.AverageDurationMs = int64(math.Round(float64(sumMs) / float64(t.Handled)))
	}
}

// sessionEntry is one recorded event of a session, as the replay needs it.
type sessionEntry struct {
	kind   SessionEventKind
	at     time.Time
	status timesheet.Status
	voice  routing.VoiceState
}

// agentTime replays the sessions overlapping the window and takes the difference of
// their totals at the window's end and at its start.
func (s *Store) agentTime(ctx context.Context, tenantID string, f StatsFilter) (TimeStats, error) {
	out := TimeStats{BreakByReasonMs: map[string]int64{}}
	rows, err := s.pool.Query(ctx, `
		SELECT s.session, s.login_at, e.kind, e.at, coalesce(e.status_id, ''), e.status_name, e.status_group,
		       e.break_reason, e.voice_state
		FROM agent_sessions s
		JOIN agent_status_events e ON e.tenant_id = s.tenant_id AND e.agent_id = s.agent_id AND e.session = s.session
		WHERE s.tenant_id = $1 AND s.agent_id = $2 AND s.login_at < $4 AND (s.logout_at IS NULL OR s.logout_at > $3)
		ORDER BY s.session, e.seq`, tenantID, f.AgentID, f.From, f.To)
	if err != nil {
		return out, fmt.Errorf("agent sessions: %w", err)
	}
	var (
		sessions [][]sessionEntry
		loginAt  []time.Time
		current  int64
		session  int64
		login    time.Time
		e        sessionEntry
	)
	_, err = pgx.ForEachRow(rows, []any{&session, &login, &e.kind, &e.at, &e.status.ID, &e.status.Name, &e.status.Group,
		&e.status.BreakReason, &e.voice}, func() error {
		if len(sessions) == 0 || session != current {
			sessions, loginAt, current = append(sessions, nil), append(loginAt, login), session
		}
		sessions[len(sessions)-1] = append(sessions[len(sessions)-1], e)
		return nil
	})
	if err != nil {
		return out, fmt.Errorf("agent sessions: %w", err)
	}
	end := f.To
	if f.Now.Before(end) {
		end = f.Now
	}
	start := f.From
	if end.Before(start) {
		return out, nil
	}
	for i, evs := range sessions {
		a, b := sessionTotals(loginAt[i], evs, start), sessionTotals(loginAt[i], evs, end)
		out.LoginMs += b.LoggedInMs - a.LoggedInMs
		out.TalkMs += b.TalkMs - a.TalkMs
		out.IdleMs += b.IdleMs - a.IdleMs
		for reason, ms := range b.BreakMs {
			if d := ms - a.BreakMs[reason]; d > 0 {
				out.BreakByReasonMs[reason] += d
				out.BreakMs += d
			}
		}
	}
	return out, nil
}

// sessionTotals replays one session's events, in order, up to t: the totals as they
// stood at t, or at the logout when the session ended earlier. Before the login
// there is nothing.
func sessionTotals(login time.Time, evs []sessionEntry, t time.Time) timesheet.Totals {
	if len(evs) == 0 || !t.After(login) {
		return timesheet.NewTotals()
	}
	sh := timesheet.Start(login, evs[0].status)
	sh.SetVoice(login, evs[0].voice)
	for _, e := range evs[1:] {
		if e.at.After(t) {
			break
		}
		if e.kind == SessionLogout {
			sh.Advance(e.at)
			return sh.Totals
		}
		sh.SetStatus(e.at, e.status)
		sh.SetVoice(e.at, e.voice)
	}
	return sh.At(t)
}
