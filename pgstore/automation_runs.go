package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// Statuses of an automation run.
const (
	RunRunning          = "running"
	RunCompleted        = "completed"
	RunConditionsNotMet = "conditionsNotMet"
	RunLoopStopped      = "loopStopped"
	RunSkipped          = "skipped"
)

// Statuses of an action of a run.
const (
	ActionDone    = "done"
	ActionFailed  = "failed"
	ActionSkipped = "skipped"
)

// AutomationRun is one run of a rule on a conversation, with each action's result:
// the rule's execution log.
type AutomationRun struct {
	ID            string `json:"id"`
	TenantID      string `json:"tenantId"`
	RuleID        string `json:"automationId"`
	InteractionID string `json:"interactionId"`
	// Key is what makes the run happen once: the event's key, or the arming of a
	// time-based trigger.
	Key string `json:"key"`
	// Trigger is the trigger type that started it.
	Trigger string `json:"trigger"`
	// Event describes what happened (the event, or the period that ended).
	Event map[string]any `json:"event"`
	// Depth is how deep in a chain of rules the run is.
	Depth      int                      `json:"depth"`
	Status     string                   `json:"status"`
	Detail     string                   `json:"detail,omitempty"`
	StartedAt  time.Time                `json:"startedAt"`
	FinishedAt *time.Time               `json:"finishedAt,omitempty"`
	Actions    []AutomationActionResult `json:"actions"`
}

// AutomationActionResult is what one action of a run did.
type AutomationActionResult struct {
	// Position is the action's index in the rule's actions.
	Position int    `json:"position"`
	Type     string `json:"type"`
	// Status is done, failed or skipped.
	Status string         `json:"status"`
	Detail map[string]any `json:"detail,omitempty"`
	Error  string         `json:"error,omitempty"`
	At     time.Time      `json:"at"`
}

// NewAutomationRun is a run to record.
type NewAutomationRun struct {
	TenantID      string
	RuleID        string
	InteractionID string
	Key           string
	Trigger       string
	Event         map[string]any
	Depth         int
	// Status is running for a run that goes on to its actions, or its end status
	// when it stops at once (conditionsNotMet, loopStopped, skipped).
	Status string
	Detail string
}

const runColumns = `id, tenant_id, rule_id, interaction_id, run_key, trigger, event, depth, status, detail, started_at, finished_at`

func scanRun(row pgx.Row) (AutomationRun, error) {
	var (
		r      AutomationRun
		event  []byte
		detail *string
	)
	if err := row.Scan(&r.ID, &r.TenantID, &r.RuleID, &r.InteractionID, &r.Key, &r.Trigger, &event, &r.Depth, &r.Status, &detail,
		&r.StartedAt, &r.FinishedAt); err != nil {
		return r, err
	}
	if detail != nil {
		r.Detail = *detail
	}
	r.Actions = []AutomationActionResult{}
	return r, json.Unmarshal(event, &r.Event)
}

// BeginAutomationRun records a run once per key: a second call with the same rule
// and key answers the first run (and created false), with the actions recorded so
// far. A run of a rule deleted meanwhile is ErrNotFound.
func (s *Store) BeginAutomationRun(ctx context.Context, in NewAutomationRun) (AutomationRun, bool, error) {
	if !isUUID(in.TenantID) || !isUUID(in.RuleID) || !isUUID(in.InteractionID) || in.Key == "" || len(in.Key) > 500 {
		return AutomationRun{}, false, invalid("run", "a run needs a tenant, a rule, an interaction and a key")
	}
	if in.Event == nil {
		in.Event = map[string]any{}
	}
	event, err := json.Marshal(in.Event)
	if err != nil {
		return AutomationRun{}, false, err
	}
	var finished any
	if in.Status != RunRunning {
		finished = time.Now().UTC()
	}
	r, err := scanRun(s.pool.QueryRow(ctx, `
		INSERT INTO automation_runs (tenant_id, rule_id, interaction_id, run_key, trigger, event, depth, status, detail, finished_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		ON CONFLICT (tenant_id, rule_id, run_key) DO NOTHING
		RETURNING `+runColumns, in.TenantID, in.RuleID, in.InteractionID, in.Key, in.Trigger, event, in.Depth, in.Status, nullText(in.Detail), finished))
	if err == nil {
		return r, true, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return AutomationRun{}, false, translate(err, "automation")
	}
	r, err = scanRun(s.pool.QueryRow(ctx, `SELECT `+runColumns+` FROM automation_runs WHERE tenant_id = $1 AND rule_id = $2 AND run_key = $3`,
		in.TenantID, in.RuleID, in.Key))
	if err != nil {
		return AutomationRun{}, false, translate(err, "automation run")
	}
	runs := []AutomationRun{r}
	if err := loadRunActions(ctx, s.pool, runs); err != nil {
		return AutomationRun{}, false, err
	}
	return runs[0], false, nil
}

// RecordAutomationAction keeps what an action of a run did, once: the first result
// recorded for a position stands, and is what it answers.
func (s *Store) RecordAutomationAction(ctx context.Context, runID string, res AutomationActionResult) (AutomationActionResult, error) {
	if res.Detail == nil {
		res.Detail = map[string]any{}
	}
	detail, err := json.Marshal(res.Detail)
	if err != nil {
		return res, err
	}
	var out AutomationActionResult
	var raw []byte
	var errText *string
	err = s.pool.QueryRow(ctx, `
		WITH ins AS (
			INSERT INTO automation_run_actions (run_id, position, type, status, detail, error)
			VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (run_id, position) DO NOTHING
			RETURNING position, type, status, detail, error, at)
		SELECT * FROM ins
		UNION ALL
		SELECT position, type, status, detail, error, at FROM automation_run_actions
		WHERE run_id = $1 AND position = $2 AND NOT EXISTS (SELECT 1 FROM ins)`,
		runID, res.Position, res.Type, res.Status, detail, nullText(res.Error)).Scan(&out.Position, &out.Type, &out.Status, &raw, &errText, &out.At)
	if err != nil {
		return out, translate(err, "automation run")
	}
	if errText != nil {
		out.Error = *errText
	}
	return out, json.Unmarshal(raw, &out.Detail)
}

// AutomationAction answers the recorded result of a run's action, if any.
func (s *Store) AutomationAction(ctx context.Context, runID string, position int) (AutomationActionResult, bool, error) {
	var out AutomationActionResult
	var raw []byte
	var errText *string
	err := s.pool.QueryRow(ctx, `SELECT position, type, status, detail, error, at FROM automation_run_actions WHERE run_id = $1 AND position = $2`,
		runID, position).Scan(&out.Position, &out.Type, &out.Status, &raw, &errText, &out.At)
	if errors.Is(err, pgx.ErrNoRows) {
		return out, false, nil
	}
	if err != nil {
		return out, false, err
	}
	if errText != nil {
		out.Error = *errText
	}
	return out, true, json.Unmarshal(raw, &out.Detail)
}

// FinishAutomationRun ends a running run with its status; an ended run stays as it
// ended.
func (s *Store) FinishAutomationRun(ctx context.Context, tenantID, runID, status, detail string) error {
	_, err := s.pool.Exec(ctx, `UPDATE automation_runs SET status = $3, detail = coalesce($4, detail), finished_at = now()
		WHERE tenant_id = $1 AND id = $2 AND status = 'running'`, tenantID, runID, status, nullText(detail))
	return err
}

// AutomationRunFilter narrows a rule's log.
type AutomationRunFilter struct {
	InteractionID string
	Status        string
	Page          Page
}

// ListAutomationRuns answers a rule's log, newest first, each run with its actions.
func (s *Store) ListAutomationRuns(ctx context.Context, tenantID, ruleID string, f AutomationRunFilter) ([]AutomationRun, error) {
	if err := f.Page.Validate(); err != nil {
		return nil, err
	}
	if f.InteractionID != "" && !isUUID(f.InteractionID) {
		return nil, invalid("interactionId", "must be an interaction ID")
	}
	switch f.Status {
	case "", RunRunning, RunCompleted, RunConditionsNotMet, RunLoopStopped, RunSkipped:
	default:
		return nil, invalid("status", "must be running, completed, conditionsNotMet, loopStopped or skipped")
	}
	if _, err := getAutomation(ctx, s.pool, tenantID, ruleID, false); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `
		SELECT `+runColumns+` FROM automation_runs r
		WHERE tenant_id = $1 AND rule_id = $2
		  AND ($3::uuid IS NULL OR interaction_id = $3)
		  AND ($4::text IS NULL OR status = $4)
		  AND ($5::uuid IS NULL OR (started_at, id) < (SELECT started_at, id FROM automation_runs WHERE tenant_id = $1 AND id = $5))
		ORDER BY started_at DESC, id DESC LIMIT $6`,
		tenantID, ruleID, nullUUID(f.InteractionID), nullText(f.Status), nullUUID(f.Page.After), f.Page.Limit)
	if err != nil {
		return nil, err
	}
	runs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (AutomationRun, error) { return scanRun(r) })
	if err != nil {
		return nil, err
	}
	if runs == nil {
		runs = []AutomationRun{}
	}
	return runs, loadRunActions(ctx, s.pool, runs)
}

func loadRunActions(ctx context.Context, q querier, runs []AutomationRun) error {
	if len(runs) == 0 {
		return nil
	}
	index := make(map[string]int, len(runs))
	ids := make([]string, len(runs))
	for i, r := range runs {
		index[r.ID], ids[i] = i, r.ID
	}
	rows, err := q.Query(ctx, `SELECT run_id::text, position, type, status, detail, error, at FROM automation_run_actions
		WHERE run_id = ANY($1::uuid[]) ORDER BY run_id, position`, ids)
	if err != nil {
		return err
	}
	var (
		runID   string
		a       AutomationActionResult
		raw     []byte
		errText *string
	)
	_, err = pgx.ForEachRow(rows, []any{&runID, &a.Position, &a.Type, &a.Status, &raw, &errText, &a.At}, func() error {
		out := a
		out.Error = ""
		if errText != nil {
			out.Error = *errText
		}
		out.Detail = nil
		if err := json.Unmarshal(raw, &out.Detail); err != nil {
			return err
		}
		i := index[runID]
		runs[i].Actions = append(runs[i].Actions, out)
		return nil
	})
	return err
}
