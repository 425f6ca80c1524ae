package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"switchboard/routing"
)

// AssignmentMode is how a queue picks the agent for a new interaction.
type AssignmentMode string

// The assignment modes.
const (
	// AssignAny offers the interaction to the best-scoring available agent (weighted sum).
	AssignAny AssignmentMode = "any"
	// AssignSticky offers it first to the agent who last talked to the customer within
	// the queue's sticky window, falling back to the weighted sum.
	AssignSticky AssignmentMode = "sticky"
)

// Queue is a pool of agents handling one kind of work. Every tenant has exactly one
// Default queue, which takes what no route matches, includes every agent and cannot be
// deleted; it may be renamed and configured like any other.
type Queue struct {
	ID        string `json:"id"`
	TenantID  string `json:"tenantId"`
	Name      string `json:"name"`
	IsDefault bool   `json:"isDefault"`
	// AutoAssign switches automatic assignment of chats, messaging and email; calls are
	// always assigned automatically (see AutoAssigns).
	AutoAssign     bool                 `json:"autoAssign"`
	AssignmentMode AssignmentMode       `json:"assignmentMode"`
	StickyWindow   routing.StickyWindow `json:"stickyWindow,omitempty"`
	// Agents are the queue's members; for the Default queue, every agent of the tenant.
	Agents []QueueAgent `json:"agents"`
	// Routes are the routes whose destination is this queue, in routing order.
	Routes []QueueRoute `json:"routes"`
	// WorkingHoursID is the queue's working-hours period; nil: always open. A new
	// queue gets the tenant's default period.
	WorkingHoursID *string   `json:"workingHoursId"`
	CreatedAt      time.Time `json:"createdAt"`
	UpdatedAt      time.Time `json:"updatedAt"`
}

// AutoAssigns reports whether interactions on ch in this queue are assigned
// automatically: calls always are, because a ringing caller cannot wait for an agent to
// pick the call from a list.
func (q Queue) AutoAssigns(ch routing.Channel) bool { return ch == routing.Voice || q.AutoAssign }

// Sticky returns the queue's sticky window, StickyOff when it assigns by score alone.
func (q Queue) Sticky() routing.StickyWindow {
	if q.AssignmentMode != AssignSticky {
		return routing.StickyOff
	}
	return q.StickyWindow
}

// QueueAgent is a member of a queue as listed with it.
type QueueAgent struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Enabled bool   `json:"enabled"`
}

// QueueRoute is a route leading to a queue as listed with it.
type QueueRoute struct {
	ID       string           `json:"id"`
	Name     string           `json:"name"`
	Position int              `json:"position"`
	Enabled  bool             `json:"enabled"`
	Priority routing.Priority `json:"priority"`
}

// maxQueueName bounds queue names.
const maxQueueName = 100

func validQueueName(field string, name *string) error {
	*name = strings.TrimSpace(*name)
	if *name == "" || utf8.RuneCountInString(*name) > maxQueueName {
		return invalid(field, "is required and at most %d characters", maxQueueName)
	}
	return nil
}

// checkAssignment validates a mode with its window, as they will be stored.
func checkAssignment(mode AssignmentMode, window routing.StickyWindow, windowGiven bool) error {
	switch mode {
	case AssignAny:
		if windowGiven && window != routing.StickyOff {
			return invalid("stickyWindow", "applies only to assignmentMode sticky")
		}
	case AssignSticky:
		if window == routing.StickyOff || !window.Valid() {
			return invalid("stickyWindow", "must be one of 30d, 60d, 365d, ever with assignmentMode sticky")
		}
	default:
		return invalid("assignmentMode", "must be any or sticky")
	}
	return nil
}

// NewQueue is a queue to create, optionally with its first members.
type NewQueue struct {
	Name string `json:"name"`
	// AutoAssign defaults to true.
	AutoAssign *bool `json:"autoAssign"`
	// AssignmentMode defaults to any.
	AssignmentMode AssignmentMode       `json:"assignmentMode"`
	StickyWindow   routing.StickyWindow `json:"stickyWindow"`
	AgentIDs       []string             `json:"agentIds"`
}

// Validate checks the new queue and fills in defaults.
func (q *NewQueue) Validate() error {
	if err := validQueueName("name", &q.Name); err != nil {
		return err
	}
	if q.AutoAssign == nil {
		on := true
		q.AutoAssign = &on
	}
	if q.AssignmentMode == "" {
		q.AssignmentMode = AssignAny
	}
	if err := checkAssignment(q.AssignmentMode, q.StickyWindow, true); err != nil {
		return err
	}
	return checkIDs("agentIds", q.AgentIDs)
}

// QueueUpdate changes the fields that are set. Switching to assignmentMode any clears
// the sticky window.
type QueueUpdate struct {
	Name           *string               `json:"name"`
	AutoAssign     *bool                 `json:"autoAssign"`
	AssignmentMode *AssignmentMode       `json:"assignmentMode"`
	StickyWindow   *routing.StickyWindow `json:"stickyWindow"`
}

// Validate checks the fields that are set on their own; the combination with the
// stored queue is checked by UpdateQueue.
func (u *QueueUpdate) Validate() error {
	if u.Name != nil {
		if err := validQueueName("name", u.Name); err != nil {
			return err
		}
	}
	if u.AssignmentMode != nil && *u.AssignmentMode != AssignAny && *u.AssignmentMode != AssignSticky {
		return invalid("assignmentMode", "must be any or sticky")
	}
	if u.StickyWindow != nil && (*u.StickyWindow == routing.StickyOff || !u.StickyWindow.Valid()) {
		return invalid("stickyWindow", "must be one of 30d, 60d, 365d, ever")
	}
	if u.Name == nil && u.AutoAssign == nil && u.AssignmentMode == nil && u.StickyWindow == nil {
		return invalid("", "nothing to change: set name, autoAssign, assignmentMode or stickyWindow")
	}
	return nil
}

// QueueAgents is the complete membership of a queue.
type QueueAgents struct {
	AgentIDs []string `json:"agentIds"`
}

// Validate checks the list; an empty list empties the queue.
func (m *QueueAgents) Validate() error {
	if m.AgentIDs == nil {
		return invalid("agentIds", "is required (an empty list removes every agent)")
	}
	return checkIDs("agentIds", m.AgentIDs)
}

const queueColumns = `id, tenant_id, name, is_default, auto_assign, assignment_mode, coalesce(sticky_window, ''), working_hours_id::text, created_at, updated_at`

func scanQueue(row pgx.Row) (Queue, error) {
	var q Queue
	err := row.Scan(&q.ID, &q.TenantID, &q.Name, &q.IsDefault, &q.AutoAssign, &q.AssignmentMode, &q.StickyWindow, &q.WorkingHoursID, &q.CreatedAt, &q.UpdatedAt)
	return q, err
}

func queueWhat(name string) string { return fmt.Sprintf("queue %q", name) }

// CreateQueue adds a queue, with its first agents when AgentIDs are given.
func (s *Store) CreateQueue(ctx context.Context, tenantID string, actor Actor, in NewQueue) (Queue, error) {
	if err := in.Validate(); err != nil {
		return Queue{}, err
	}
	var out Queue
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		// The tenant's default working hours, if any; locked to share, so that they
		// are not deleted before the queue that uses them is written.
		var hoursID *string
		if err := tx.QueryRow(ctx, `SELECT id::text FROM working_hours WHERE tenant_id = $1 AND is_default FOR SHARE`,
			tenantID).Scan(&hoursID); err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		q, err := scanQueue(tx.QueryRow(ctx, `
			INSERT INTO queues (tenant_id, name, auto_assign, assignment_mode, sticky_window, working_hours_id)
			VALUES ($1, $2, $3, $4, nullif($5, ''), $6) RETURNING `+queueColumns,
			tenantID, in.Name, *in.AutoAssign, in.AssignmentMode, string(in.StickyWindow), hoursID))
		if err != nil {
			return translate(err, queueWhat(in.Name))
		}
		if err := setMembers(ctx, tx, tenantID, q.ID, in.AgentIDs); err != nil {
			return err
		}
		if err := audit(ctx, tx, tenantID, actor, "queue.created", "queue", q.ID, in); err != nil {
			return err
		}
		out, err = getQueue(ctx, tx, tenantID, q.ID, false)
		return err
	})
	return out, err
}

// setMembers makes agentIDs the explicit members of queueID. Every ID must be an agent
// of the tenant (422 naming the first that is not).
func setMembers(ctx context.Context, tx pgx.Tx, tenantID, queueID string, agentIDs []string) error {
	i, err := missingIDs(ctx, tx, sqlTenantAgents, tenantID, agentIDs)
	if err != nil {
		return err
	}
	if i >= 0 {
		return invalid(fmt.Sprintf("agentIds[%d]", i), "%s is not an agent of this tenant", agentIDs[i])
	}
	if agentIDs == nil {
		agentIDs = []string{}
	}
	if _, err := tx.Exec(ctx, `DELETE FROM queue_agents WHERE tenant_id = $1 AND queue_id = $2 AND NOT user_id = ANY($3::uuid[])`,
		tenantID, queueID, agentIDs); err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `
		INSERT INTO queue_agents (tenant_id, queue_id, user_id)
		SELECT $1, $2, u FROM unnest($3::uuid[]) AS u ON CONFLICT DO NOTHING`, tenantID, queueID, agentIDs)
	return goneRef(err, "agentIds")
}

// GetQueue returns one queue with its agents and routes.
func (s *Store) GetQueue(ctx context.Context, tenantID, id string) (Queue, error) {
	return getQueue(ctx, s.pool, tenantID, id, false)
}

func getQueue(ctx context.Context, q querier, tenantID, id string, forUpdate bool) (Queue, error) {
	if !isUUID(id) {
		return Queue{}, translate(pgx.ErrNoRows, "queue")
	}
	sql := `SELECT ` + queueColumns + ` FROM queues WHERE tenant_id = $1 AND id = $2`
	if forUpdate {
		sql += ` FOR UPDATE`
	}
	queue, err := scanQueue(q.QueryRow(ctx, sql, tenantID, id))
	if err != nil {
		return Queue{}, translate(err, "queue")
	}
	qs := []Queue{queue}
	if err := loadQueueDetails(ctx, q, tenantID, qs); err != nil {
		return Queue{}, err
	}
	return qs[0], nil
}

// DefaultQueue returns the tenant's Default queue.
func (s *Store) DefaultQueue(ctx context.Context, tenantID string) (Queue, error) {
	q, err := scanQueue(s.pool.QueryRow(ctx, `SELECT `+queueColumns+` FROM queues WHERE tenant_id = $1 AND is_default`, tenantID))
	if err != nil {
		return Queue{}, translate(err, "default queue")
	}
	qs := []Queue{q}
	err = loadQueueDetails(ctx, s.pool, tenantID, qs)
	return qs[0], err
}

// DefaultQueueID returns the ID of the tenant's Default queue, without its details:
// routing needs only the ID for the interactions no route matches.
func (s *Store) DefaultQueueID(ctx context.Context, tenantID string) (string, error) {
	var id string
	if !isUUID(tenantID) {
		return "", translate(pgx.ErrNoRows, "default queue")
	}
	err := s.pool.QueryRow(ctx, `SELECT id::text FROM queues WHERE tenant_id = $1 AND is_default`, tenantID).Scan(&id)
	return id, translate(err, "default queue")
}

// ListQueues lists a tenant's queues in creation order (the Default queue first), each
// with its agents and routes.
func (s *Store) ListQueues(ctx context.Context, tenantID string, page Page) ([]Queue, error) {
	if err := page.Validate(); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `
		SELECT `+queueColumns+` FROM queues
		WHERE tenant_id = $1
		  AND ($2::uuid IS NULL OR (created_at, id) > (SELECT created_at, id FROM queues WHERE tenant_id = $1 AND id = $2))
		ORDER BY created_at, id LIMIT $3`, tenantID, nullUUID(page.After), page.Limit)
	if err != nil {
		return nil, err
	}
	qs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Queue, error) { return scanQueue(r) })
	if err != nil {
		return nil, err
	}
	return qs, loadQueueDetails(ctx, s.pool, tenantID, qs)
}

// loadQueueDetails fills in the agents and routes of qs with three queries whatever
// the number of queues.
func loadQueueDetails(ctx context.Context, q querier, tenantID string, qs []Queue) error {
	ids := make([]string, 0, len(qs))
	hasDefault := false
	for i := range qs {
		ids = append(ids, qs[i].ID)
		qs[i].Agents, qs[i].Routes = []QueueAgent{}, []QueueRoute{}
		hasDefault = hasDefault || qs[i].IsDefault
	}
	if len(qs) == 0 {
		return nil
	}
	index := make(map[string]int, len(qs))
	for i, queue := range qs {
		index[queue.ID] = i
	}

	rows, err := q.Query(ctx, `
		SELECT qa.queue_id, u.id, u.name, coalesce(s.enabled, true)
		FROM queue_agents qa
		JOIN users u ON u.tenant_id = qa.tenant_id AND u.id = qa.user_id AND u.role = 'agent'
		LEFT JOIN agent_settings s ON s.tenant_id = u.tenant_id AND s.user_id = u.id
		WHERE qa.tenant_id = $1 AND qa.queue_id = ANY($2::uuid[])
		ORDER BY lower(u.name), u.id`, tenantID, ids)
	if err != nil {
		return err
	}
	var queueID string
	var a QueueAgent
	if _, err := pgx.ForEachRow(rows, []any{&queueID, &a.ID, &a.Name, &a.Enabled}, func() error {
		i := index[queueID]
		qs[i].Agents = append(qs[i].Agents, a)
		return nil
	}); err != nil {
		return err
	}
	if hasDefault {
		all, err := allAgents(ctx, q, tenantID)
		if err != nil {
			return err
		}
		for i := range qs {
			if qs[i].IsDefault {
				qs[i].Agents = all
			}
		}
	}

	rows, err = q.Query(ctx, `
		SELECT queue_id, id, name, position, enabled, priority FROM routes
		WHERE tenant_id = $1 AND queue_id = ANY($2::uuid[]) ORDER BY position`, tenantID, ids)
	if err != nil {
		return err
	}
	var r QueueRoute
	var priority string
	_, err = pgx.ForEachRow(rows, []any{&queueID, &r.ID, &r.Name, &r.Position, &r.Enabled, &priority}, func() error {
		p, err := routing.ParsePriority(priority)
		if err != nil {
			return err
		}
		r.Priority = p
		i := index[queueID]
		qs[i].Routes = append(qs[i].Routes, r)
		return nil
	})
	return err
}

func allAgents(ctx context.Context, q querier, tenantID string) ([]QueueAgent, error) {
	rows, err := q.Query(ctx, `
		SELECT u.id, u.name, coalesce(s.enabled, true)
		FROM users u LEFT JOIN agent_settings s ON s.tenant_id = u.tenant_id AND s.user_id = u.id
		WHERE u.tenant_id = $1 AND u.role = 'agent'
		ORDER BY lower(u.name), u.id`, tenantID)
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (QueueAgent, error) {
		var a QueueAgent
		err := r.Scan(&a.ID, &a.Name, &a.Enabled)
		return a, err
	})
	if out == nil {
		out = []QueueAgent{}
	}
	return out, err
}

// UpdateQueue renames or reconfigures a queue, the Default queue included.
func (s *Store) UpdateQueue(ctx context.Context, tenantID string, actor Actor, id string, in QueueUpdate) (Queue, error) {
	if err := in.Validate(); err != nil {
		return Queue{}, err
	}
	var out Queue
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		cur, err := getQueue(ctx, tx, tenantID, id, true)
		if err != nil {
			return err
		}
		name, auto, mode, window := cur.Name, cur.AutoAssign, cur.AssignmentMode, cur.StickyWindow
		if in.Name != nil {
			name = *in.Name
		}
		if in.AutoAssign != nil {
			auto = *in.AutoAssign
		}
		if in.AssignmentMode != nil {
			mode = *in.AssignmentMode
			if mode == AssignAny {
				window = routing.StickyOff
			}
		}
		if in.StickyWindow != nil {
			window = *in.StickyWindow
		}
		if err := checkAssignment(mode, window, in.StickyWindow != nil); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `
			UPDATE queues SET name = $3, auto_assign = $4, assignment_mode = $5, sticky_window = nullif($6, ''), updated_at = now()
			WHERE tenant_id = $1 AND id = $2`, tenantID, cur.ID, name, auto, mode, string(window)); err != nil {
			return translate(err, queueWhat(name))
		}
		if err := audit(ctx, tx, tenantID, actor, "queue.updated", "queue", cur.ID, in); err != nil {
			return err
		}
		out, err = getQueue(ctx, tx, tenantID, cur.ID, false)
		return err
	})
	return out, err
}

// SetQueueAgents makes the listed agents the queue's members, replacing the previous
// list. The Default queue's membership is everyone and cannot be set (ErrConflict).
func (s *Store) SetQueueAgents(ctx context.Context, tenantID string, actor Actor, id string, in QueueAgents) (Queue, error) {
	if err := in.Validate(); err != nil {
		return Queue{}, err
	}
	var out Queue
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		cur, err := getQueue(ctx, tx, tenantID, id, true)
		if err != nil {
			return err
		}
		if cur.IsDefault {
			return fmt.Errorf("the Default queue always includes every agent; its members cannot be chosen: %w", ErrConflict)
		}
		if err := setMembers(ctx, tx, tenantID, cur.ID, in.AgentIDs); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE queues SET updated_at = now() WHERE tenant_id = $1 AND id = $2`, tenantID, cur.ID); err != nil {
			return err
		}
		if err := audit(ctx, tx, tenantID, actor, "queue.agents_set", "queue", cur.ID, in); err != nil {
			return err
		}
		out, err = getQueue(ctx, tx, tenantID, cur.ID, false)
		return err
	})
	return out, err
}

// DeleteQueue removes a queue and its memberships. It refuses (ErrConflict) the Default
// queue, a queue that routes lead to — deleting those routes with it would silently
// change where interactions go, so the supervisor re-points or deletes them first — and
// a queue holding active interactions.
func (s *Store) DeleteQueue(ctx context.Context, tenantID string, actor Actor, id string) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		cur, err := getQueue(ctx, tx, tenantID, id, true)
		if err != nil {
			return err
		}
		if cur.IsDefault {
			return fmt.Errorf("the Default queue takes every interaction no route matches and cannot be deleted: %w", ErrConflict)
		}
		if len(cur.Routes) > 0 {
			names := make([]string, 0, len(cur.Routes))
			for _, r := range cur.Routes {
				names = append(names, r.Name)
			}
			return fmt.Errorf("queue %q is the destination of %s; point them at another queue or delete them first: %w",
				cur.Name, describeRoutes(names), ErrConflict)
		}
		active, err := activeInteractions(ctx, tx, tenantID, cur.ID)
		if err != nil {
			return err
		}
		if active > 0 {
			return fmt.Errorf("queue %q has %d active interactions; move or close them first: %w", cur.Name, active, ErrConflict)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM queues WHERE tenant_id = $1 AND id = $2`, tenantID, cur.ID); err != nil {
			return err
		}
		return audit(ctx, tx, tenantID, actor, "queue.deleted", "queue", cur.ID, map[string]string{"name": cur.Name})
	})
	// The row lock taken by getQueue makes the route check exact; the foreign key,
	// checked at commit, is the backstop.
	if fkViolation(err, "routes_queue") {
		return fmt.Errorf("a route to the queue was just created: %w", ErrConflict)
	}
	return err
}

// activeInteractions counts the interactions of a queue that are not over yet (queued,
// offered or connected), which must be none for the queue to be deleted. The caller
// holds the queue's row lock: EnqueueInteraction takes a share lock on the queue before
// inserting, so no interaction slips into the queue between this count and the delete.
func activeInteractions(ctx context.Context, tx pgx.Tx, tenantID, queueID string) (int, error) {
	var n int
	err := tx.QueryRow(ctx, `
		SELECT count(*) FROM interactions
		WHERE tenant_id = $1 AND queue_id = $2 AND status IN ('queued', 'offered', 'connected', 'on_hold')`, tenantID, queueID).Scan(&n)
	return n, err
}

// agentQueueIDs lists the queue IDs an agent belongs to, the Default queue first.
func agentQueueIDs(ctx context.Context, q querier, tenantID, userID string) ([]string, error) {
	rows, err := q.Query(ctx, `
		SELECT id::text FROM queues q
		WHERE tenant_id = $1 AND (is_default OR EXISTS (
			SELECT 1 FROM queue_agents qa WHERE qa.tenant_id = q.tenant_id AND qa.queue_id = q.id AND qa.user_id = $2))
		ORDER BY NOT is_default, created_at, id`, tenantID, userID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}
