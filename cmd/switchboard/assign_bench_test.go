package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"switchboard/dispatch"
	"switchboard/pgstore"
	"switchboard/presence"
	"switchboard/routing"
	"switchboard/worker"
)

// Load of BenchmarkAssignment: new interactions per second, for how long, and the
// agent populations compared.
const (
	assignRate     = 50
	assignDuration = 15 * time.Second
)

// benchAgentCounts are the populations BenchmarkAssignment compares.
var benchAgentCounts = []int{200, 2000}

// offerFloor has the shape of an interaction's path to its first offer without
// Switchboard's code: a workflow started by a client whose first step is one local
// activity (the interaction makes its first offer in the workflow task that starts
// the run).
func offerFloor(ctx workflow.Context) error {
	ctx = workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{StartToCloseTimeout: 10 * time.Second})
	return workflow.ExecuteLocalActivity(ctx, "floorOffer").Get(ctx, nil)
}

// floorReached records when each floor workflow's activity ran.
var floorReached sync.Map

func floorOffer(ctx context.Context) error {
	floorReached.Store(activity.GetInfo(ctx).WorkflowExecution.ID, time.Now())
	return nil
}

// BenchmarkAssignment measures routing and assignment on a running dev stack, with
// 200 and then 2,000 agents online in one tenant:
//
//   - decision-: one assignment decision (dispatch.Reserve: the agents ready for new
//     work from presence's ready index in one command, their settings from PostgreSQL
//     as the worker caches them, routing.Best, the atomic reservation), sequentially
//     and on 8 goroutines, as decisions per second; and the same once 1,000 more
//     interactions wait in the queue (the ratio shows the cost does not follow the
//     waiting interactions); decision-cost-ratio is what a sequential decision costs
//     at the largest population over the smallest;
//   - offer-: enqueue→offer latency at a sustained 50 new interactions/s through the
//     API (POST /v1/interactions to the offer being recorded), p50 and p99;
//   - floor-: the same latency for a bare SDK client starting a workflow of the same
//     shape (one local activity) on the same server, at the same rate, in the same
//     run.
//
// Run with -benchtime 1x (make bench).
func BenchmarkAssignment(b *testing.B) {
	st := startForBench(b)
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, st.dbURL)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	store := pgstore.New(pool)
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", DB: 15})
	defer rdb.Close()
	ps, err := presence.New(rdb, presence.Options{HeartbeatTTL: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	w := sdkworker.New(st.client, "bench-offer-floor", worker.Options())
	w.RegisterWorkflowWithOptions(offerFloor, workflow.RegisterOptions{Name: "offerFloor"})
	w.RegisterActivityWithOptions(floorOffer, activity.RegisterOptions{Name: "floorOffer"})
	if err := w.Start(); err != nil {
		b.Fatal(err)
	}
	defer w.Stop()

	for range b.N {
		// The floor first, on an idle server, after a warm-up that lets the
		// freshly started server settle (its own system workflows, caches).
		floorLatencies(b, st.client)
		percentiles(b, "floor-", floorLatencies(b, st.client))
		rates := map[int]float64{}
		for _, agents := range benchAgentCounts {
			prefix := fmt.Sprintf("%d-", agents)
			tenant, crmKey := benchTenant(b, st, store, ps, agents)
			// As the worker makes its decisions (commands.go: agentsCacheTTL).
			d := &dispatch.Dispatcher{Store: store, Presence: ps, AgentsTTL: agentsCacheTTL}
			queue, err := store.DefaultQueueID(ctx, tenant)
			if err != nil {
				b.Fatal(err)
			}
			one := decisions(b, d, store, tenant, queue, 300, 1)
			par := decisions(b, d, store, tenant, queue, 400, 8)
			for i := range 1000 {
				benchEnqueue(b, store, tenant, queue, fmt.Sprintf("waiting-%d", i))
			}
			busy := decisions(b, d, store, tenant, queue, 300, 1)
			rates[agents] = one
			b.ReportMetric(one, prefix+"decisions/s")
			b.ReportMetric(par, prefix+"decisions/s-8-goroutines")
			b.ReportMetric(busy/one, prefix+"decision-rate-with-1000-waiting-ratio")

			lat := offerLatencies(b, st, pool, tenant, crmKey)
			percentiles(b, prefix+"offer-", lat)
		}
		first, last := benchAgentCounts[0], benchAgentCounts[len(benchAgentCounts)-1]
		b.ReportMetric(rates[first]/rates[last], fmt.Sprintf("decision-cost-%d-vs-%d-ratio", last, first))
	}
}

// benchTenant creates a tenant with agents online (presence logins, as desktops
// would make) in its Default queue, chats with room for the whole run, and a ring
// timeout longer than the run so offers stay open while they are counted.
func benchTenant(b *testing.B, st *benchEnv, store *pgstore.Store, ps *presence.Store, agents int) (tenant, crmKey string) {
	ctx := context.Background()
	slug := "bench-" + randomName("")
	ct, err := store.CreateTenant(ctx, pgstore.Actor{}, pgstore.NewTenant{Slug: slug, Name: slug, TimeZone: "UTC",
		Admin: pgstore.NewUser{Email: "admin@" + slug + ".test", Name: "Admin"}})
	if err != nil {
		b.Fatal(err)
	}
	tenant = ct.Tenant.ID
	ring := pgstore.MaxRingTimeoutSeconds
	capacity := routing.Capacity{routing.LiveChat: 20}
	if _, err := store.UpdateACDSettings(ctx, tenant, pgstore.Actor{}, pgstore.ACDSettingsUpdate{RingTimeoutSeconds: &ring, DefaultCapacity: &capacity}); err != nil {
		b.Fatal(err)
	}
	crm, err := store.CreateUser(ctx, tenant, pgstore.Actor{}, pgstore.NewUser{Email: "crm@" + slug + ".test", Name: "CRM", Role: pgstore.RoleIntegration})
	if err != nil {
		b.Fatal(err)
	}
	key, err := store.CreateAPIKey(ctx, tenant, pgstore.Actor{}, pgstore.NewAPIKey{UserID: crm.ID, Name: "crm"})
	if err != nil {
		b.Fatal(err)
	}
	var failed atomic.Int64
	parallel(agents, 16, func(i int) {
		u, err := store.CreateUser(ctx, tenant, pgstore.Actor{}, pgstore.NewUser{Email: fmt.Sprintf("a%d@%s.test", i, slug), Name: fmt.Sprint("Agent ", i), Role: pgstore.RoleAgent})
		if err == nil {
			_, err = ps.Login(ctx, tenant, u.ID, presence.LoginInput{})
		}
		if err != nil {
			failed.Add(1)
		}
	})
	if failed.Load() > 0 {
		b.Fatalf("%d agents not created", failed.Load())
	}
	b.Cleanup(func() {
		keys, _ := ps.Online(context.Background(), tenant)
		for _, a := range keys {
			_, _ = ps.ForceLogout(context.Background(), tenant, a)
		}
	})
	return tenant, key.Secret
}

// benchEnqueue writes a queued chat straight to the read model.
func benchEnqueue(b *testing.B, store *pgstore.Store, tenant, queue, customer string) string {
	id := uuid.NewString()
	now := time.Now()
	if _, err := store.EnqueueInteraction(context.Background(), pgstore.Interaction{
		ID: id, TenantID: tenant, WorkflowID: "interaction/" + id, Channel: routing.LiveChat, Direction: pgstore.Inbound,
		Customer: customer, QueueID: queue, CreatedAt: now,
		InteractionState: pgstore.InteractionState{Status: pgstore.InteractionQueued, QueuedAt: now},
	}); err != nil {
		b.Fatal(err)
	}
	return id
}

// decisions times n assignment decisions on workers goroutines and returns the
// decisions per second; each reserves a slot, which it frees again.
func decisions(b *testing.B, d *dispatch.Dispatcher, store *pgstore.Store, tenant, queue string, n, workers int) float64 {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = benchEnqueue(b, store, tenant, queue, fmt.Sprintf("decision-%d", i))
	}
	ctx := context.Background()
	var failed atomic.Int64
	began := time.Now()
	parallel(n, workers, func(i int) {
		dec, err := d.Reserve(ctx, dispatch.Request{TenantID: tenant, InteractionID: ids[i], Channel: routing.LiveChat, QueueID: queue})
		if err != nil || dec.AgentID == "" {
			failed.Add(1)
			return
		}
		if _, err := d.Presence.Release(ctx, tenant, dec.AgentID, ids[i]); err != nil {
			failed.Add(1)
		}
	})
	took := time.Since(began)
	if failed.Load() > 0 {
		b.Fatalf("%d of %d decisions failed", failed.Load(), n)
	}
	return float64(n) / took.Seconds()
}

// offerLatencies creates interactions through the API at assignRate for
// assignDuration and returns, for each, the time from its creation to its first offer.
func offerLatencies(b *testing.B, st *benchEnv, pool *pgxpool.Pool, tenant, crmKey string) []time.Duration {
	ctx := context.Background()
	n := int(assignRate * assignDuration.Seconds())
	ids := make([]string, n)
	var wg sync.WaitGroup
	var failed atomic.Int64
	tick := time.NewTicker(time.Second / assignRate)
	defer tick.Stop()
	for i := range n {
		<-tick.C
		wg.Go(func() {
			req, _ := http.NewRequest("POST", st.httpURL+"/v1/interactions",
				strings.NewReader(fmt.Sprintf(`{"channel":"web_chat","from":"visitor-%d"}`, i)))
			req.Header.Set("Authorization", "Bearer "+crmKey)
			req.Header.Set("Content-Type", "application/json")
			res, err := httpClient.Do(req)
			if err != nil {
				failed.Add(1)
				return
			}
			defer res.Body.Close()
			var body struct{ ID string }
			if res.StatusCode != 201 || json.NewDecoder(res.Body).Decode(&body) != nil {
				failed.Add(1)
				return
			}
			ids[i] = body.ID
		})
	}
	wg.Wait()
	if failed.Load() > 0 {
		b.Fatalf("%d of %d creations failed", failed.Load(), n)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var offered int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM interaction_offers WHERE tenant_id = $1 AND attempt = 1 AND interaction_id = ANY($2::uuid[])`,
			tenant, ids).Scan(&offered); err != nil {
			b.Fatal(err)
		}
		if offered == n {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("only %d of %d interactions offered", offered, n)
		}
		time.Sleep(200 * time.Millisecond)
	}
	rows, err := pool.Query(ctx, `
		SELECT extract(epoch FROM o.offered_at - i.created_at)::float8 FROM interaction_offers o
		JOIN interactions i ON i.tenant_id = o.tenant_id AND i.id = o.interaction_id
		WHERE o.tenant_id = $1 AND o.attempt = 1 AND o.interaction_id = ANY($2::uuid[])`, tenant, ids)
	if err != nil {
		b.Fatal(err)
	}
	var out []time.Duration
	for rows.Next() {
		var secs float64
		if err := rows.Scan(&secs); err != nil {
			b.Fatal(err)
		}
		out = append(out, time.Duration(secs*float64(time.Second)))
	}
	return out
}

// floorLatencies starts same-shaped bare workflows at assignRate for assignDuration,
// eagerly as the API does, and returns, for each, the time from the start call to its
// activity running.
func floorLatencies(b *testing.B, c client.Client) []time.Duration {
	ctx := context.Background()
	n := int(assignRate * assignDuration.Seconds())
	began := make([]time.Time, n)
	ids := make([]string, n)
	var wg sync.WaitGroup
	var failed atomic.Int64
	tick := time.NewTicker(time.Second / assignRate)
	defer tick.Stop()
	for i := range n {
		<-tick.C
		ids[i] = "bench-offer-floor-" + uuid.NewString()
		began[i] = time.Now()
		wg.Go(func() {
			if _, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: ids[i], TaskQueue: "bench-offer-floor", EnableEagerStart: true}, offerFloor); err != nil {
				failed.Add(1)
			}
		})
	}
	wg.Wait()
	if failed.Load() > 0 {
		b.Fatalf("%d floor starts failed", failed.Load())
	}
	deadline := time.Now().Add(time.Minute)
	out := make([]time.Duration, 0, n)
	for i, id := range ids {
		for {
			if at, ok := floorReached.Load(id); ok {
				out = append(out, at.(time.Time).Sub(began[i]))
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("floor workflow %s never ran its activity", id)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return out
}
