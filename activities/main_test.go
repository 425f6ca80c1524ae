package activities_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"switchboard/activities"
	"switchboard/pgstore"
	"switchboard/pgtest"
	"switchboard/presence"
	"switchboard/schema"
)

// The package's tests share one migrated database of their own on the local
// PostgreSQL and work in Redis under a random key prefix, removed at the end.
var (
	store *pgstore.Store
	rdb   *redis.Client
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	url, drop := pgtest.NewURL("")
	defer func() {
		if err := drop(); err != nil {
			fmt.Fprintln(os.Stderr, "drop test database:", err)
		}
	}()
	if _, err := schema.Migrate(ctx, url); err != nil {
		fmt.Fprintln(os.Stderr, "activities tests: migrate:", err)
		return 1
	}
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		fmt.Fprintln(os.Stderr, "activities tests:", err)
		return 1
	}
	defer pool.Close()
	store = pgstore.New(pool)
	rdb = redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer rdb.Close()
	if err := rdb.Ping(ctx).Err(); err != nil {
		fmt.Fprintln(os.Stderr, "activities tests: Redis is not reachable at 127.0.0.1:6379:", err)
		return 1
	}
	return m.Run()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// newActivities gives a test activities over the shared database and a
// presence store of its own (heartbeat ttl) under a random Redis prefix.
func newActivities(t *testing.T, ttl time.Duration) *activities.Activities {
	t.Helper()
	prefix := "switchboard_test_" + randomHex(6)
	ps, err := presence.New(rdb, presence.Options{Prefix: prefix, HeartbeatTTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if keys, err := rdb.Keys(ctx, prefix+":*").Result(); err == nil && len(keys) > 0 {
			rdb.Del(ctx, keys...)
		}
	})
	return &activities.Activities{Store: store, Presence: ps, Redis: rdb}
}

// newAgent creates a tenant with one agent.
func newAgent(t *testing.T) (tenantID, agentID string) {
	t.Helper()
	slug := "t-" + randomHex(6)
	ct, err := store.CreateTenant(testContext(t), pgstore.Actor{}, pgstore.NewTenant{Slug: slug, Name: slug, TimeZone: "UTC",
		Admin: pgstore.NewUser{Email: "admin@" + slug + ".test", Name: "Admin"}})
	if err != nil {
		t.Fatal(err)
	}
	u, err := store.CreateUser(testContext(t), ct.Tenant.ID, pgstore.Actor{}, pgstore.NewUser{Email: "ana@" + slug + ".test", Name: "Ana", Role: pgstore.RoleAgent})
	if err != nil {
		t.Fatal(err)
	}
	return ct.Tenant.ID, u.ID
}
