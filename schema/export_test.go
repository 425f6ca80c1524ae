package schema

import (
	"context"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/tern/v2/migrate"
)

// MigrateTo moves the database at url to version target, up or down, so tests can
// check a migration against data written by the previous schema and its down section.
func MigrateTo(ctx context.Context, url string, target int32) error {
	if err := EnsureDatabase(ctx, url); err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	m, err := migrate.NewMigrator(ctx, conn, versionTable)
	if err != nil {
		return err
	}
	files, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	if err := m.LoadMigrations(files); err != nil {
		return err
	}
	if err := m.MigrateTo(ctx, target); err != nil {
		return fmt.Errorf("migrate to %d: %w", target, err)
	}
	return nil
}
