package pgstore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"switchboard/sla"
)

// SLAMatch is the policy and severity a conversation's clock follows.
type SLAMatch struct {
	PolicyID         string       `json:"policyId"`
	PolicyName       string       `json:"policyName"`
	Severity         sla.Severity `json:"severity"`
	ExcludeAutomated bool         `json:"excludeAutomated"`
}

// SLAClockRecord is a conversation's clocks as its SLA clock workflow writes them.
type SLAClockRecord struct {
	TenantID      string `json:"tenantId"`
	InteractionID string `json:"interactionId"`
	QueueID       string `json:"queueId"`
	// Match is the policy the clocks follow; nil when none applies.
	Match *SLAMatch `json:"match,omitempty"`
	// Generation is the generation of the policy list the match was made under.
	Generation int64     `json:"generation"`
	StartedAt  time.Time `json:"startedAt"`
	// Open: the conversation is not closed; a closed one's clocks are final.
	Open bool `json:"open"`
	// Result is the clocks at Result.At, and every breach so far.
	Result sla.Result `json:"result"`
	// Seq is the workflow's count of writes: a write applies only over an older one.
	Seq int64 `json:"seq"`
}

// Validate checks what the write needs.
func (r SLAClockRecord) Validate() error {
	switch {
	case !isUUID(r.TenantID) || !isUUID(r.InteractionID) || !isUUID(r.QueueID):
		return invalid("interactionId", "a clock needs its tenant, interaction and queue IDs")
	case r.Seq < 1:
		return invalid("seq", "must be 1 or more")
	case r.StartedAt.IsZero() || r.Result.At.IsZero():
		return invalid("startedAt", "a clock needs its start and evaluation times")
	case r.Match != nil && !isUUID(r.Match.PolicyID):
		return invalid("match.policyId", "must be a policy ID")
	case r.Match == nil && len(r.Result.Breaches) > 0:
		return invalid("result.breaches", "breaches need the policy they breach")
	}
	return nil
}

// overdueSince is the earliest breach of a metric still counting (not met),
// and nextDue the earliest due instant of one not yet breached.
func (r SLAClockRecord) summary() (overdueSince, nextDue *time.Time) {
	for _, c := range r.Result.Clocks {
		if c.State != sla.Running && c.State != sla.Paused {
			continue
		}
		switch {
		case c.Breached && (overdueSince == nil || c.BreachedAt.Before(*overdueSince)):
			t := c.BreachedAt
			overdueSince = &t
		case !c.Breached && !c.DueAt.IsZero() && (nextDue == nil || c.DueAt.Before(*nextDue)):
			t := c.DueAt
			nextDue = &t
		}
	}
	if !r.Open {
		return nil, nil
	}
	return overdueSince, nextDue
}

// WriteSLAClock writes a conversation's clocks over an older write and reconciles
// its breach records with r's breaches: a new breach is recorded, a withdrawn one
// that holds again stands again, and a standing one that no longer holds (the
// clocks were recalculated under another policy, target or queue) is withdrawn.
// Each of those changes is to be published (SLABreachesToPublish). A write not
// newer than the stored one changes nothing and reports false.
func (s *Store) WriteSLAClock(ctx context.Context, r SLAClockRecord) (bool, error) {
	if err := r.Validate(); err != nil {
		return false, err
	}
	metrics, err := json.Marshal(r.Result.Clocks)
	if err != nil {
		return false, err
	}
	if r.Result.Clocks == nil {
		metrics = []byte("[]")
	}
	overdue, nextDue := r.summary()
	var (
		policyID, policyName, severityID, severityName, counting any
		exclude                                                  bool
	)
	if m := r.Match; m != nil {
		policyID, policyName, exclude = m.PolicyID, m.PolicyName, m.ExcludeAutomated
		severityID, severityName, counting = nullUUID(m.Severity.ID), m.Severity.Name, string(m.Severity.Counting)
	}
	applied := false
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `
			INSERT INTO sla_clocks AS c (tenant_id, interaction_id, queue_id, policy_id, policy_name, severity_id, severity_name,
				counting, exclude_automated, generation, started_at, open, overdue_since, breaches, next_due_at, metrics, evaluated_at, seq)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
			ON CONFLICT (tenant_id, interaction_id) DO UPDATE SET
				queue_id = excluded.queue_id, policy_id = excluded.policy_id, policy_name = excluded.policy_name,
				severity_id = excluded.severity_id, severity_name = excluded.severity_name, counting = excluded.counting,
				exclude_automated = excluded.exclude_automated, generation = excluded.generation, started_at = excluded.started_at,
				open = excluded.open, overdue_since = excluded.overdue_since, breaches = excluded.breaches,
				next_due_at = excluded.next_due_at, metrics = excluded.metrics, evaluated_at = excluded.evaluated_at,
				seq = excluded.seq, updated_at = now()
			WHERE c.seq < excluded.seq`,
			r.TenantID, r.InteractionID, r.QueueID, policyID, policyName, severityID, severityName, counting, exclude,
			r.Generation, r.StartedAt, r.Open, overdue, len(r.Result.Breaches), nextDue, metrics, r.Result.At, r.Seq)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return nil
		}
		applied = true
		return reconcileBreaches(ctx, tx, r)
	})
	return applied, err
}

type breachKey struct {
	metric sla.Metric
	cycle  int
}

func reconcileBreaches(ctx context.Context, tx pgx.Tx, r SLAClockRecord) error {
	rows, err := tx.Query(ctx, `
		SELECT metric, cycle, withdrawn_at IS NOT NULL FROM sla_breaches
		WHERE tenant_id = $1 AND interaction_id = $2 FOR UPDATE`, r.TenantID, r.InteractionID)
	if err != nil {
		return err
	}
	stored := map[breachKey]bool{} // key → withdrawn
	var (
		metric    string
		cycle     int
		withdrawn bool
	)
	if _, err := pgx.ForEachRow(rows, []any{&metric, &cycle, &withdrawn}, func() error {
		stored[breachKey{sla.Metric(metric), cycle}] = withdrawn
		return nil
	}); err != nil {
		return err
	}
	holds := map[breachKey]bool{}
	for _, b := range r.Result.Breaches {
		k := breachKey{b.Metric, max(b.Cycle, 1)}
		holds[k] = true
		m := r.Match
		target := m.Severity.Target(b.Metric).Seconds()
		if _, err := tx.Exec(ctx, `
			INSERT INTO sla_breaches AS b (tenant_id, interaction_id, metric, cycle, breached_at, target_seconds, queue_id,
				policy_id, policy_name, severity_id, severity_name)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
			ON CONFLICT (tenant_id, interaction_id, metric, cycle) DO UPDATE SET
				breached_at = excluded.breached_at, target_seconds = excluded.target_seconds, queue_id = excluded.queue_id,
				policy_id = excluded.policy_id, policy_name = excluded.policy_name, severity_id = excluded.severity_id,
				severity_name = excluded.severity_name, withdrawn_at = NULL,
				version = b.version + CASE WHEN b.withdrawn_at IS NULL THEN 0 ELSE 1 END, updated_at = now()
			WHERE b.withdrawn_at IS NOT NULL OR (b.breached_at, b.target_seconds, b.queue_id, b.policy_id, b.policy_name,
				b.severity_id, b.severity_name) IS DISTINCT FROM (excluded.breached_at, excluded.target_seconds, excluded.queue_id,
				excluded.policy_id, excluded.policy_name, excluded.severity_id, excluded.severity_name)`,
			r.TenantID, r.InteractionID, string(k.metric), k.cycle, b.At, target, r.QueueID,
			m.PolicyID, m.PolicyName, nullUUID(m.Severity.ID), m.Severity.Name); err != nil {
			return err
		}
	}
	for k, withdrawn := range stored {
		if withdrawn || holds[k] {
			continue
		}
		if _, err := tx.Exec(ctx, `
			UPDATE sla_breaches SET withdrawn_at = $5, version = version + 1, updated_at = now()
			WHERE tenant_id = $1 AND interaction_id = $2 AND metric = $3 AND cycle = $4`,
			r.TenantID, r.InteractionID, string(k.metric), k.cycle, r.Result.At); err != nil {
			return err
		}
	}
	return nil
}

// SLABreach is a recorded breach of a conversation's SLA.
type SLABreach struct {
	InteractionID string     `json:"interactionId"`
	Metric        sla.Metric `json:"metric"`
	Cycle         int        `json:"cycle"`
	BreachedAt    time.Time  `json:"breachedAt"`
	TargetSeconds float64    `json:"targetSeconds"`
	QueueID       string     `json:"queueId"`
	PolicyID      string     `json:"policyId"`
	PolicyName    string     `json:"policyName"`
	SeverityID    string     `json:"severityId,omitempty"`
	SeverityName  string     `json:"severityName"`
	// WithdrawnAt is set when a recalculation found the breach no longer holds.
	WithdrawnAt *time.Time `json:"withdrawnAt,omitempty"`
	// Version counts its changes (recorded, withdrawn, standing again).
	Version    int       `json:"version"`
	RecordedAt time.Time `json:"recordedAt"`
}

const breachColumns = `interaction_id, metric, cycle, breached_at, target_seconds, queue_id, policy_id, policy_name,
	coalesce(severity_id::text, ''), severity_name, withdrawn_at, version, recorded_at`

func scanBreach(row pgx.Row) (SLABreach, error) {
	var (
		b      SLABreach
		metric string
	)
	err := row.Scan(&b.InteractionID, &metric, &b.Cycle, &b.BreachedAt, &b.TargetSeconds, &b.QueueID, &b.PolicyID, &b.PolicyName,
		&b.SeverityID, &b.SeverityName, &b.WithdrawnAt, &b.Version, &b.RecordedAt)
	b.Metric = sla.Metric(metric)
	return b, err
}

// SLABreaches lists a conversation's breach records, withdrawn ones too, in the
// order they happened.
func (s *Store) SLABreaches(ctx context.Context, tenantID, interactionID string) ([]SLABreach, error) {
	return s.breaches(ctx, tenantID, interactionID, false)
}

// SLABreachesToPublish lists the conversation's breach records whose latest change
// (recorded, withdrawn, standing again) was not published yet.
func (s *Store) SLABreachesToPublish(ctx context.Context, tenantID, interactionID string) ([]SLABreach, error) {
	return s.breaches(ctx, tenantID, interactionID, true)
}

func (s *Store) breaches(ctx context.Context, tenantID, interactionID string, unpublished bool) ([]SLABreach, error) {
	if !isUUID(tenantID) || !isUUID(interactionID) {
		return []SLABreach{}, nil
	}
	sql := `SELECT ` + breachColumns + ` FROM sla_breaches WHERE tenant_id = $1 AND interaction_id = $2`
	if unpublished {
		sql += ` AND published < version`
	}
	rows, err := s.pool.Query(ctx, sql+` ORDER BY breached_at, metric, cycle`, tenantID, interactionID)
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (SLABreach, error) { return scanBreach(r) })
	if out == nil {
		out = []SLABreach{}
	}
	return out, err
}

// MarkSLABreachPublished records that the event of the breach's version went out.
func (s *Store) MarkSLABreachPublished(ctx context.Context, tenantID string, b SLABreach) error {
	_, err := s.pool.Exec(ctx, `
		UPDATE sla_breaches SET published = greatest(published, $5)
		WHERE tenant_id = $1 AND interaction_id = $2 AND metric = $3 AND cycle = $4`,
		tenantID, b.InteractionID, string(b.Metric), b.Cycle, b.Version)
	return err
}

// SLAMetric is one metric's clock as an agent or supervisor sees it: counted up to
// the instant it is read.
type SLAMetric struct {
	Metric sla.Metric `json:"metric"`
	State  sla.State  `json:"state"`
	// Cycle is the next-reply exchange the clock is of.
	Cycle            int        `json:"cycle"`
	TargetSeconds    float64    `json:"targetSeconds"`
	ElapsedSeconds   float64    `json:"elapsedSeconds"`
	RemainingSeconds float64    `json:"remainingSeconds"`
	StartedAt        *time.Time `json:"startedAt"`
	DueAt            *time.Time `json:"dueAt"`
	Breached         bool       `json:"breached"`
	BreachedAt       *time.Time `json:"breachedAt"`
	MetAt            *time.Time `json:"metAt"`
}

// SLAConversation is a conversation's SLA as read from the clocks' read model, with
// the interaction's live state.
type SLAConversation struct {
	InteractionID string `json:"interactionId"`
	QueueID       string `json:"queueId"`
	// AgentID, Status and ConversationStatus are the interaction's.
	AgentID            string             `json:"agentId,omitempty"`
	Status             InteractionStatus  `json:"status,omitempty"`
	ConversationStatus ConversationStatus `json:"conversationStatus,omitempty"`
	// Policy and Severity are nil when no policy applies.
	Policy           *SLAPolicyRef   `json:"policy"`
	Severity         *SLASeverityRef `json:"severity"`
	ExcludeAutomated bool            `json:"excludeAutomated"`
	StartedAt        time.Time       `json:"startedAt"`
	Open             bool            `json:"open"`
	// OverdueSince is the earliest breach of a metric still not met.
	OverdueSince *time.Time  `json:"overdueSince"`
	Breaches     int         `json:"breaches"`
	NextDueAt    *time.Time  `json:"nextDueAt"`
	Metrics      []SLAMetric `json:"metrics"`
	// EvaluatedAt is when the clock last evaluated; AsOf is the instant the
	// metrics are counted to.
	EvaluatedAt time.Time `json:"evaluatedAt"`
	AsOf        time.Time `json:"asOf"`
}

// SLAPolicyRef names a policy.
type SLAPolicyRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// SLASeverityRef names a severity.
type SLASeverityRef struct {
	ID       string       `json:"id,omitempty"`
	Name     string       `json:"name"`
	Counting sla.Counting `json:"counting"`
}

const slaConversationColumns = `c.interaction_id, c.queue_id, coalesce(i.agent_id::text, ''), coalesce(i.status, ''),
	coalesce(i.conversation_status, ''), c.policy_id, c.policy_name, c.severity_id, c.severity_name, c.counting,
	c.exclude_automated, c.started_at, c.open, c.overdue_since, c.breaches, c.next_due_at, c.metrics, c.evaluated_at`

const slaConversationFrom = ` FROM sla_clocks c LEFT JOIN interactions i ON i.tenant_id = c.tenant_id AND i.id = c.interaction_id`

func scanSLAConversation(row pgx.Row, now time.Time) (SLAConversation, error) {
	var (
		v                                       SLAConversation
		policyID, policyName, sevID, sevName, n *string
		status, convStatus                      string
		metrics                                 []byte
	)
	if err := row.Scan(&v.InteractionID, &v.QueueID, &v.AgentID, &status, &convStatus, &policyID, &policyName, &sevID, &sevName, &n,
		&v.ExcludeAutomated, &v.StartedAt, &v.Open, &v.OverdueSince, &v.Breaches, &v.NextDueAt, &metrics, &v.EvaluatedAt); err != nil {
		return v, err
	}
	v.Status, v.ConversationStatus = InteractionStatus(status), ConversationStatus(convStatus)
	if policyID != nil {
		v.Policy = &SLAPolicyRef{ID: *policyID, Name: deref(policyName)}
		v.Severity = &SLASeverityRef{ID: deref(sevID), Name: deref(sevName), Counting: sla.Counting(deref(n))}
	}
	var clocks []sla.Clock
	if err := json.Unmarshal(metrics, &clocks); err != nil {
		return v, fmt.Errorf("sla clock of %s: stored metrics: %w", v.InteractionID, err)
	}
	v.AsOf = v.EvaluatedAt
	if v.Open && now.After(v.EvaluatedAt) {
		v.AsOf = now
	}
	since := v.AsOf.Sub(v.EvaluatedAt)
	v.Metrics = make([]SLAMetric, 0, len(clocks))
	for _, c := range clocks {
		if c.State == sla.Running {
			// Between two evaluations a running clock counts linearly: the clock
			// writes again at every working-hours edge and every event.
			c.Elapsed += since
			c.Remaining -= since
		}
		v.Metrics = append(v.Metrics, SLAMetric{
			Metric: c.Metric, State: c.State, Cycle: c.Cycle, TargetSeconds: c.Target.Seconds(),
			ElapsedSeconds: c.Elapsed.Seconds(), RemainingSeconds: c.Remaining.Seconds(),
			StartedAt: timeOrNil(c.StartedAt), DueAt: timeOrNil(c.DueAt), Breached: c.Breached || c.Remaining < 0,
			BreachedAt: timeOrNil(c.BreachedAt), MetAt: timeOrNil(c.MetAt),
		})
	}
	return v, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// SLAConversation returns a conversation's SLA counted to now; ErrNotFound when
// its clock never started (no customer message yet, or a call).
func (s *Store) SLAConversation(ctx context.Context, tenantID, interactionID string, now time.Time) (SLAConversation, error) {
	if !isUUID(interactionID) {
		return SLAConversation{}, translate(pgx.ErrNoRows, "sla clock")
	}
	v, err := scanSLAConversation(s.pool.QueryRow(ctx, `SELECT `+slaConversationColumns+slaConversationFrom+`
		WHERE c.tenant_id = $1 AND c.interaction_id = $2`, tenantID, interactionID), now)
	if err != nil {
		return SLAConversation{}, translate(err, "sla clock")
	}
	return v, nil
}

// SLA conversation states a supervisor lists.
const (
	// SLABreached: open conversations with a metric past its target, not met yet;
	// the longest overdue first.
	SLABreached = "breached"
	// SLAAtRisk: open conversations with a metric not yet breached that reaches
	// its target within the window; the soonest first.
	SLAAtRisk = "at-risk"
)

// MaxSLARiskWindow bounds the at-risk window.
const MaxSLARiskWindow = 30 * 24 * time.Hour

// SLAConversationFilter selects conversations by the state of their SLA.
type SLAConversationFilter struct {
	State string
	// Within is the at-risk window.
	Within  time.Duration
	QueueID string
	AgentID string
	// Now is the instant the window starts at and the metrics are counted to.
	Now time.Time
	// Limit bounds the page; After is the NextAfter of the previous page.
	Limit int
	After string
}

// Validate checks the filter and fills in defaults.
func (f *SLAConversationFilter) Validate() error {
	switch f.State {
	case SLABreached:
	case SLAAtRisk:
		if f.Within <= 0 || f.Within > MaxSLARiskWindow {
			return invalid("within", "must be a duration such as 15m or 2h, up to %s", MaxSLARiskWindow)
		}
	default:
		return invalid("state", "must be %q or %q", SLABreached, SLAAtRisk)
	}
	if f.QueueID != "" && !isUUID(f.QueueID) {
		return invalid("queueId", "must be a queue ID")
	}
	if f.AgentID != "" && !isUUID(f.AgentID) {
		return invalid("agentId", "must be an agent ID")
	}
	if f.Limit == 0 {
		f.Limit = defaultPageSize
	}
	if f.Limit < 1 || f.Limit > maxPageSize {
		return invalid("limit", "must be between 1 and %d", maxPageSize)
	}
	if f.After != "" {
		if _, _, err := parseSLACursor(f.After); err != nil {
			return err
		}
	}
	if f.Now.IsZero() {
		f.Now = time.Now()
	}
	return nil
}

// SLACursor is the position after item in a listing of state.
func SLACursor(state string, item SLAConversation) string {
	t := item.NextDueAt
	if state == SLABreached {
		t = item.OverdueSince
	}
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano) + "_" + item.InteractionID
}

func parseSLACursor(s string) (time.Time, string, error) {
	ts, id, ok := strings.Cut(s, "_")
	t, err := time.Parse(time.RFC3339Nano, ts)
	if !ok || err != nil || !isUUID(id) {
		return time.Time{}, "", invalid("after", "must be the nextAfter of a previous page")
	}
	return t, id, nil
}

// ListSLAConversations lists open conversations by the state of their SLA, a page at
// a time in the state's order.
func (s *Store) ListSLAConversations(ctx context.Context, tenantID string, f SLAConversationFilter) ([]SLAConversation, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	col := "c.next_due_at"
	where := []string{"c.tenant_id = $1", "c.open"}
	args := []any{tenantID}
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if f.State == SLABreached {
		col = "c.overdue_since"
		where = append(where, "c.overdue_since IS NOT NULL")
	} else {
		where = append(where, "c.next_due_at IS NOT NULL", "c.next_due_at <= "+arg(f.Now.Add(f.Within)))
	}
	if f.QueueID != "" {
		where = append(where, "c.queue_id = "+arg(f.QueueID))
	}
	if f.AgentID != "" {
		where = append(where, "i.agent_id = "+arg(f.AgentID))
	}
	if f.After != "" {
		t, id, _ := parseSLACursor(f.After)
		where = append(where, fmt.Sprintf("(%s, c.interaction_id) > (%s, %s)", col, arg(t), arg(id)))
	}
	sql := `SELECT ` + slaConversationColumns + slaConversationFrom + ` WHERE ` + strings.Join(where, " AND ") +
		fmt.Sprintf(" ORDER BY %s, c.interaction_id LIMIT %s", col, arg(f.Limit))
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (SLAConversation, error) { return scanSLAConversation(r, f.Now) })
	if out == nil {
		out = []SLAConversation{}
	}
	return out, err
}

// OpenSLAClocks lists up to limit interactions with an open clock, by ID after
// after: the pages a recalculation walks.
func (s *Store) OpenSLAClocks(ctx context.Context, tenantID, after string, limit int) ([]string, error) {
	if after == "" {
		after = "00000000-0000-0000-0000-000000000000"
	}
	rows, err := s.pool.Query(ctx, `
		SELECT interaction_id::text FROM sla_clocks WHERE tenant_id = $1 AND open AND interaction_id > $2
		ORDER BY interaction_id LIMIT $3`, tenantID, after, limit)
	if err != nil {
		return nil, err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return slices.Clip(ids), err
}

// CloseSLAClock marks a conversation's clock stopped when its workflow is gone
// (the conversation ended without telling it): its clocks no longer count.
func (s *Store) CloseSLAClock(ctx context.Context, tenantID, interactionID string) error {
	_, err := s.pool.Exec(ctx, `
		UPDATE sla_clocks SET open = false, overdue_since = NULL, next_due_at = NULL, updated_at = now()
		WHERE tenant_id = $1 AND interaction_id = $2 AND open`, tenantID, interactionID)
	return err
}
