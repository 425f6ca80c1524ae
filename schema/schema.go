// Package schema holds Switchboard's PostgreSQL migrations, embedded in the binary, and
// applies them.
package schema

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/tern/v2/migrate"
)

//go:embed migrations/*.sql
var migrations embed.FS

// versionTable records the applied migration version.
const versionTable = "schema_version"

// Migrate brings the database at url to the newest schema, creating the database first
// when it does not exist. It is safe to run from several processes at once: the
// migrator holds an advisory lock while it works. It returns the version reached.
func Migrate(ctx context.Context, url string) (int32, error) {
	if err := EnsureDatabase(ctx, url); err != nil {
		return 0, err
	}
	cfg, err := ConnConfig(url)
	if err != nil {
		return 0, fmt.Errorf("parse database URL: %w", err)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return 0, fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(ctx)

	m, err := migrate.NewMigrator(ctx, conn, versionTable)
	if err != nil {
		return 0, fmt.Errorf("migrator: %w", err)
	}
	files, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return 0, err
	}
	if err := m.LoadMigrations(files); err != nil {
		return 0, fmt.Errorf("load migrations: %w", err)
	}
	if err := m.Migrate(ctx); err != nil {
		return 0, fmt.Errorf("migrate: %w", err)
	}
	return m.GetCurrentVersion(ctx)
}

// ConnConfig is the single-connection configuration of a database URL, which may carry
// the pool settings of pgxpool (pool_max_conns and the like): a plain connection leaves
// them out instead of sending them to the server as unknown parameters.
func ConnConfig(url string) (*pgx.ConnConfig, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, err
	}
	return cfg.ConnConfig, nil
}

// Latest is the version of the newest embedded migration.
func Latest() (int, error) {
	files, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return 0, err
	}
	paths, err := migrate.FindMigrations(files)
	return len(paths), err
}

// EnsureDatabase creates the database named in url when it does not exist, connecting
// to the server's `postgres` database to do so.
func EnsureDatabase(ctx context.Context, url string) error {
	cfg, err := ConnConfig(url)
	if err != nil {
		return fmt.Errorf("parse database URL: %w", err)
	}
	name := cfg.Database
	if name == "" {
		return errors.New("database URL names no database")
	}
	cfg.Database = "postgres"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connect to PostgreSQL at %s:%d: %w", cfg.Host, cfg.Port, err)
	}
	defer conn.Close(ctx)

	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return fmt.Errorf("look up database %s: %w", name, err)
	}
	if exists {
		return nil
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	var pgErr *pgconn.PgError
	// Created meanwhile by another process: PostgreSQL reports 42P04 when it sees the
	// other database in its early name check, and a unique violation on pg_database
	// when both sessions passed that check at once.
	if errors.As(err, &pgErr) && (pgErr.Code == "42P04" ||
		pgErr.Code == "23505" && pgErr.ConstraintName == "pg_database_datname_index") {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}

// DropDatabase removes the database named in url; tests use it to clean up.
func DropDatabase(ctx context.Context, url string) error {
	cfg, err := ConnConfig(url)
	if err != nil {
		return fmt.Errorf("parse database URL: %w", err)
	}
	name := cfg.Database
	cfg.Database = "postgres"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	return err
}

// Check fails when the database behind pool has not been migrated to this build's
// newest migration, telling the operator to run `switchboard migrate`. A newer
// database is accepted: migrations only add, so an older build keeps working during a
// rolling deploy.
func Check(ctx context.Context, pool *pgxpool.Pool) error {
	want, err := Latest()
	if err != nil {
		return err
	}
	var have int32
	err = pool.QueryRow(ctx, "SELECT version FROM "+versionTable).Scan(&have)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P01" { // no version table yet
		return fmt.Errorf("the database has no Switchboard schema: run `switchboard migrate`")
	}
	if err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if int(have) < want {
		return fmt.Errorf("the database schema is at version %d, this build needs %d: run `switchboard migrate`", have, want)
	}
	return nil
}
