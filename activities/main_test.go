package activities_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"switchboard/activities"
	"switchboard/pgstore"
	"switchboard/pgtest"
	"switchboard/presence"
)

// The package's tests share one migrated database of their own on the local
// PostgreSQL and work in Redis under a random key prefix, removed at the end.
var (
	store *pgstore.Store
	rdb   *redis.Client
)

func TestMain(m *testing.M) {
	os.Exit(pgtest.Main(m, "activities", func(s *pgstore.Store, r *redis.Client) { store, rdb = s, r }))
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
	prefix := "switchboard_test_" + pgtest.RandomHex(6)
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
	slug := "t-" + pgtest.RandomHex(6)
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
