// Package pgstore is Switchboard's PostgreSQL data layer: tenant-scoped reads and writes
// of configuration and read models. Every query filters by tenant.
package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

var (
	// ErrNotFound means no row with that ID exists in the caller's tenant.
	ErrNotFound = errors.New("not found")
	// ErrConflict means the write would break a uniqueness rule.
	ErrConflict = errors.New("conflict")
	// ErrUnauthenticated means the presented credential is unknown, revoked or expired.
	ErrUnauthenticated = errors.New("unauthenticated")
)

// ValidationError names the input field that is wrong and why.
type ValidationError struct {
	Field   string
	Message string
}

func (e *ValidationError) Error() string { return e.Field + ": " + e.Message }

func invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// Store reads and writes Switchboard's PostgreSQL database.
type Store struct {
	pool *pgxpool.Pool
}

// New returns a Store over pool.
func New(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// Ping checks that PostgreSQL answers.
func (s *Store) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }

// Actor is who makes a change; it is written to the audit log with the change.
type Actor struct {
	UserID    string
	KeyID     string
	RequestID string
}

// Page selects a slice of a listing ordered by creation: up to Limit rows after the row
// whose ID is After.
type Page struct {
	Limit int
	After string
}

const (
	defaultPageSize = 50
	maxPageSize     = 200
)

// Validate checks the page bounds.
func (p *Page) Validate() error {
	if p.Limit == 0 {
		p.Limit = defaultPageSize
	}
	if p.Limit < 1 || p.Limit > maxPageSize {
		return invalid("limit", "must be between 1 and %d", maxPageSize)
	}
	if p.After != "" && !isUUID(p.After) {
		return invalid("after", "must be an ID from a previous page")
	}
	return nil
}

func (s *Store) inTx(ctx context.Context, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool, fn)
}

func audit(ctx context.Context, tx pgx.Tx, tenantID string, actor Actor, action, objectType, objectID string, details any) error {
	if details == nil {
		details = struct{}{}
	}
	body, err := json.Marshal(details)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `
		INSERT INTO audit_log (tenant_id, actor_user, actor_key, action, object_type, object_id, request_id, details)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		tenantID, nullUUID(actor.UserID), nullUUID(actor.KeyID), action, objectType, objectID, nullText(actor.RequestID), body)
	if err != nil {
		return fmt.Errorf("audit %s %s: %w", action, objectType, err)
	}
	return nil
}

// translate maps driver errors to the package's sentinel errors.
func translate(err error, what string) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "23505":
			return fmt.Errorf("%s already exists: %w", what, ErrConflict)
		case "23503":
			return fmt.Errorf("%s refers to something that does not exist: %w", what, ErrNotFound)
		}
	}
	return err
}

func nullUUID(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nullText(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}
