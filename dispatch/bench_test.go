package dispatch_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"switchboard/dispatch"
	"switchboard/pgstore"
	"switchboard/pgtest"
	"switchboard/presence"
	"switchboard/routing"
)

// BenchmarkReserve is one assignment decision (Dispatcher.Reserve, then Release of
// the slot it took) in the Default queue of a tenant with n agents logged in, as the
// worker takes it (queue members cached for two seconds). Every agent takes 20 chats;
// every third holds one, every tenth is on a break. It reports decisions per second.
func BenchmarkReserve(b *testing.B) {
	for _, n := range []int{200, 2000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			bc := newBenchCenter(b, n)
			ids := make([]string, 0, 1024)
			next := func() string {
				if len(ids) == 0 {
					for range cap(ids) {
						ids = append(ids, bc.enqueue(b))
					}
				}
				id := ids[len(ids)-1]
				ids = ids[:len(ids)-1]
				return id
			}
			req := dispatch.Request{TenantID: bc.tenant, Channel: routing.LiveChat, QueueID: bc.queue}
			// One decision before timing fills the members' cache.
			req.InteractionID = next()
			bc.decide(b, req)
			b.ReportAllocs()
			b.ResetTimer()
			var cpu time.Duration
			for range b.N {
				b.StopTimer()
				req.InteractionID = next()
				c0 := processCPU(b)
				b.StartTimer()
				bc.decide(b, req)
				b.StopTimer()
				cpu += processCPU(b) - c0
				b.StartTimer()
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
			// The machine's other work moves the rate; this process's own CPU
			// time per decision (garbage collection included) moves much less.
			b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/decision")
		})
	}
}

// processCPU is the CPU time this process has used so far.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchCenter is a tenant with many agents online in its Default queue.
type benchCenter struct {
	ctx    context.Context
	tenant string
	queue  string
	ps     *presence.Store
	d      *dispatch.Dispatcher
}

func newBenchCenter(b *testing.B, agents int) *benchCenter {
	b.Helper()
	ctx := context.Background()
	prefix := "switchboard_test_" + pgtest.RandomHex(6)
	ps, err := presence.New(rdb, presence.Options{Prefix: prefix, HeartbeatTTL: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if keys, err := rdb.Keys(context.Background(), prefix+":*").Result(); err == nil && len(keys) > 0 {
			rdb.Del(context.Background(), keys...)
		}
	})
	slug := "b-" + pgtest.RandomHex(6)
	ct, err := store.CreateTenant(ctx, pgstore.Actor{}, pgstore.NewTenant{Slug: slug, Name: slug, TimeZone: "UTC",
		Admin: pgstore.NewUser{Email: "admin@" + slug + ".test", Name: "Admin"}})
	if err != nil {
		b.Fatal(err)
	}
	tenant := ct.Tenant.ID
	capacity := routing.Capacity{routing.LiveChat: 20}
	if _, err := store.UpdateACDSettings(ctx, tenant, pgstore.Actor{}, pgstore.ACDSettingsUpdate{DefaultCapacity: &capacity}); err != nil {
		b.Fatal(err)
	}
	queue, err := store.DefaultQueueID(ctx, tenant)
	if err != nil {
		b.Fatal(err)
	}
	var (
		failed atomic.Int64
		wg     sync.WaitGroup
		next   atomic.Int64
	)
	for range 8 {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < agents; i = int(next.Add(1) - 1) {
				if err := benchAgent(ctx, ps, tenant, slug, i); err != nil {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if failed.Load() > 0 {
		b.Fatalf("%d agents not set up", failed.Load())
	}
	return &benchCenter{ctx: ctx, tenant: tenant, queue: queue, ps: ps,
		d: &dispatch.Dispatcher{Store: store, Presence: ps, AgentsTTL: 2 * time.Second}}
}

// benchAgent creates agent i and logs them in: every third holds a chat, every tenth
// is on a break.
func benchAgent(ctx context.Context, ps *presence.Store, tenant, slug string, i int) error {
	u, err := store.CreateUser(ctx, tenant, pgstore.Actor{}, pgstore.NewUser{Email: fmt.Sprintf("a%d@%s.test", i, slug), Name: fmt.Sprint("Agent ", i), Role: pgstore.RoleAgent})
	if err != nil {
		return err
	}
	if _, err := ps.Login(ctx, tenant, u.ID, presence.LoginInput{}); err != nil {
		return err
	}
	if i%3 == 0 {
		ix := uuid.NewString()
		if ok, err := ps.Reserve(ctx, tenant, u.ID, ix, routing.LiveChat, 20, time.Hour); err != nil || !ok {
			return fmt.Errorf("reserve: %v %w", ok, err)
		}
		if ok, err := ps.Confirm(ctx, tenant, u.ID, ix); err != nil || !ok {
			return fmt.Errorf("confirm: %v %w", ok, err)
		}
	}
	if i%10 == 0 {
		if _, err := ps.SetStatus(ctx, tenant, u.ID, routing.Status{Name: "Lunch", Group: routing.GroupAway}); err != nil {
			return err
		}
	}
	return nil
}

// enqueue writes a queued chat to the read model.
func (bc *benchCenter) enqueue(b *testing.B) string {
	b.Helper()
	id := uuid.NewString()
	now := time.Now()
	if _, err := store.EnqueueInteraction(bc.ctx, pgstore.Interaction{
		ID: id, TenantID: bc.tenant, WorkflowID: "interaction/" + id, Channel: routing.LiveChat, Direction: pgstore.Inbound,
		Customer: "+385" + id[:8], QueueID: bc.queue, CreatedAt: now,
		InteractionState: pgstore.InteractionState{Status: pgstore.InteractionQueued, QueuedAt: now},
	}); err != nil {
		b.Fatal(err)
	}
	return id
}

// decide takes one decision and frees the slot it reserved.
func (bc *benchCenter) decide(b *testing.B, req dispatch.Request) {
	dec, err := bc.d.Reserve(bc.ctx, req)
	if err != nil || dec.AgentID == "" {
		b.Fatalf("decision %+v, %v", dec, err)
	}
	if _, err := bc.ps.Release(bc.ctx, bc.tenant, dec.AgentID, req.InteractionID); err != nil {
		b.Fatal(err)
	}
}
