// Package pgtest gives tests databases of their own on the local PostgreSQL, so they
// never touch the `switchboard` database of a running `make run` or each other's.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"switchboard/pgstore"
	"switchboard/schema"
)

// Server is the local PostgreSQL that tests use (trust authentication).
const Server = "postgres://postgres@127.0.0.1:5432/"

// NewURL names a database that does not exist yet, switchboard_test_<random><suffix>,
// and returns its URL with drop, which removes it and every database whose name
// starts with it plus "_" (the embedded Temporal server's, for instance).
func NewURL(suffix string) (url string, drop func() error) {
	name := "switchboard_test_" + RandomHex(6) + suffix
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

// Migrated creates a database of its own, brings it to the newest schema and opens a
// pool on it (maxConns 0 keeps pgx's default); drop closes the pool and removes the
// database.
func Migrated(ctx context.Context, maxConns int32) (pool *pgxpool.Pool, drop func(), err error) {
	url, dropURL := NewURL("")
	dropDB := func() {
		if err := dropURL(); err != nil {
			fmt.Fprintln(os.Stderr, "drop test database:", err)
		}
	}
	if _, err := schema.Migrate(ctx, url); err != nil {
		dropDB()
		return nil, nil, fmt.Errorf("migrate: %w", err)
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		dropDB()
		return nil, nil, err
	}
	if maxConns > 0 {
		cfg.MaxConns = maxConns
	}
	pool, err = pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		dropDB()
		return nil, nil, err
	}
	return pool, func() { pool.Close(); dropDB() }, nil
}

// RandomHex returns n random bytes as hex, for names that must not collide.
func RandomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Main runs a package's tests against one migrated database of their own and the
// local Redis, which ready receives before any test runs; it returns the exit code
// for os.Exit. pkg names the package in the messages of a failed set-up.
func Main(m *testing.M, pkg string, ready func(*pgstore.Store, *redis.Client)) int {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pool, drop, err := Migrated(ctx, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, pkg+" tests:", err)
		return 1
	}
	defer drop()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer rdb.Close()
	if err := rdb.Ping(ctx).Err(); err != nil {
		fmt.Fprintln(os.Stderr, pkg+" tests: Redis is not reachable at 127.0.0.1:6379:", err)
		return 1
	}
	ready(pgstore.New(pool), rdb)
	return m.Run()
}
