package pgstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"switchboard/routing"
	"switchboard/timesheet"
)

// AgentStatus is one entry of a tenant's status catalogue: a predefined status
// (System, with its lower-case name as ID) or a custom one (with a UUID).
type AgentStatus struct {
	ID    string              `json:"id"`
	Name  string              `json:"name"`
	Group routing.StatusGroup `json:"group"`
	// System statuses are set by presence automation and cannot be deleted.
	System bool `json:"system"`
	// BreakReason marks Away statuses that report time as a break (Lunch, Training).
	BreakReason bool       `json:"breakReason"`
	CreatedAt   *time.Time `json:"createdAt,omitempty"`
}

// Status is the entry as the routing package sees it.
func (s AgentStatus) Status() routing.Status {
	return routing.Status{Name: s.Name, Group: s.Group, System: s.System}
}

// NewStatus is a custom status to create.
type NewStatus struct {
	Name        string              `json:"name"`
	Group       routing.StatusGroup `json:"group"`
	BreakReason bool                `json:"breakReason"`
}

// Validate checks the status with the routing package's rules.
func (n *NewStatus) Validate() error {
	n.Name = strings.TrimSpace(n.Name)
	if err := (routing.Status{Name: n.Name, Group: n.Group}).Validate(); err != nil {
		return fromRouting("", err)
	}
	if n.BreakReason && n.Group != routing.GroupAway {
		return invalid("breakReason", "break reasons are statuses of the away group")
	}
	return nil
}

func systemStatuses() []AgentStatus {
	var out []AgentStatus
	for _, s := range routing.DefaultStatuses() {
		out = append(out, AgentStatus{ID: strings.ToLower(s.Name), Name: s.Name, Group: s.Group, System: true})
	}
	return out
}

const statusColumns = `id, name, status_group, break_reason, created_at`

func scanStatus(row pgx.Row) (AgentStatus, error) {
	var (
		s  AgentStatus
		at time.Time
	)
	err := row.Scan(&s.ID, &s.Name, &s.Group, &s.BreakReason, &at)
	s.CreatedAt = &at
	return s, err
}

// StatusCatalog returns the predefined statuses followed by the tenant's custom ones
// in creation order.
func (s *Store) StatusCatalog(ctx context.Context, tenantID string) ([]AgentStatus, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT `+statusColumns+` FROM agent_statuses WHERE tenant_id = $1
		ORDER BY created_at, lower(name), id`, tenantID)
	if err != nil {
		return nil, err
	}
	custom, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (AgentStatus, error) { return scanStatus(r) })
	if err != nil {
		return nil, err
	}
	return append(systemStatuses(), custom...), nil
}

// CreateStatus adds a custom status. Names are unique in the tenant ignoring case,
// predefined names included (ErrConflict), because agents pick statuses by name.
func (s *Store) CreateStatus(ctx context.Context, tenantID string, actor Actor, in NewStatus) (AgentStatus, error) {
	if err := in.Validate(); err != nil {
		return AgentStatus{}, err
	}
	if prev, ok := routing.StatusCatalog(routing.DefaultStatuses()).Find(in.Name); ok {
		return AgentStatus{}, fmt.Errorf("%q is the predefined status %s: %w", in.Name, prev.Name, ErrConflict)
	}
	var out AgentStatus
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = scanStatus(tx.QueryRow(ctx, `
			INSERT INTO agent_statuses (tenant_id, name, status_group, break_reason) VALUES ($1, $2, $3, $4)
			RETURNING `+statusColumns, tenantID, in.Name, in.Group, in.BreakReason))
		if err != nil {
			return translate(err, fmt.Sprintf("status %q", in.Name))
		}
		return audit(ctx, tx, tenantID, actor, "status.created", "agent_status", out.ID, in)
	})
	return out, err
}

// DeleteStatus removes a custom status; predefined statuses cannot be deleted
// (ErrConflict).
func (s *Store) DeleteStatus(ctx context.Context, tenantID string, actor Actor, id string) error {
	for _, sys := range systemStatuses() {
		if strings.EqualFold(id, sys.ID) {
			return fmt.Errorf("%s is a predefined status and cannot be deleted: %w", sys.Name, ErrConflict)
		}
	}
	if !isUUID(id) {
		return translate(pgx.ErrNoRows, "status")
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		var name string
		if err := tx.QueryRow(ctx, `DELETE FROM agent_statuses WHERE tenant_id = $1 AND id = $2 RETURNING name`, tenantID, id).Scan(&name); err != nil {
			return translate(err, "status")
		}
		return audit(ctx, tx, tenantID, actor, "status.deleted", "agent_status", id, map[string]string{"name": name})
	})
}

// FindStatus looks a status of the tenant's catalogue up by ID or by name, both
// ignoring case, as agents and supervisors name statuses either way (ErrNotFound).
func (s *Store) FindStatus(ctx context.Context, tenantID, ref string) (AgentStatus, error) {
	ref = strings.TrimSpace(ref)
	cat, err := s.StatusCatalog(ctx, tenantID)
	if err != nil {
		return AgentStatus{}, err
	}
	for _, st := range cat {
		if strings.EqualFold(st.ID, ref) || strings.EqualFold(st.Name, ref) {
			return st, nil
		}
	}
	return AgentStatus{}, fmt.Errorf("status %q: %w", ref, ErrNotFound)
}

// Sheet is the entry as session accounting sees it.
func (s AgentStatus) Sheet() timesheet.Status {
	return timesheet.Status{ID: s.ID, Name: s.Name, Group: s.Group, BreakReason: s.BreakReason}
}
