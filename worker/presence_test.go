package worker

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"switchboard/pgstore"
	"switchboard/pgtest"
	"switchboard/presence"
	"switchboard/routing"
)

// heldIn writes an interaction of the tenant's Default queue as connected to agent.
func heldIn(t *testing.T, ctx context.Context, store *pgstore.Store, tenant, agent string, ch routing.Channel) string {
	t.Helper()
	q, err := store.DefaultQueueID(ctx, tenant)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now().UTC().Truncate(time.Millisecond)
	id := uuid.NewString()
	in := pgstore.Interaction{
		ID: id, TenantID: tenant, WorkflowID: "interaction/" + id, Channel: ch, Direction: pgstore.Inbound,
		From: "+385100", Customer: "+385100", QueueID: q, Priority: routing.PriorityNormal,
		InteractionState: pgstore.InteractionState{Status: pgstore.InteractionQueued, QueuedAt: at}, CreatedAt: at,
	}
	if _, err := store.EnqueueInteraction(ctx, in); err != nil {
		t.Fatal(err)
	}
	for _, u := range []pgstore.InteractionUpdate{
		{TenantID: tenant, InteractionID: id,
			State: pgstore.InteractionState{Status: pgstore.InteractionOffered, OfferedAgentID: agent, Offers: 1, QueuedAt: at, OfferedAt: &at, Version: 1},
			Offer: &pgstore.Offer{Attempt: 1, AgentID: agent, Channel: ch, OfferedAt: at, RingUntil: at.Add(20 * time.Second)}},
		{TenantID: tenant, InteractionID: id,
			State:    pgstore.InteractionState{Status: pgstore.InteractionConnected, AgentID: agent, Offers: 1, QueuedAt: at, OfferedAt: &at, ConnectedAt: &at, Version: 2},
			Response: &pgstore.OfferResponse{Attempt: 1, Outcome: pgstore.OfferAccepted, RespondedAt: at}},
	} {
		if _, err := store.RecordInteraction(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	return id
}

// The worker's look restores every tenant whose held slots Redis lost, and only
// those; a tenant whose presence is intact costs one read.
func TestRecoverTenants(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pool, drop, err := pgtest.Migrated(ctx, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer drop()
	store := pgstore.New(pool)
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer rdb.Close()
	prefix := "switchboard_test_" + pgtest.RandomHex(6)
	defer func() {
		if keys, err := rdb.Keys(context.Background(), prefix+":*").Result(); err == nil && len(keys) > 0 {
			rdb.Del(context.Background(), keys...)
		}
	}()
	ps, err := presence.New(rdb, presence.Options{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	type tenantHolds struct {
		id    string
		holds map[string]string // interaction → agent
	}
	var tenants []tenantHolds
	for i := range 3 {
		slug := "w-" + pgtest.RandomHex(6)
		ct, err := store.CreateTenant(ctx, pgstore.Actor{}, pgstore.NewTenant{Slug: slug, Name: slug, TimeZone: "UTC",
			Admin: pgstore.NewUser{Email: "admin@" + slug + ".example", Name: "Admin"}})
		if err != nil {
			t.Fatal(err)
		}
		th := tenantHolds{id: ct.Tenant.ID, holds: map[string]string{}}
		for range i {
			u, err := store.CreateUser(ctx, th.id, pgstore.Actor{}, pgstore.NewUser{Email: "a-" + pgtest.RandomHex(4) + "@example.com", Name: "Agent", Role: pgstore.RoleAgent})
			if err != nil {
				t.Fatal(err)
			}
			th.holds[heldIn(t, ctx, store, th.id, u.ID, routing.LiveChat)] = u.ID
			th.holds[heldIn(t, ctx, store, th.id, u.ID, routing.Email)] = u.ID
		}
		tenants = append(tenants, th)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	wantHeld := func(what string) {
		t.Helper()
		for _, th := range tenants {
			slots, err := ps.Audit(ctx, th.id)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, sl := range slots {
				if sl.Held {
					got[sl.Interaction] = sl.Agent
				}
			}
			if len(got) != len(th.holds) || len(slots) != len(th.holds) {
				t.Fatalf("%s: tenant %s holds %v, want %v", what, th.id, slots, th.holds)
			}
			for ix, agent := range th.holds {
				if got[ix] != agent {
					t.Fatalf("%s: %s held by %q, want %s", what, ix, got[ix], agent)
				}
			}
		}
	}
	ids := func() []string {
		var out []string
		for _, th := range tenants {
			out = append(out, th.id)
		}
		return out
	}

	// Start-up: no tenant was ever looked at.
	if err := recoverTenants(ctx, store, ps, heldSource(store), logger); err != nil {
		t.Fatal(err)
	}
	wantHeld("at start-up")
	if lost, err := ps.NeedRecovery(ctx, ids()); err != nil || len(lost) != 0 {
		t.Fatalf("after start-up %v still need recovery (%v)", lost, err)
	}

	// Redis loses one tenant's keys (a failed-over shard, say).
	lostTenant := tenants[2].id
	keys, err := rdb.Keys(ctx, prefix+":{"+lostTenant+"}:*").Result()
	if err != nil || len(keys) == 0 {
		t.Fatalf("keys of tenant %s: %v, %v", lostTenant, keys, err)
	}
	if err := rdb.Del(ctx, keys...).Err(); err != nil {
		t.Fatal(err)
	}
	if lost, err := ps.NeedRecovery(ctx, ids()); err != nil || len(lost) != 1 || lost[0] != lostTenant {
		t.Fatalf("need recovery %v (%v), want only %s", lost, err, lostTenant)
	}
	if err := recoverTenants(ctx, store, ps, heldSource(store), logger); err != nil {
		t.Fatal(err)
	}
	wantHeld("after the loss")

	// The loop stops with its context.
	lctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- KeepPresence(lctx, store, ps, logger) }()
	stop()
	if err := <-done; err != nil {
		t.Fatalf("KeepPresence = %v", err)
	}
}
