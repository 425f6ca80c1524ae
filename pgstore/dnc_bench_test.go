package pgstore_test

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"switchboard/pgstore"
	"switchboard/pgtest"
)

var (
	dncNumbers  = flag.Int("dnc-numbers", 10_000_000, "numbers BenchmarkDoNotCallLookup lists before it looks numbers up")
	dncLookups  = flag.Int("dnc-lookups", 20_000, "lookups BenchmarkDoNotCallLookup times in each of its phases")
	dncParallel = flag.Int("dnc-parallel", 8, "goroutines of BenchmarkDoNotCallLookup's parallel phases")
)

// benchPhone is the i-th listed number: +1 and ten digits, spread over the whole range
// (a multiplier coprime with 10^10), so that neighbours in i are not neighbours in the
// index.
func benchPhone(i int) string {
	return fmt.Sprintf("+1%010d", (uint64(i)*7_919_000_003)%10_000_000_000)
}

// BenchmarkDoNotCallLookup measures the check before every outbound dial
// (Store.DoNotCallListed: normalise, then one primary-key lookup) against a tenant's
// list of -dnc-numbers numbers (default 10 million), loaded with COPY into a database
// of its own: half the lookups find a listed number, half a number not listed, in
// random order. It reports lookups per second on one goroutine and on -dnc-parallel,
// p50 and p99 latency, next to the floor measured the same way in the same run (a
// SELECT 1 round trip on the same pool) with their ratios, and the memory: the table
// and its indexes (pg_total_relation_size) and the Go heap. Run with -benchtime 1x
// (make bench); the load takes about a minute for 10 million numbers.
func BenchmarkDoNotCallLookup(b *testing.B) {
	ctx := context.Background()
	pool, drop, err := pgtest.Migrated(ctx, int32(*dncParallel+2))
	if err != nil {
		b.Fatal(err)
	}
	defer drop()
	s := pgstore.New(pool)
	ct, err := s.CreateTenant(ctx, pgstore.Actor{}, pgstore.NewTenant{Slug: "dnc-bench", Name: "DNC bench", TimeZone: "UTC",
		Admin: pgstore.NewUser{Email: "admin@dnc-bench.example", Name: "Admin"}})
	if err != nil {
		b.Fatal(err)
	}
	tid := ct.Tenant.ID

	loadStart := time.Now()
	phases, err := loadDoNotCall(ctx, pool, tid, ct.Admin.ID, *dncNumbers)
	if err != nil {
		b.Fatal(err)
	}
	load := time.Since(loadStart)
	b.Logf("load: %s", strings.Join(phases, ", "))
	var total, table, indexes int64
	if err := pool.QueryRow(ctx, `SELECT pg_total_relation_size('do_not_call'), pg_relation_size('do_not_call'), pg_indexes_size('do_not_call')`).
		Scan(&total, &table, &indexes); err != nil {
		b.Fatal(err)
	}

	// Half listed, half not (+44 is never listed), shuffled.
	rng := rand.New(rand.NewPCG(1, 2))
	queries := make([]string, *dncLookups)
	for i := range queries {
		if i%2 == 0 {
			queries[i] = benchPhone(rng.IntN(*dncNumbers))
		} else {
			queries[i] = fmt.Sprintf("+44 20 %04d %04d", rng.IntN(10_000), rng.IntN(10_000))
		}
	}
	rng.Shuffle(len(queries), func(i, j int) { queries[i], queries[j] = queries[j], queries[i] })

	lookup := func(q string) (bool, error) { return s.DoNotCallListed(ctx, tid, q) }
	floor := func(string) (bool, error) {
		var one int
		err := pool.QueryRow(ctx, `SELECT 1`).Scan(&one)
		return one == 1, err
	}
	// Warm the statement caches of every connection and the pages of the index.
	warm := queries[:min(len(queries), 2000)]
	for _, fn := range []func(string) (bool, error){lookup, floor} {
		if err := timeLookups(warm, *dncParallel, fn, &phase{}); err != nil {
			b.Fatal(err)
		}
	}

	// The lookups and their floor take turns in blocks, so that both meet the same
	// machine (other work on it comes and goes).
	const block = 500
	var seq, par, floorSeq, floorPar phase
	b.ResetTimer()
	for _, run := range []struct {
		n            int
		lookup, base *phase
	}{{1, &seq, &floorSeq}, {*dncParallel, &par, &floorPar}} {
		for i := 0; i < len(queries); i += block {
			blk := queries[i:min(i+block, len(queries))]
			if err := timeLookups(blk, run.n, lookup, run.lookup); err != nil {
				b.Fatal(err)
			}
			if err := timeLookups(blk, run.n, floor, run.base); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	if seq.listed != len(queries)/2+len(queries)%2 {
		b.Fatalf("%d of %d lookups found their number; want the listed half", seq.listed, len(queries))
	}
	allocs := testing.AllocsPerRun(1000, func() {
		if _, err := lookup(queries[0]); err != nil {
			b.Fatal(err)
		}
	})

	mib := func(n int64) float64 { return float64(n) / (1 << 20) }
	runtime.GC()
	var heap runtime.MemStats
	runtime.ReadMemStats(&heap)
	b.ReportMetric(float64(*dncNumbers), "numbers")
	b.ReportMetric(load.Seconds(), "load-s")
	b.ReportMetric(seq.rate(), "lookups/s")
	b.ReportMetric(par.rate(), "parallel-lookups/s")
	b.ReportMetric(us(seq.q(0.5)), "p50-µs")
	b.ReportMetric(us(seq.q(0.99)), "p99-µs")
	b.ReportMetric(us(par.q(0.99)), "parallel-p99-µs")
	b.ReportMetric(floorSeq.rate(), "floor-lookups/s")
	b.ReportMetric(floorPar.rate(), "floor-parallel-lookups/s")
	b.ReportMetric(seq.rate()/floorSeq.rate(), "rate-ratio")
	b.ReportMetric(par.rate()/floorPar.rate(), "parallel-rate-ratio")
	b.ReportMetric(mib(total), "relation-MiB")
	b.ReportMetric(mib(int64(heap.HeapAlloc)), "heap-MiB")
	b.ReportMetric(allocs, "allocs/lookup")
	b.Logf("do-not-call lookup over %d numbers (loaded in %.1f s): one goroutine %.0f lookups/s, p50 %.0f µs, p99 %.0f µs; %d goroutines %.0f lookups/s, p50 %.0f µs, p99 %.0f µs",
		*dncNumbers, load.Seconds(), seq.rate(), us(seq.q(0.5)), us(seq.q(0.99)), *dncParallel, par.rate(), us(par.q(0.5)), us(par.q(0.99)))
	b.Logf("floor (SELECT 1 round trip, same pool): one goroutine %.0f/s, p50 %.0f µs, p99 %.0f µs; %d goroutines %.0f/s, p50 %.0f µs, p99 %.0f µs",
		floorSeq.rate(), us(floorSeq.q(0.5)), us(floorSeq.q(0.99)), *dncParallel, floorPar.rate(), us(floorPar.q(0.5)), us(floorPar.q(0.99)))
	b.Logf("ratio lookup/floor: rate %.2f (one goroutine), %.2f (%d goroutines); p50 %.2f, p99 %.2f (one goroutine)",
		seq.rate()/floorSeq.rate(), par.rate()/floorPar.rate(), *dncParallel, float64(seq.q(0.5))/float64(floorSeq.q(0.5)), float64(seq.q(0.99))/float64(floorSeq.q(0.99)))
	b.Logf("memory: do_not_call %.0f MiB in all (table %.0f MiB, indexes %.0f MiB: %.0f bytes per number); Go heap %.1f MiB, %.1f allocations per lookup",
		mib(total), mib(table), mib(indexes), float64(total)/float64(*dncNumbers), mib(int64(heap.HeapAlloc)), allocs)
}

func us(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1000 }

// phase gathers the timings of one kind of call over the blocks of a run.
type phase struct {
	lat     []time.Duration
	elapsed time.Duration
	listed  int
}

func (p *phase) rate() float64 { return float64(len(p.lat)) / p.elapsed.Seconds() }

// q is the q-quantile of the latencies.
func (p *phase) q(q float64) time.Duration {
	lat := slices.Sorted(slices.Values(p.lat))
	return lat[min(len(lat)-1, int(q*float64(len(lat))))]
}

// timeLookups runs fn over queries on n goroutines (each takes the next query),
// timing each call and the whole, into p.
func timeLookups(queries []string, n int, fn func(string) (bool, error), p *phase) error {
	lat := make([]time.Duration, len(queries))
	var (
		mu     sync.Mutex
		next   int
		listed int
		first  error
		wg     sync.WaitGroup
	)
	start := time.Now()
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= len(queries) {
					return
				}
				t0 := time.Now()
				ok, err := fn(queries[i])
				lat[i] = time.Since(t0)
				mu.Lock()
				if err != nil && first == nil {
					first = err
				}
				if ok {
					listed++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	p.elapsed += time.Since(start)
	p.lat = append(p.lat, lat...)
	p.listed += listed
	return first
}

// loadDoNotCall lists n numbers for the tenant with COPY, as fast as one machine
// allows: two COPY streams at once into the table made unlogged (the load skips the
// WAL; lookups read the table the same way), its indexes dropped and built again
// after the load with their definitions as the schema has them, and the foreign key
// on added_by not checked row by row (the rows name the tenant's admin and nobody
// else).
func loadDoNotCall(ctx context.Context, pool *pgxpool.Pool, tenantID, adminID string, n int) (phases []string, err error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Release()
	// Each index is built again from its definition (a constraint's first as a
	// plain index, then attached to it), all at once on connections of their own.
	type def struct{ name, create, attach string }
	var defs []def
	rows, err := conn.Query(ctx, `
		SELECT i.relname, pg_get_indexdef(i.oid), c.conname, c.contype
		FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
		LEFT JOIN pg_constraint c ON c.conindid = i.oid AND c.conrelid = x.indrelid
		WHERE x.indrelid = 'do_not_call'::regclass`)
	if err != nil {
		return nil, err
	}
	var drops []string
	for rows.Next() {
		var d def
		var con, kind *string
		if err := rows.Scan(&d.name, &d.create, &con, &kind); err != nil {
			return nil, err
		}
		if con != nil {
			drops = append(drops, `ALTER TABLE do_not_call DROP CONSTRAINT `+pgx.Identifier{*con}.Sanitize())
			what := map[string]string{"p": "PRIMARY KEY", "u": "UNIQUE"}[*kind]
			if what == "" {
				return nil, fmt.Errorf("constraint %s of kind %s has an index", *con, *kind)
			}
			d.attach = `ALTER TABLE do_not_call ADD CONSTRAINT ` + pgx.Identifier{*con}.Sanitize() + ` ` + what + ` USING INDEX ` + pgx.Identifier{d.name}.Sanitize()
		} else {
			drops = append(drops, `DROP INDEX `+pgx.Identifier{d.name}.Sanitize())
		}
		defs = append(defs, d)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// The table skips the WAL while it loads: lookups read it the same way.
	for _, sql := range append(drops, `ALTER TABLE do_not_call SET UNLOGGED`) {
		if _, err := conn.Exec(ctx, sql); err != nil {
			return nil, fmt.Errorf("%s: %w", sql, err)
		}
	}
	copyStart := time.Now()
	var tenant, admin pgtype.UUID
	if err := tenant.Scan(tenantID); err != nil {
		return nil, err
	}
	if err := admin.Scan(adminID); err != nil {
		return nil, err
	}
	t0 := time.Now().Add(-365 * 24 * time.Hour).UTC()
	step := 365 * 24 * time.Hour / time.Duration(n)
	// Two streams at once: one encodes rows while the other's are parsed.
	const streams = 2
	errs := make(chan error, streams)
	for k := range streams {
		go func() {
			c, err := pool.Acquire(ctx)
			if err != nil {
				errs <- err
				return
			}
			defer c.Release()
			// The foreign key is not checked row by row.
			if _, err := c.Exec(ctx, `SET session_replication_role = replica`); err != nil {
				errs <- err
				return
			}
			defer c.Exec(ctx, `RESET session_replication_role`)
			i, end := k*n/streams, (k+1)*n/streams
			row := []any{tenant, "", admin, "upload", "", time.Time{}}
			_, err = c.CopyFrom(ctx, pgx.Identifier{"do_not_call"}, []string{"tenant_id", "phone", "added_by", "source", "reason", "created_at"},
				pgx.CopyFromFunc(func() ([]any, error) {
					if i == end {
						return nil, nil
					}
					row[1], row[5] = benchPhone(i), t0.Add(time.Duration(i)*step)
					i++
					return row, nil
				}))
			errs <- err
		}()
	}
	for range streams {
		if e := <-errs; e != nil && err == nil {
			err = e
		}
	}
	if err != nil {
		return nil, fmt.Errorf("copy: %w", err)
	}
	phases = append(phases, fmt.Sprintf("COPY %.1f s", time.Since(copyStart).Seconds()))
	indexStart := time.Now()
	built := make(chan error, len(defs))
	for _, d := range defs {
		go func() {
			c, err := pool.Acquire(ctx)
			if err != nil {
				built <- err
				return
			}
			defer c.Release()
			for _, sql := range []string{`SET maintenance_work_mem = '256MB'`, d.create, `RESET maintenance_work_mem`} {
				if _, err := c.Exec(ctx, sql); err != nil {
					built <- fmt.Errorf("%s: %w", sql, err)
					return
				}
			}
			built <- nil
		}()
	}
	for range defs {
		if e := <-built; e != nil && err == nil {
			err = e
		}
	}
	if err != nil {
		return nil, err
	}
	for _, d := range defs {
		if d.attach != "" {
			if _, err := conn.Exec(ctx, d.attach); err != nil {
				return nil, fmt.Errorf("%s: %w", d.attach, err)
			}
		}
	}
	phases = append(phases, fmt.Sprintf("%d indexes at once %.1f s", len(defs), time.Since(indexStart).Seconds()))
	var valid, keys int
	if err := conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM pg_index WHERE indrelid = 'do_not_call'::regclass AND indisvalid),
		(SELECT count(*) FROM pg_constraint WHERE conrelid = 'do_not_call'::regclass AND contype = 'p')`).Scan(&valid, &keys); err != nil || valid != len(defs) || keys != 1 {
		return nil, fmt.Errorf("%d of %d indexes built again, %d primary keys: %v", valid, len(defs), keys, err)
	}
	for _, sql := range []string{`ANALYZE do_not_call`} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			return nil, fmt.Errorf("%s: %w", sql, err)
		}
	}
	return phases, nil
}
