package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"switchboard/routing"
)

// DefaultQueueName is the name every tenant's Default queue starts with.
const DefaultQueueName = "Default"

// querier is what both the pool and a transaction offer, so readers can run in either.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Nullable is a PATCH field that tells "absent" (leave as it is) from null (clear it,
// so the value is inherited again) from a value.
type Nullable[T any] struct {
	// Set is true when the field was present, null included.
	Set bool
	// Value is nil when the field was null.
	Value *T
}

// UnmarshalJSON records that the field was present; encoding/json calls it for null too.
func (n *Nullable[T]) UnmarshalJSON(b []byte) error {
	n.Set = true
	n.Value = nil
	if string(b) == "null" {
		return nil
	}
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	n.Value = &v
	return nil
}

// MarshalJSON writes the value or null (audit details).
func (n Nullable[T]) MarshalJSON() ([]byte, error) {
	if n.Value == nil {
		return []byte("null"), nil
	}
	return json.Marshal(*n.Value)
}

// fromRouting turns the routing package's validation errors into the store's, with the
// field path under prefix ("capacity" + "email" → "capacity.email").
func fromRouting(prefix string, err error) error {
	var v *routing.ValidationError
	if !errors.As(err, &v) {
		return err
	}
	field := v.Field
	switch {
	case prefix == "":
	case field == "":
		field = prefix
	default:
		field = prefix + "." + field
	}
	return &ValidationError{Field: field, Message: v.Message}
}

// checkIDs validates a list of references: UUIDs, each listed once.
func checkIDs(field string, ids []string) error {
	seen := make(map[string]bool, len(ids))
	for i, id := range ids {
		f := fmt.Sprintf("%s[%d]", field, i)
		if !isUUID(id) {
			return invalid(f, "must be an ID")
		}
		key := strings.ToLower(id)
		if seen[key] {
			return invalid(f, "%s is listed twice", id)
		}
		seen[key] = true
	}
	return nil
}

// missingIDs returns the index of the first of ids that the query (taking tenantID and
// ids) does not return, or -1 when all exist in the tenant.
func missingIDs(ctx context.Context, q querier, sql, tenantID string, ids []string) (int, error) {
	if len(ids) == 0 {
		return -1, nil
	}
	rows, err := q.Query(ctx, sql, tenantID, ids)
	if err != nil {
		return 0, err
	}
	found, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return 0, err
	}
	have := make(map[string]bool, len(found))
	for _, id := range found {
		have[id] = true
	}
	for i, id := range ids {
		if !have[strings.ToLower(id)] {
			return i, nil
		}
	}
	return -1, nil
}

const (
	sqlTenantSkills = `SELECT id::text FROM skills WHERE tenant_id = $1 AND id = ANY($2::uuid[])`
	sqlTenantQueues = `SELECT id::text FROM queues WHERE tenant_id = $1 AND id = ANY($2::uuid[])`
	sqlTenantAgents = `SELECT id::text FROM users WHERE tenant_id = $1 AND id = ANY($2::uuid[]) AND role = 'agent'`
)

// checkSkills answers 422 naming the first skill that is not one of the tenant's.
func checkSkills(ctx context.Context, q querier, tenantID, field string, ids []string) error {
	i, err := missingIDs(ctx, q, sqlTenantSkills, tenantID, ids)
	if err != nil || i < 0 {
		return err
	}
	return invalid(fmt.Sprintf("%s[%d]", field, i), "no skill %s in this tenant", ids[i])
}

// fkViolation reports whether err is a foreign-key violation of the named constraint.
func fkViolation(err error, constraint string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23503" && pgErr.ConstraintName == constraint
}

// goneRef turns a foreign-key violation (a referenced row deleted by a concurrent
// transaction after it was checked) into a 422 on field.
func goneRef(err error, field string) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23503" {
		return invalid(field, "refers to something that was just deleted")
	}
	return err
}

// uniqueViolation reports whether err is a unique violation of the named index.
func uniqueViolation(err error, constraint string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == constraint
}

// seedACD gives a new tenant its Default queue, its ACD settings row and the default
// break reasons, in the transaction that creates the tenant.
func seedACD(ctx context.Context, tx pgx.Tx, tenantID string) error {
	if _, err := tx.Exec(ctx, `INSERT INTO queues (tenant_id, name, is_default) VALUES ($1, $2, true)`, tenantID, DefaultQueueName); err != nil {
		return fmt.Errorf("create Default queue: %w", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO acd_settings (tenant_id) VALUES ($1)`, tenantID); err != nil {
		return fmt.Errorf("create ACD settings: %w", err)
	}
	var names []string
	for _, s := range routing.DefaultBreakReasons() {
		names = append(names, s.Name)
	}
	if _, err := tx.Exec(ctx, `
		INSERT INTO agent_statuses (tenant_id, name, status_group, break_reason)
		SELECT $1, n, 'away', true FROM unnest($2::text[]) WITH ORDINALITY AS b (n, i) ORDER BY i`, tenantID, names); err != nil {
		return fmt.Errorf("create break reasons: %w", err)
	}
	return nil
}
