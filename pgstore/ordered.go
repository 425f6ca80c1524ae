package pgstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// orderedList is a tenant's list whose rows carry their place in a position column,
// 1 to n without gaps (routes, SLA policies): the first row that fits wins. Its methods
// run inside the transaction of a change, after lock, so two changes of one tenant's
// list never interleave.
type orderedList struct {
	// table is the SQL table (a constant, never input).
	table string
	// noun names a row in errors ("route", "sla policy"); plural names the list.
	noun, plural string
	// lockClass is the first key of the list's advisory lock, the tenant the second.
	lockClass int
}

func (l orderedList) lock(ctx context.Context, tx pgx.Tx, tenantID string) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, l.lockClass, tenantID)
	return err
}

func (l orderedList) count(ctx context.Context, tx pgx.Tx, tenantID string) (int, error) {
	var n int
	err := tx.QueryRow(ctx, `SELECT count(*) FROM `+l.table+` WHERE tenant_id = $1`, tenantID).Scan(&n)
	return n, err
}

// makeRoom answers the place of a new row: pos, or the end when pos is 0. The rows
// from there on move down by one; pos past the end is refused naming the field.
func (l orderedList) makeRoom(ctx context.Context, tx pgx.Tx, tenantID string, pos, n int) (int, error) {
	switch {
	case pos == 0:
		return n + 1, nil
	case pos > n+1:
		return 0, invalid("position", "must be between 1 and %d", n+1)
	}
	_, err := tx.Exec(ctx, `UPDATE `+l.table+` SET position = position + 1 WHERE tenant_id = $1 AND position >= $2`, tenantID, pos)
	return pos, err
}

// move takes row id from position from to position to, shifting the rows in between
// by one.
func (l orderedList) move(ctx context.Context, tx pgx.Tx, tenantID, id string, from, to int) error {
	n, err := l.count(ctx, tx, tenantID)
	if err != nil {
		return err
	}
	if to > n {
		return invalid("position", "must be between 1 and %d", n)
	}
	// One statement, so the unique position constraint is checked once at its end.
	_, err = tx.Exec(ctx, `
		UPDATE `+l.table+` SET position = CASE
			WHEN id = $2 THEN $4
			WHEN $4 < $3 THEN position + 1
			ELSE position - 1 END
		WHERE tenant_id = $1 AND position BETWEEN least($3::int, $4::int) AND greatest($3::int, $4::int)`,
		tenantID, id, from, to)
	return err
}

// remove deletes row id and closes the gap it leaves; it answers the row's position
// and name for the audit trail.
func (l orderedList) remove(ctx context.Context, tx pgx.Tx, tenantID, id string) (pos int, name string, err error) {
	if err := tx.QueryRow(ctx, `DELETE FROM `+l.table+` WHERE tenant_id = $1 AND id = $2 RETURNING position, name`, tenantID, id).Scan(&pos, &name); err != nil {
		return 0, "", translate(err, l.noun)
	}
	_, err = tx.Exec(ctx, `UPDATE `+l.table+` SET position = position - 1 WHERE tenant_id = $1 AND position > $2`, tenantID, pos)
	return pos, name, err
}

// reorder gives the rows the order of ids (lower-case), which must name every row of
// the tenant once. A list that names unknown rows or misses some is refused with
// ErrConflict: it was made from a stale view (a row was added or deleted meanwhile), and
// applying part of it would put rows where nobody meant them to be.
func (l orderedList) reorder(ctx context.Context, tx pgx.Tx, tenantID string, ids []string) error {
	rows, err := tx.Query(ctx, `SELECT id::text FROM `+l.table+` WHERE tenant_id = $1`, tenantID)
	if err != nil {
		return err
	}
	have, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	known := make(map[string]bool, len(have))
	for _, id := range have {
		known[id] = true
	}
	unknown := 0
	for _, id := range ids {
		if !known[id] {
			unknown++
		}
	}
	if unknown > 0 || len(ids) != len(have) {
		return fmt.Errorf("the order must list each of the tenant's %d %s exactly once; it lists %d, %d of them unknown — reload the %s and try again: %w",
			len(have), l.plural, len(ids), unknown, l.plural, ErrConflict)
	}
	_, err = tx.Exec(ctx, `
		UPDATE `+l.table+` r SET position = o.pos, updated_at = now()
		FROM unnest($2::uuid[]) WITH ORDINALITY AS o (id, pos)
		WHERE r.tenant_id = $1 AND r.id = o.id AND r.position <> o.pos`, tenantID, ids)
	return err
}
