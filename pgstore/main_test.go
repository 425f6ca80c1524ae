package pgstore_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"switchboard/pgstore"
	"switchboard/pgtest"
)

// The package shares one migrated database; every test creates its own tenants, so tests
// do not see each other's rows. The name is random so that a running `make run`
// (database `switchboard`) and other packages' tests are never touched.
var (
	pool  *pgxpool.Pool
	store *pgstore.Store
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// 25 connections let the concurrency tests really run side by side.
	p, drop, err := pgtest.Migrated(ctx, 25)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pgstore tests:", err)
		return 1
	}
	defer drop()
	pool, store = p, pgstore.New(p)
	return m.Run()
}

// isolatedStore is a Store over a database of the test's own, for tests that need an
// empty database (Bootstrap).
func isolatedStore(t *testing.T, maxConns int) (*pgstore.Store, *pgxpool.Pool) {
	t.Helper()
	p, drop, err := pgtest.Migrated(testContext(t), int32(maxConns))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(drop)
	return pgstore.New(p), p
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// newTenant creates a tenant with a unique slug and returns it with its admin and key.
func newTenant(t *testing.T) pgstore.CreatedTenant {
	t.Helper()
	slug := "t-" + pgtest.RandomHex(6)
	ct, err := store.CreateTenant(testContext(t), pgstore.Actor{RequestID: "req-" + slug}, pgstore.NewTenant{
		Slug: slug, Name: "Tenant " + slug, TimeZone: "Europe/Lisbon",
		Admin: pgstore.NewUser{Email: "admin@" + slug + ".example", Name: "Admin"},
	})
	if err != nil {
		t.Fatalf("CreateTenant %s: %v", slug, err)
	}
	return ct
}

// newUser adds a user with a unique e-mail address to a tenant.
func newUser(t *testing.T, tenantID string, role pgstore.Role) pgstore.User {
	t.Helper()
	email := "u-" + pgtest.RandomHex(4) + "@example.com"
	u, err := store.CreateUser(testContext(t), tenantID, pgstore.Actor{}, pgstore.NewUser{Email: email, Name: "User " + email, Role: role})
	if err != nil {
		t.Fatalf("CreateUser %s: %v", email, err)
	}
	return u
}

// newKey issues a key to a user.
func newKey(t *testing.T, tenantID, userID string, expires *time.Time) pgstore.CreatedKey {
	t.Helper()
	k, err := store.CreateAPIKey(testContext(t), tenantID, pgstore.Actor{}, pgstore.NewAPIKey{UserID: userID, Name: "key", ExpiresAt: expires})
	if err != nil {
		t.Fatalf("CreateAPIKey: %v", err)
	}
	return k
}
