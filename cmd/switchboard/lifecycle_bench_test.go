package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"switchboard/events"
	"switchboard/pgstore"
	"switchboard/presence"
	"switchboard/worker"
	"switchboard/workflows"
)

// Sizes of BenchmarkLifecycle (make bench passes them from LIFECYCLE_* variables).
var (
	lifecycleRate         = flag.Int("lifecycle-rate", 100, "agent actions per second BenchmarkLifecycle issues, open loop")
	lifecycleActions      = flag.Int("lifecycle-actions", 600, "how many of each agent action BenchmarkLifecycle times")
	lifecycleInteractions = flag.Int("lifecycle-interactions", 200, "interactions BenchmarkLifecycle takes from creation to disposal for its throughput")
	lifecycleConcurrency  = flag.Int("lifecycle-concurrency", 16, "interactions in flight at once for BenchmarkLifecycle's throughput")
	lifecycleTrace        = flag.String("lifecycle-trace", "", "a file BenchmarkLifecycle writes one timed interaction's history to, each event with its time")
	lifecycleProfile      = flag.String("lifecycle-cpuprofile", "", "a file BenchmarkLifecycle writes the CPU profile of the timed agent actions to (the whole stack runs in the test process)")
)

// Targets of BenchmarkLifecycle, printed beside the figures.
const (
	lifecycleP99Target   = 50 * time.Millisecond
	lifecycleRatioTarget = 0.5
)

// actionFloorQueue is served by a bare worker with Switchboard's worker options: the
// floor of the agent actions.
const actionFloorQueue = "bench-action-floor"

// lifecycleHistories is how many interactions' histories the breakdown reads.
const lifecycleHistories = 50

// actionFloor has the shape of an interaction's agent actions without Switchboard's
// code: one update handler per action, each returning at once; the disposal ends it.
func actionFloor(ctx workflow.Context) error {
	disposed := false
	for _, name := range lifecycleActionNames {
		if err := workflow.SetUpdateHandler(ctx, name, func(workflow.Context, map[string]any) error {
			disposed = disposed || name == workflows.DisposeUpdate
			return nil
		}); err != nil {
			return err
		}
	}
	return workflow.Await(ctx, func() bool { return disposed && workflow.AllHandlersFinished(ctx) })
}

// lifecycleActionNames are the timed agent actions, in the order an interaction takes
// them.
var lifecycleActionNames = []string{workflows.AcceptUpdate, workflows.EndUpdate, workflows.DisposeUpdate}

// BenchmarkLifecycle measures the agent actions of an interaction's lifecycle on a
// running dev stack (embedded Temporal on PostgreSQL, Redis, the worker with its real
// activities), each figure next to its floor measured in the same run:
//
//   - accept-, end-, dispose-: the latency of POST /v1/interactions/{id}/accept, /end
//     and /dispose as an agent's desktop sends them (HTTP, API key, the workflow
//     update waited for until completed), issued open loop at -lifecycle-rate per
//     second, p50/p95/p99, on interactions offered to 100+ logged-in agents;
//   - floor-accept-, floor-end-, floor-dispose-: the same updates sent by a bare SDK
//     client, at the same rate, to a workflow whose handlers only return;
//   - interactions/s: -lifecycle-interactions interactions taken from creation to
//     disposal (create, offered as the desktop sees it on the realtime feed, accept,
//     end, dispose) with -lifecycle-concurrency in flight; floor-interactions/s: as
//     many bare workflows each started and given the same three updates, then
//     completed (four calls each, as the lifecycle makes four API calls).
//
// Beside each figure it prints the CPU each action or interaction cost, above what the
// idle stack uses, in the test process (which runs the API, the worker and the
// embedded Temporal) and in the PostgreSQL backends of the stack's databases. It then
// reads a sample of the interactions' histories and prints, per action, the
// activities it ran, its workflow tasks and where its time went inside Temporal.
// -lifecycle-trace and -lifecycle-cpuprofile write one interaction's history and the
// CPU profile of the timed actions for a closer look. Run with -benchtime 1x (make
// bench); a rate the stack cannot carry shows as failed (timed-out) actions.
// settlePause lets the server finish the background work of one phase (visibility
// updates, timers) before the next timed phase starts.
const settlePause = 3 * time.Second

func BenchmarkLifecycle(b *testing.B) {
	st := startForBench(b)
	ctx := context.Background()
	rate, n := *lifecycleRate, *lifecycleActions
	if rate <= 0 || n <= 0 || *lifecycleInteractions <= 0 || *lifecycleConcurrency <= 0 {
		b.Fatal("the -lifecycle-* sizes must be positive")
	}
	pool, err := pgxpool.New(ctx, st.dbURL)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	store := pgstore.New(pool)
	cpu := newCPUMeter(pool)
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", DB: 15})
	defer rdb.Close()
	ps, err := presence.New(rdb, presence.Options{HeartbeatTTL: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	w := sdkworker.New(st.client, actionFloorQueue, worker.Options())
	w.RegisterWorkflowWithOptions(actionFloor, workflow.RegisterOptions{Name: "actionFloor"})
	if err := w.Start(); err != nil {
		b.Fatal(err)
	}
	defer w.Stop()

	// Every interaction of the timed actions is held at once, chats at 20 each:
	// about ten per agent leaves routing room to choose.
	agents := max(100, n/10)
	for range b.N {
		// The floor first, on an idle server, after a warm-up that lets the
		// freshly started server settle.
		floorActions(b, st.client, cpu, 50, 0)
		cpu.calibrate(3 * time.Second)
		floor := floorActions(b, st.client, cpu, n, rate)

		tenant, crmKey := benchTenant(b, st, store, ps, agents)
		// The agents dispose every interaction themselves: the campaign's wrap-up
		// timeout must not dispose some first while the end phase settles.
		if _, err := pool.Exec(context.Background(), `UPDATE campaigns SET wrap_up_timeout_seconds = 0 WHERE tenant_id = $1`, tenant); err != nil {
			b.Fatal(err)
		}
		keys := desktopKeys(b, store, pool, tenant)
		feed := followOffers(b, st, crmKey)
		lc := &lifecycleDriver{st: st, pool: pool, tenant: tenant, crmKey: crmKey, keys: keys, feed: feed}
		timed := lc.createOffered(b, n, 16)
		// Like every later action, the first starts on a settled system: the server
		// finishes the creations' own background work (visibility, timers) first.
		time.Sleep(settlePause)
		product := map[string]pacedRun{}
		notes := map[string]string{}
		stopProfile := startProfile(b)
		for _, action := range lifecycleActionNames {
			r := paced(cpu, n, rate, func(i int) error { return lc.act(action, timed[i]) })
			product[action] = r
			if r.lag > 100*time.Millisecond {
				notes[action] += fmt.Sprintf("; the pacer fell up to %v behind (short of CPU)", r.lag.Round(time.Millisecond))
			}
			if r.failed > 0 {
				first := r.first.Error()
				if len(first) > 120 {
					first = first[:120] + "…"
				}
				notes[action] += fmt.Sprintf("; %d of %d failed, counted at the time they failed after (the first: %s)", r.failed, n, first)
			}
			// The next action starts on a settled system, with every interaction
			// as this action left it (a timed-out update still completes).
			if timed = lc.settle(b, timed, settledStatus[action]); len(timed) < n/2 {
				b.Fatalf("only %d of %d interactions %s after %s", len(timed), n, settledStatus[action], action)
			}
			time.Sleep(settlePause)
			n = len(timed)
		}
		stopProfile()
		for _, action := range lifecycleActionNames {
			f, p := floor[action], product[action]
			percentiles(b, "floor-"+action+"-", f.latencies)
			percentiles(b, action+"-", p.latencies)
			ratio := float64(quantile(p.latencies, 0.99)) / float64(quantile(f.latencies, 0.99))
			b.ReportMetric(ratio, action+"-p99-ratio")
			verdict := "meets"
			if quantile(p.latencies, 0.99) > lifecycleP99Target {
				verdict = "misses"
			}
			b.Logf("lifecycle: %-7s p50/p95/p99 %s ms (floor %s ms) p99 ratio %.1f; %s the p99 target of %v at %d/s; CPU per action above idle %s (floor %s) in the stack+PostgreSQL%s",
				action, triple(p.latencies), triple(f.latencies), ratio, verdict, lifecycleP99Target, rate, p.cpu.per(len(p.latencies)), f.cpu.per(len(f.latencies)), notes[action])
		}
		latencies := map[string][]time.Duration{}
		for action, r := range product {
			latencies[action] = r.latencies
		}
		explainActions(b, st.client, timed, latencies)
		if *lifecycleTrace != "" {
			if err := writeTrace(st.client, workflows.InteractionWorkflowID(timed[len(timed)/2]), *lifecycleTrace); err != nil {
				b.Logf("lifecycle: no trace: %v", err)
			}
		}

		m := cpu.read()
		floorRate := floorThroughput(b, st.client, *lifecycleInteractions, *lifecycleConcurrency)
		floorCPU := cpu.since(m)
		m = cpu.read()
		rateNow, took := lc.throughput(b, *lifecycleInteractions, *lifecycleConcurrency)
		lcCPU := cpu.since(m)
		feed.close()
		ratio := rateNow / floorRate
		b.ReportMetric(floorRate, "floor-interactions/s")
		b.ReportMetric(rateNow, "interactions/s")
		b.ReportMetric(ratio, "throughput-ratio")
		verdict := "meets"
		if ratio < lifecycleRatioTarget {
			verdict = "misses"
		}
		b.Logf("lifecycle: throughput %.1f interactions/s (create→offered→accept→end→dispose, %d in %v, %d in flight) (floor %.1f workflows/s: start + 3 updates + completion) ratio %.2f; %s the target of %.2f; CPU per interaction above idle %s (floor %s) in the stack+PostgreSQL",
			rateNow, *lifecycleInteractions, took.Round(time.Millisecond), *lifecycleConcurrency, floorRate, ratio, verdict, lifecycleRatioTarget,
			lcCPU.per(*lifecycleInteractions), floorCPU.per(*lifecycleInteractions))
	}
}

// startProfile starts the CPU profile of -lifecycle-cpuprofile and returns what stops it.
func startProfile(b *testing.B) func() {
	if *lifecycleProfile == "" {
		return func() {}
	}
	f, err := os.Create(*lifecycleProfile)
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		b.Fatalf("%v (-cpuprofile and -lifecycle-cpuprofile do not go together)", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}

// settledStatus is the read model's status once each action is done.
var settledStatus = map[string]pgstore.InteractionStatus{
	workflows.AcceptUpdate:  pgstore.InteractionConnected,
	workflows.EndUpdate:     pgstore.InteractionEnded,
	workflows.DisposeUpdate: pgstore.InteractionDisposed,
}

// pacedRun is the outcome of paced.
type pacedRun struct {
	latencies []time.Duration
	// lag is how far the pacer fell behind its schedule at most.
	lag    time.Duration
	failed int
	first  error
	// cpu is what the calls cost in CPU, from the first call until the last answered.
	cpu cpuUse
}

// paced runs act(i) for every i below n at rate per second, open loop: each call on
// its schedule in its own goroutine, whether or not the earlier ones answered.
func paced(cpu *cpuMeter, n, rate int, act func(i int) error) pacedRun {
	r := pacedRun{latencies: make([]time.Duration, n)}
	m := cpu.read()
	var wg sync.WaitGroup
	var mu sync.Mutex
	began := time.Now()
	for i := range n {
		at := began.Add(time.Duration(i) * time.Second / time.Duration(rate))
		if d := time.Until(at); d > 0 {
			time.Sleep(d)
		} else {
			r.lag = max(r.lag, -d)
		}
		wg.Go(func() {
			t0 := time.Now()
			err := act(i)
			r.latencies[i] = time.Since(t0)
			if err != nil {
				mu.Lock()
				r.failed++
				if r.first == nil {
					r.first = err
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	r.cpu = cpu.since(m)
	return r
}

// quantile is the q-quantile of samples as percentiles reports it.
func quantile(samples []time.Duration, q float64) time.Duration {
	s := slices.Clone(samples)
	slices.Sort(s)
	return s[int(q*float64(len(s)-1))]
}

// triple prints p50/p95/p99 in milliseconds.
func triple(samples []time.Duration) string {
	ms := func(q float64) float64 { return float64(quantile(samples, q).Microseconds()) / 1000 }
	return fmt.Sprintf("%.1f/%.1f/%.1f", ms(0.50), ms(0.95), ms(0.99))
}

// cpuMeter reads the CPU time used by the test process, which runs the whole stack
// (API, worker, embedded Temporal), and by the PostgreSQL backends serving the
// stack's databases, less what the stack uses when idle. It reads /proc: elsewhere it
// reads nothing.
type cpuMeter struct {
	pool *pgxpool.Pool
	dbs  []string
	// idle is the CPU the idle stack uses per second.
	idle cpuUse
}

// cpuSample is CPU time by process ID, the test process as 0, when read.
type cpuSample struct {
	at time.Time
	by map[int]time.Duration
}

// cpuUse is CPU time spent in the test process and in PostgreSQL.
type cpuUse struct{ process, postgres time.Duration }

func newCPUMeter(pool *pgxpool.Pool) *cpuMeter {
	db := pool.Config().ConnConfig.Database
	return &cpuMeter{pool: pool, dbs: []string{db, db + "_temporal", db + "_temporal_visibility"}}
}

// calibrate measures the idle stack for d.
func (m *cpuMeter) calibrate(d time.Duration) {
	s := m.read()
	time.Sleep(d)
	u := m.since(s)
	m.idle = cpuUse{process: u.process * time.Second / d, postgres: u.postgres * time.Second / d}
}

func (m *cpuMeter) read() cpuSample {
	out := cpuSample{at: time.Now(), by: map[int]time.Duration{0: procCPU("self")}}
	rows, err := m.pool.Query(context.Background(), `SELECT pid FROM pg_stat_activity WHERE datname = ANY($1)`, m.dbs)
	if err != nil {
		return out
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return out
	}
	for _, pid := range pids {
		out.by[int(pid)] = procCPU(fmt.Sprint(pid))
	}
	return out
}

// since is the CPU used since s above idle; a backend that appeared since counts
// whole.
func (m *cpuMeter) since(s cpuSample) cpuUse {
	now := m.read()
	u := cpuUse{process: now.by[0] - s.by[0]}
	for pid, t := range now.by {
		if pid != 0 {
			u.postgres += max(0, t-s.by[pid])
		}
	}
	secs := now.at.Sub(s.at).Seconds()
	u.process -= time.Duration(float64(m.idle.process) * secs)
	u.postgres -= time.Duration(float64(m.idle.postgres) * secs)
	return u
}

// per prints the use divided among n.
func (u cpuUse) per(n int) string {
	if n == 0 {
		return "unknown"
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(n) }
	return fmt.Sprintf("%.1f+%.1f ms", ms(u.process), ms(u.postgres))
}

// procCPU is a process's user and system CPU time from /proc (clock ticks of 10 ms),
// zero when unreadable.
func procCPU(pid string) time.Duration {
	raw, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0
	}
	// The command name in parentheses may hold spaces; utime and stime are the
	// 12th and 13th fields after it.
	i := strings.LastIndexByte(string(raw), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(raw[i+1:]))
	if len(f) < 13 {
		return 0
	}
	var user, sys int64
	fmt.Sscan(f[11], &user)
	fmt.Sscan(f[12], &sys)
	return time.Duration(user+sys) * 10 * time.Millisecond
}

// floorUpdate sends an update the way the API does: waited for until completed,
// within the API's timeout.
func floorUpdate(c client.Client, id, name string, arg any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: id, UpdateName: name, Args: []any{arg}, WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err == nil {
		err = h.Get(ctx, nil)
	}
	return err
}

// startFloors starts n floor workflows, eagerly as the API starts interactions.
func startFloors(b *testing.B, c client.Client, n int) []string {
	ids := make([]string, n)
	prefix := fmt.Sprintf("bench-action-floor-%d-", time.Now().UnixNano())
	var failed atomic.Int64
	parallel(n, 16, func(i int) {
		ids[i] = prefix + fmt.Sprint(i)
		if _, err := c.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{
			ID: ids[i], TaskQueue: actionFloorQueue, EnableEagerStart: true}, actionFloor); err != nil {
			failed.Add(1)
		}
	})
	if failed.Load() > 0 {
		b.Fatalf("%d of %d floor workflows not started", failed.Load(), n)
	}
	return ids
}

// floorArgs are the actions' inputs as the API sends them.
func floorArgs(action string) any {
	a := workflows.Actor{TenantID: "floor", ActorID: "agent", AgentID: "agent"}
	switch action {
	case workflows.AcceptUpdate:
		return workflows.AcceptInput{TenantID: a.TenantID, AgentID: a.AgentID}
	case workflows.EndUpdate:
		return workflows.EndInput{TenantID: a.TenantID, ActorID: a.ActorID, AgentID: a.AgentID}
	default:
		return workflows.DisposeInput{Actor: a, Class: pgstore.DefaultDispositionClass, Code: pgstore.DefaultDispositionCode}
	}
}

// floorActions sends each action to n floor workflows at rate per second (as fast
// as 16 goroutines go when rate is 0, for the warm-up) and returns the latencies.
func floorActions(b *testing.B, c client.Client, cpu *cpuMeter, n, rate int) map[string]pacedRun {
	ids := startFloors(b, c, n)
	out := map[string]pacedRun{}
	for _, action := range lifecycleActionNames {
		act := func(i int) error { return floorUpdate(c, ids[i], action, floorArgs(action)) }
		if rate == 0 {
			parallel(n, 16, func(i int) {
				if err := act(i); err != nil {
					b.Errorf("floor %s: %v", action, err)
				}
			})
			continue
		}
		r := paced(cpu, n, rate, act)
		if r.failed > 0 {
			b.Fatalf("%d of %d floor %s failed; the first: %v", r.failed, n, action, r.first)
		}
		out[action] = r
	}
	return out
}

// floorThroughput runs n floor workflows to completion, concurrency at once, each
// started and given the lifecycle's three updates, and returns workflows per second.
func floorThroughput(b *testing.B, c client.Client, n, concurrency int) float64 {
	prefix := fmt.Sprintf("bench-action-floor-run-%d-", time.Now().UnixNano())
	var failed atomic.Int64
	var first atomic.Value
	began := time.Now()
	parallel(n, concurrency, func(i int) {
		err := func() error {
			run, err := c.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{
				ID: prefix + fmt.Sprint(i), TaskQueue: actionFloorQueue, EnableEagerStart: true}, actionFloor)
			if err != nil {
				return err
			}
			for _, action := range lifecycleActionNames {
				if err := floorUpdate(c, run.GetID(), action, floorArgs(action)); err != nil {
					return err
				}
			}
			return run.Get(context.Background(), nil)
		}()
		if err != nil {
			first.CompareAndSwap(nil, err)
			failed.Add(1)
		}
	})
	took := time.Since(began)
	if failed.Load() > 0 {
		b.Fatalf("%d of %d floor runs failed; the first: %v", failed.Load(), n, first.Load())
	}
	return float64(n) / took.Seconds()
}

// desktopKeys gives each agent of the tenant an API key, as their desktop holds.
func desktopKeys(b *testing.B, store *pgstore.Store, pool *pgxpool.Pool, tenant string) map[string]string {
	ctx := context.Background()
	rows, err := pool.Query(ctx, `SELECT id::text FROM users WHERE tenant_id = $1 AND role = 'agent'`, tenant)
	if err != nil {
		b.Fatal(err)
	}
	agents, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		b.Fatal(err)
	}
	keys := make(map[string]string, len(agents))
	var mu sync.Mutex
	var failed atomic.Int64
	parallel(len(agents), 16, func(i int) {
		k, err := store.CreateAPIKey(ctx, tenant, pgstore.Actor{}, pgstore.NewAPIKey{UserID: agents[i], Name: "desktop"})
		if err != nil {
			failed.Add(1)
			return
		}
		mu.Lock()
		keys[agents[i]] = k.Secret
		mu.Unlock()
	})
	if failed.Load() > 0 {
		b.Fatalf("%d agents without a key", failed.Load())
	}
	return keys
}

// offerFeed follows the tenant's realtime feed (GET /v1/events) as desktops do and
// tells whom each interaction was offered to.
type offerFeed struct {
	cancel  context.CancelFunc
	mu      sync.Mutex
	offered map[string]string
	waiting map[string]chan struct{}
}

func followOffers(b *testing.B, st *benchEnv, key string) *offerFeed {
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", st.httpURL+"/v1/events?types="+events.InteractionOffered, nil)
	if err != nil {
		cancel()
		b.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := http.DefaultClient.Do(req) // a stream: no client timeout
	if err != nil {
		cancel()
		b.Fatal(err)
	}
	if res.StatusCode != http.StatusOK {
		res.Body.Close()
		cancel()
		b.Fatalf("the event stream answered %d", res.StatusCode)
	}
	f := &offerFeed{cancel: cancel, offered: map[string]string{}, waiting: map[string]chan struct{}{}}
	go func() {
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			data, ok := strings.CutPrefix(sc.Text(), "data: ")
			if !ok {
				continue
			}
			var e struct {
				InteractionID string `json:"interactionId"`
				Data          struct {
					OfferedAgentID string `json:"offeredAgentId"`
				} `json:"data"`
			}
			if json.Unmarshal([]byte(data), &e) != nil || e.InteractionID == "" || e.Data.OfferedAgentID == "" {
				continue
			}
			f.mu.Lock()
			f.offered[e.InteractionID] = e.Data.OfferedAgentID
			if ch, ok := f.waiting[e.InteractionID]; ok {
				close(ch)
				delete(f.waiting, e.InteractionID)
			}
			f.mu.Unlock()
		}
	}()
	return f
}

// agent waits until the interaction is offered and answers to whom.
func (f *offerFeed) agent(id string, timeout time.Duration) (string, error) {
	f.mu.Lock()
	if a, ok := f.offered[id]; ok {
		f.mu.Unlock()
		return a, nil
	}
	ch, ok := f.waiting[id]
	if !ok {
		ch = make(chan struct{})
		f.waiting[id] = ch
	}
	f.mu.Unlock()
	select {
	case <-ch:
	case <-time.After(timeout):
		return "", fmt.Errorf("interaction %s not offered within %v", id, timeout)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.offered[id], nil
}

func (f *offerFeed) close() { f.cancel() }

// lifecycleDriver plays the CRM creating interactions and the agents' desktops
// acting on them, through the HTTP API.
type lifecycleDriver struct {
	st     *benchEnv
	pool   *pgxpool.Pool
	tenant string
	crmKey string
	keys   map[string]string // agent → API key
	feed   *offerFeed
}

// create reports a new inbound chat as the CRM does and returns its ID.
func (d *lifecycleDriver) create() (string, error) {
	res, err := d.st.try("POST", "/v1/interactions", d.crmKey, fmt.Sprintf(`{"channel":"web_chat","from":"visitor-%s"}`, randomName("")))
	if err != nil {
		return "", err
	}
	var body struct{ ID string }
	if res.status != http.StatusCreated || json.Unmarshal(res.body, &body) != nil || body.ID == "" {
		return "", fmt.Errorf("creation answered %d: %s", res.status, strings.TrimSpace(string(res.body)))
	}
	return body.ID, nil
}

// act sends one agent action on the interaction from the desktop of the agent it is
// offered to.
func (d *lifecycleDriver) act(action, id string) error {
	agent, err := d.feed.agent(id, time.Minute)
	if err != nil {
		return err
	}
	body := ""
	if action == workflows.DisposeUpdate {
		body = fmt.Sprintf(`{"dispositionClass":%q,"dispositionCode":%q}`, pgstore.DefaultDispositionClass, pgstore.DefaultDispositionCode)
	}
	res, err := d.st.try("POST", "/v1/interactions/"+id+"/"+action, d.keys[agent], body)
	if err != nil {
		return err
	}
	if res.status != http.StatusOK {
		return fmt.Errorf("%s answered %d: %s", action, res.status, strings.TrimSpace(string(res.body)))
	}
	return nil
}

// createOffered creates n interactions, concurrency at a time, and waits until each
// is offered.
func (d *lifecycleDriver) createOffered(b *testing.B, n, concurrency int) []string {
	ids := make([]string, n)
	var failed atomic.Int64
	var first atomic.Value
	parallel(n, concurrency, func(i int) {
		id, err := d.create()
		if err == nil {
			_, err = d.feed.agent(id, time.Minute)
		}
		if err != nil {
			first.CompareAndSwap(nil, err)
			failed.Add(1)
		}
		ids[i] = id
	})
	if failed.Load() > 0 {
		b.Fatalf("%d of %d interactions not created and offered; the first: %v", failed.Load(), n, first.Load())
	}
	return ids
}

// settle waits until the read model shows each interaction in status, for two
// minutes at most, and returns those that are.
func (d *lifecycleDriver) settle(b *testing.B, ids []string, status pgstore.InteractionStatus) []string {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		rows, err := d.pool.Query(context.Background(), `SELECT id::text FROM interactions WHERE tenant_id = $1 AND id = ANY($2::uuid[]) AND status = $3`,
			d.tenant, ids, string(status))
		if err != nil {
			b.Fatal(err)
		}
		done, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			b.Fatal(err)
		}
		if len(done) == len(ids) || time.Now().After(deadline) {
			if len(done) < len(ids) {
				b.Logf("lifecycle: %d of %d interactions never became %s", len(ids)-len(done), len(ids), status)
			}
			in := map[string]bool{}
			for _, id := range done {
				in[id] = true
			}
			return slices.DeleteFunc(slices.Clone(ids), func(id string) bool { return !in[id] })
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// throughput takes n interactions from creation to disposal, concurrency at once,
// and returns interactions per second and the time it took.
func (d *lifecycleDriver) throughput(b *testing.B, n, concurrency int) (float64, time.Duration) {
	var failed atomic.Int64
	var first atomic.Value
	began := time.Now()
	parallel(n, concurrency, func(int) {
		err := func() error {
			id, err := d.create()
			if err != nil {
				return err
			}
			for _, action := range lifecycleActionNames {
				if err := d.act(action, id); err != nil {
					return err
				}
			}
			return nil
		}()
		if err != nil {
			first.CompareAndSwap(nil, err)
			failed.Add(1)
		}
	})
	took := time.Since(began)
	if failed.Load() > 0 {
		b.Fatalf("%d of %d lifecycles failed; the first: %v", failed.Load(), n, first.Load())
	}
	return float64(n) / took.Seconds(), took
}

// updateSteps is what one update did inside Temporal, from its workflow's history:
// from the workflow task that accepted it to its completion.
type updateSteps struct {
	activities []string
	tasks      int
	upserts    int
	// Time in workflow tasks waiting for a worker (queued) and running, in
	// activities likewise, and in all from the accepting task's scheduling to the
	// update's completion.
	taskQueued, taskRun, actQueued, actRun, span time.Duration
	start                                        time.Time
}

// historySteps reads a workflow's history and returns the steps of each update by
// its name (the last of a name).
func historySteps(c client.Client, workflowID string) (map[string]*updateSteps, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	it := c.GetWorkflowHistory(ctx, workflowID, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	out := map[string]*updateSteps{}
	open := map[string]*updateSteps{}
	var scheduledAt, startedAt time.Time
	var lastQueued, lastRun time.Duration
	acts := map[int64]time.Time{}
	actStarted := map[int64]time.Time{}
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return nil, err
		}
		at := e.GetEventTime().AsTime()
		switch e.GetEventType() {
		case enums.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
			scheduledAt = at
		case enums.EVENT_TYPE_WORKFLOW_TASK_STARTED:
			startedAt = at
		case enums.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
			lastQueued, lastRun = startedAt.Sub(scheduledAt), at.Sub(startedAt)
			for _, s := range open {
				s.tasks++
				s.taskQueued += lastQueued
				s.taskRun += lastRun
			}
		case enums.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
			a := e.GetWorkflowExecutionUpdateAcceptedEventAttributes()
			// The task that accepted it completed just before.
			s := &updateSteps{tasks: 1, taskQueued: lastQueued, taskRun: lastRun, start: scheduledAt}
			open[a.GetProtocolInstanceId()] = s
			out[a.GetAcceptedRequest().GetInput().GetName()] = s
		case enums.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED:
			id := e.GetWorkflowExecutionUpdateCompletedEventAttributes().GetMeta().GetUpdateId()
			if s, ok := open[id]; ok {
				s.span = at.Sub(s.start)
				delete(open, id)
			}
		case enums.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			acts[e.GetEventId()] = at
			for _, s := range open {
				s.activities = append(s.activities, e.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName())
			}
		case enums.EVENT_TYPE_ACTIVITY_TASK_STARTED:
			sched := e.GetActivityTaskStartedEventAttributes().GetScheduledEventId()
			actStarted[sched] = at
			for _, s := range open {
				s.actQueued += at.Sub(acts[sched])
			}
		case enums.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
			sched := e.GetActivityTaskCompletedEventAttributes().GetScheduledEventId()
			for _, s := range open {
				s.actRun += at.Sub(actStarted[sched])
			}
		case enums.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
			for _, s := range open {
				s.upserts++
			}
		}
	}
	for id, s := range open {
		return nil, fmt.Errorf("update %s of %s never completed (%+v)", id, workflowID, s)
	}
	return out, nil
}

// writeTrace writes a workflow's history to path, one event a line with its time
// since the first and since the one before.
func writeTrace(c client.Client, workflowID, path string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	it := c.GetWorkflowHistory(ctx, workflowID, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var out strings.Builder
	var first, prev time.Time
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return err
		}
		at := e.GetEventTime().AsTime()
		if first.IsZero() {
			first, prev = at, at
		}
		what := ""
		switch e.GetEventType() {
		case enums.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			what = e.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName()
		case enums.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
			what = e.GetWorkflowExecutionUpdateAcceptedEventAttributes().GetAcceptedRequest().GetInput().GetName()
		case enums.EVENT_TYPE_TIMER_STARTED:
			what = e.GetTimerStartedEventAttributes().GetStartToFireTimeout().AsDuration().String()
		case enums.EVENT_TYPE_WORKFLOW_TASK_STARTED:
			what = e.GetWorkflowTaskStartedEventAttributes().GetIdentity()
		}
		fmt.Fprintf(&out, "%4d %10.1f ms %+9.1f ms  %s %s\n", e.GetEventId(),
			float64(at.Sub(first).Microseconds())/1000, float64(at.Sub(prev).Microseconds())/1000, e.GetEventType(), what)
		prev = at
	}
	return os.WriteFile(path, []byte(out.String()), 0o644)
}

// explainActions reads the histories of a sample of the timed interactions and
// prints, per action, what it ran and the median of where its time went, beside the
// median latency the desktop saw: the rest is outside the workflow (HTTP, API key,
// the frontend and history services taking the update).
func explainActions(b *testing.B, c client.Client, ids []string, latencies map[string][]time.Duration) {
	steps := map[string][]*updateSteps{}
	step := max(1, len(ids)/lifecycleHistories)
	for i := 0; i < len(ids); i += step {
		h, err := historySteps(c, workflows.InteractionWorkflowID(ids[i]))
		if err != nil {
			b.Logf("lifecycle: history of %s not read: %v", ids[i], err)
			continue
		}
		for name, s := range h {
			steps[name] = append(steps[name], s)
		}
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	for _, action := range lifecycleActionNames {
		ss := steps[action]
		if len(ss) == 0 {
			continue
		}
		med := func(f func(*updateSteps) time.Duration) float64 {
			v := make([]time.Duration, len(ss))
			for i, s := range ss {
				v[i] = f(s)
			}
			return ms(quantile(v, 0.5))
		}
		span := med(func(s *updateSteps) time.Duration { return s.span })
		outside := fmt.Sprintf("%.1f ms of the desktop's p50 outside it", ms(quantile(latencies[action], 0.5))-span)
		if d := ms(quantile(latencies[action], 0.5)); d < span {
			outside = "longer than the desktop's p50: updates completed after the API gave up waiting"
		}
		b.Logf("lifecycle: %-7s runs %d activities %v in %d workflow tasks (%d search-attribute upserts); median of %d: %.1f ms in the workflow = tasks %.1f queued + %.1f running, activities %.1f queued + %.1f running; %s",
			action, len(ss[0].activities), ss[0].activities, ss[0].tasks, ss[0].upserts, len(ss), span,
			med(func(s *updateSteps) time.Duration { return s.taskQueued }), med(func(s *updateSteps) time.Duration { return s.taskRun }),
			med(func(s *updateSteps) time.Duration { return s.actQueued }), med(func(s *updateSteps) time.Duration { return s.actRun }),
			outside)
	}
}
