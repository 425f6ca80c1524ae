// Package pgtest gives tests databases of their own on the local PostgreSQL, so they
// never touch the `switchboard` database of a running `make run` or each other's.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Server is the local PostgreSQL that tests use (trust authentication).
const Server = "postgres://postgres@127.0.0.1:5432/"

// NewURL names a database that does not exist yet, switchboard_test_<random><suffix>,
// and returns its URL with drop, which removes it and every database whose name
// starts with it plus "_" (the embedded Temporal server's, for instance).
func NewURL(suffix string) (url string, drop func() error) {
	var b [6]byte
	_, _ = rand.Read(b[:]) // never fails on Linux
	name := "switchboard_test_" + hex.EncodeToString(b[:]) + suffix
	return Server + name + "?sslmode=disable", func() error { return dropAll(name) }
}

func dropAll(name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, Server+"postgres?sslmode=disable")
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT datname FROM pg_database WHERE datname = $1 OR starts_with(datname, $1 || '_')`, name)
	if err != nil {
		return err
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	for _, n := range names {
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{n}.Sanitize()+" WITH (FORCE)"); err != nil {
			return fmt.Errorf("drop %s: %w", n, err)
		}
	}
	return nil
}
