package schema_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"switchboard/pgtest"
	"switchboard/schema"
)

// adminURL names the test server's maintenance database, which the tests use to look
// at pg_database.
const adminURL = pgtest.Server + "postgres?sslmode=disable"

// freshURL returns the URL of a database that does not exist yet, with a name of its own
// so that tests never touch `switchboard` or another package's databases. The database
// is dropped when the test ends, whether or not the test created it.
func freshURL(t *testing.T, suffix string) (url, name string) {
	t.Helper()
	url, drop := pgtest.NewURL(suffix)
	t.Cleanup(func() {
		if err := drop(); err != nil {
			t.Errorf("drop test database: %v", err)
		}
	})
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	return url, cfg.Database
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func databaseExists(t *testing.T, ctx context.Context, name string) bool {
	t.Helper()
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		t.Fatalf("connect to postgres: %v", err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	return exists
}

func connect(t *testing.T, ctx context.Context, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// migrated is a fresh database at the newest schema and a connection to it.
func migrated(t *testing.T, ctx context.Context) (string, *pgx.Conn) {
	t.Helper()
	url, _ := freshURL(t, "")
	if _, err := schema.Migrate(ctx, url); err != nil {
		t.Fatal(err)
	}
	return url, connect(t, ctx, url)
}

func latest(t *testing.T) int32 {
	t.Helper()
	n, err := schema.Latest()
	if err != nil {
		t.Fatalf("Latest: %v", err)
	}
	if n < 1 {
		t.Fatalf("Latest() = %d, want at least one embedded migration", n)
	}
	return int32(n)
}

func TestMigrateCreatesMissingDatabase(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	url, name := freshURL(t, "")
	if databaseExists(t, ctx, name) {
		t.Fatalf("database %s exists before the test", name)
	}

	v, err := schema.Migrate(ctx, url)
	if err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	if want := latest(t); v != want {
		t.Errorf("Migrate version = %d, want Latest() = %d", v, want)
	}
	if !databaseExists(t, ctx, name) {
		t.Fatalf("database %s missing after Migrate", name)
	}

	var recorded int32
	if err := connect(t, ctx, url).QueryRow(ctx, `SELECT version FROM schema_version`).Scan(&recorded); err != nil {
		t.Fatalf("read schema_version: %v", err)
	}
	if recorded != v {
		t.Errorf("schema_version = %d, Migrate returned %d", recorded, v)
	}
}

func TestMigrateTwiceIsNoOp(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	url, _ := freshURL(t, "")

	first, err := schema.Migrate(ctx, url)
	if err != nil {
		t.Fatalf("first Migrate: %v", err)
	}
	// Data written between the runs must survive the second run untouched.
	conn := connect(t, ctx, url)
	var id string
	if err := conn.QueryRow(ctx, `INSERT INTO tenants (slug, name) VALUES ('keep-me', 'Keep') RETURNING id::text`).Scan(&id); err != nil {
		t.Fatalf("insert tenant: %v", err)
	}

	second, err := schema.Migrate(ctx, url)
	if err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	if second != first || second != latest(t) {
		t.Errorf("versions: first %d, second %d, Latest %d; want all equal", first, second, latest(t))
	}
	var rows, versionRows int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM tenants WHERE id = $1`, id).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 1 {
		t.Errorf("tenant written before the second Migrate is gone")
	}
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM schema_version`).Scan(&versionRows); err != nil {
		t.Fatal(err)
	}
	if versionRows != 1 {
		t.Errorf("schema_version has %d rows, want 1", versionRows)
	}
}

// Several processes starting at once (replicas, `make run` next to a test) race to
// create the database and apply migrations; all of them must succeed.
func TestMigrateConcurrentOnFreshDatabase(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	url, name := freshURL(t, "")

	const n = 8
	var (
		wg       sync.WaitGroup
		start    = make(chan struct{})
		versions [n]int32
		errs     [n]error
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			versions[i], errs[i] = schema.Migrate(ctx, url)
		}()
	}
	close(start)
	wg.Wait()

	want := latest(t)
	for i := range n {
		if errs[i] != nil {
			t.Errorf("Migrate #%d: %v", i, errs[i])
		} else if versions[i] != want {
			t.Errorf("Migrate #%d reached version %d, want %d", i, versions[i], want)
		}
	}
	if !databaseExists(t, ctx, name) {
		t.Fatalf("database %s missing", name)
	}
	var tables int
	if err := connect(t, ctx, url).QueryRow(ctx,
		`SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename = 'tenants'`).Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables != 1 {
		t.Errorf("tenants table count = %d, want 1", tables)
	}
}

func TestEnsureDatabase(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)

	t.Run("existing migrated database", func(t *testing.T) {
		url, name := freshURL(t, "")
		if _, err := schema.Migrate(ctx, url); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
		// Hold a connection open: EnsureDatabase must not need exclusive access.
		conn := connect(t, ctx, url)
		if err := schema.EnsureDatabase(ctx, url); err != nil {
			t.Fatalf("EnsureDatabase on existing database: %v", err)
		}
		if !databaseExists(t, ctx, name) {
			t.Fatal("database vanished")
		}
		if err := conn.Ping(ctx); err != nil {
			t.Fatalf("connection broken by EnsureDatabase: %v", err)
		}
	})

	t.Run("creates then accepts again", func(t *testing.T) {
		url, name := freshURL(t, "")
		for i := range 2 {
			if err := schema.EnsureDatabase(ctx, url); err != nil {
				t.Fatalf("EnsureDatabase call %d: %v", i+1, err)
			}
		}
		if !databaseExists(t, ctx, name) {
			t.Fatal("EnsureDatabase did not create the database")
		}
	})

	t.Run("name that needs quoting", func(t *testing.T) {
		url, name := freshURL(t, "_Mixed-Case")
		if _, err := schema.Migrate(ctx, url); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
		if !databaseExists(t, ctx, name) {
			t.Fatalf("database %q not created with its exact name", name)
		}
	})
}

func TestURLWithoutDatabaseName(t *testing.T) {
	// PGDATABASE would otherwise supply a name; t.Setenv rules out t.Parallel.
	t.Setenv("PGDATABASE", "")
	ctx := testContext(t)

	for _, url := range []string{
		"postgres://postgres@127.0.0.1:5432/?sslmode=disable",
		"postgres://postgres@127.0.0.1:5432",
		"host=127.0.0.1 port=5432 user=postgres sslmode=disable",
	} {
		t.Run(url, func(t *testing.T) {
			err := schema.EnsureDatabase(ctx, url)
			if err == nil || !strings.Contains(err.Error(), "names no database") {
				t.Errorf("EnsureDatabase error = %v, want one saying the URL names no database", err)
			}
			v, err := schema.Migrate(ctx, url)
			if err == nil || !strings.Contains(err.Error(), "names no database") {
				t.Errorf("Migrate = %d, %v; want an error saying the URL names no database", v, err)
			}
		})
	}

	t.Run("unparsable URL", func(t *testing.T) {
		err := schema.EnsureDatabase(ctx, "postgres://postgres@127.0.0.1:notaport/x")
		if err == nil || !strings.Contains(err.Error(), "parse database URL") {
			t.Errorf("EnsureDatabase error = %v, want a parse error", err)
		}
	})
}

func TestTablesExist(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	url, _ := freshURL(t, "")
	if _, err := schema.Migrate(ctx, url); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	conn := connect(t, ctx, url)
	for _, table := range []string{"tenants", "users", "api_keys", "audit_log", "schema_version",
		"skills", "queues", "queue_agents", "agent_settings", "agent_skills", "acd_settings", "routes", "route_skills", "agent_statuses",
		"agent_sessions", "agent_status_events", "interactions", "interaction_offers",
		"campaigns", "disposition_classes", "disposition_codes", "interaction_messages", "channel_senders"} {
		var reg *string
		if err := conn.QueryRow(ctx, `SELECT to_regclass($1)::text`, "public."+table).Scan(&reg); err != nil {
			t.Fatal(err)
		}
		if reg == nil {
			t.Errorf("table %s does not exist", table)
		}
	}
}

func TestDropDatabase(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	url, name := freshURL(t, "")
	if _, err := schema.Migrate(ctx, url); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	// An open session must not block the drop (WITH (FORCE)).
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())

	if err := schema.DropDatabase(ctx, url); err != nil {
		t.Fatalf("DropDatabase with an open session: %v", err)
	}
	if databaseExists(t, ctx, name) {
		t.Fatal("database still exists after DropDatabase")
	}
	if err := schema.DropDatabase(ctx, url); err != nil {
		t.Errorf("DropDatabase of a missing database: %v", err)
	}
	if err := conn.Ping(ctx); err == nil {
		t.Error("session on the dropped database still answers")
	} else if errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("ping: %v", err)
	}
}

func TestCheck(t *testing.T) {
	ctx := context.Background()
	url, _ := freshURL(t, "")
	if err := schema.EnsureDatabase(ctx, url); err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if err := schema.Check(ctx, pool); err == nil || !strings.Contains(err.Error(), "switchboard migrate") {
		t.Errorf("unmigrated database: %v", err)
	}
	if _, err := schema.Migrate(ctx, url); err != nil {
		t.Fatal(err)
	}
	if err := schema.Check(ctx, pool); err != nil {
		t.Errorf("migrated database: %v", err)
	}
	if _, err := pool.Exec(ctx, "UPDATE schema_version SET version = 0"); err != nil {
		t.Fatal(err)
	}
	if err := schema.Check(ctx, pool); err == nil || !strings.Contains(err.Error(), "version 0") {
		t.Errorf("database behind this build: %v", err)
	}
}
