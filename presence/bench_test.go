package presence_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"switchboard/presence"
	"switchboard/routing"
)

// sampler times the benchmarked operation and, after each iteration with
// the benchmark clock stopped, its floors: the plain Redis round trips it is
// compared with. Interleaving them puts both under the same machine load
// (other test runs share this Redis and these CPUs), so the ratios hold even
// when absolute figures move.
type sampler struct {
	op     []time.Duration
	floors map[string][]time.Duration
}

const maxSamples = 1 << 16

func newSampler() *sampler { return &sampler{floors: map[string][]time.Duration{}} }

// iteration runs op timed, then each floor untimed by the benchmark clock.
func (s *sampler) iteration(b *testing.B, op func() error, floors map[string]func() error) {
	t0 := time.Now()
	if err := op(); err != nil {
		b.Fatal(err)
	}
	if len(s.op) < maxSamples {
		s.op = append(s.op, time.Since(t0))
	}
	b.StopTimer()
	for name, f := range floors {
		t0 := time.Now()
		if err := f(); err != nil {
			b.Fatal(err)
		}
		if len(s.floors[name]) < maxSamples {
			s.floors[name] = append(s.floors[name], time.Since(t0))
		}
	}
	b.StartTimer()
}

func pct(lat []time.Duration, q float64) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	lat = slices.Clone(lat)
	slices.Sort(lat)
	return lat[min(len(lat)-1, int(q*float64(len(lat))))]
}

// report prints p50/p99 of the operation, p50 of each floor, and the ratio
// of the medians as x-<floor>.
func (s *sampler) report(b *testing.B) {
	p50 := pct(s.op, 0.50)
	b.ReportMetric(float64(p50.Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(pct(s.op, 0.99).Nanoseconds()), "p99-ns")
	for name, lat := range s.floors {
		f := pct(lat, 0.50)
		b.ReportMetric(float64(f.Nanoseconds()), name+"-p50-ns")
		b.ReportMetric(float64(p50)/float64(f), "x-"+name)
	}
}

func ping(c *redis.Client) func() error {
	return func() error { return c.Ping(context.Background()).Err() }
}

// BenchmarkReserveRelease is one offer's Redis cost: Reserve then Release,
// two scripts, so two round trips; x-ping is that cost in PING round trips.
func BenchmarkReserveRelease(b *testing.B) {
	e := newEnv(b, 0)
	s := e.store
	login(b, s, "agent", available)
	getKey := e.prefix + ":floor"
	floors := map[string]func() error{
		"ping": ping(e.rdb),
		"get": func() error {
			if err := e.rdb.Get(context.Background(), getKey).Err(); err != redis.Nil {
				return err
			}
			return nil
		},
	}
	ctx := context.Background()
	smp := newSampler()
	i := 0
	for b.Loop() {
		ix := fmt.Sprintf("ix-%d", i)
		i++
		smp.iteration(b, func() error {
			ok, err := s.Reserve(ctx, tenant, "agent", ix, routing.LiveChat, 5, time.Minute)
			if err != nil || !ok {
				return fmt.Errorf("reserve = %v, %v", ok, err)
			}
			_, err = s.Release(ctx, tenant, "agent", ix)
			return err
		}, floors)
	}
	smp.report(b)
}

// BenchmarkSnapshot reads n agents (every one logged in, a third holding a
// chat and ringing with an offer) in one pipelined round trip. Floors: a
// single PING, and a pipeline of the same number of plain GETs (2n+1
// commands) on the same client — what any one-round-trip read of n agents
// must pay.
func BenchmarkSnapshot(b *testing.B) {
	for _, n := range []int{200, 2000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			e := newEnv(b, time.Hour)
			s := e.store
			agents := make([]string, n)
			for i := range agents {
				agents[i] = fmt.Sprintf("agent-%05d", i)
				login(b, s, agents[i], available)
				if i%3 == 0 {
					reserve(b, s, agents[i], "held-"+agents[i], routing.LiveChat, 5, time.Hour)
					confirm(b, s, agents[i], "held-"+agents[i])
					reserve(b, s, agents[i], "offer-"+agents[i], routing.Voice, 1, time.Hour)
				}
			}
			ctx := context.Background()
			floorKeys := make([]string, 2*n+1)
			for i := range floorKeys {
				floorKeys[i] = fmt.Sprintf("%s:floor:%d", e.prefix, i)
			}
			floors := map[string]func() error{
				"ping": ping(e.rdb),
				"getpipe": func() error {
					pipe := e.rdb.Pipeline()
					for _, k := range floorKeys {
						pipe.Get(ctx, k)
					}
					if _, err := pipe.Exec(ctx); err != redis.Nil {
						return err
					}
					return nil
				},
			}
			smp := newSampler()
			var st []presence.AgentState
			for b.Loop() {
				smp.iteration(b, func() error {
					var err error
					st, err = s.Snapshot(ctx, tenant, agents)
					return err
				}, floors)
			}
			smp.report(b)
			if st[0].Occupancy[routing.LiveChat] != 1 || st[0].Reserved[routing.Voice] != 1 || !st[1].LoggedIn {
				b.Fatalf("snapshot content: %+v / %+v", st[0], st[1])
			}
		})
	}
}
