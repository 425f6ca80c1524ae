package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"switchboard/events"
	"switchboard/worker"
	"switchboard/workflows"
)

// Sizes of BenchmarkDurableTimers (make bench passes -timers from TIMERS).
var (
	timersN        = flag.Int("timers", 100000, "durable timers BenchmarkDurableTimers holds waiting at once (snoozed conversations and callbacks), and as many bare sleeping workflows for its floor")
	timersSnoozes  = flag.Int("timers-snoozes", -1, "how many of -timers are snoozed conversations (the rest are callbacks); -1: half")
	timersWindow   = flag.Duration("timers-window", 2*time.Minute, "the window all timers fall due in, evenly spread")
	timersLead     = flag.Duration("timers-lead", 0, "from the start of the creations to the window; 0: estimated from the first creations")
	timersRestart  = flag.Bool("timers-restart", true, "stop the stack while the timers wait and start it again before they fall due")
	timersMaxLate  = flag.Duration("timers-max-wait", 10*time.Minute, "how long after the window's end BenchmarkDurableTimers waits for timers that have not fired")
	timersParallel = flag.Int("timers-concurrency", 32, "creations in flight at once")
)

// timersP99Target is the lateness the product should keep at p99.
const timersP99Target = 2 * time.Second

// timerFloorQueue is served by a bare worker with Switchboard's worker options: the
// floor of the durable timers.
const timerFloorQueue = "bench-timer-floor"

// timerFloorPilot prefixes the floor workflows that only time the starts.
const timerFloorPilot = "bench-timer-floor-pilot-"

// timerFloor only sleeps until due, then runs one activity that observes the firing:
// a durable timer without Switchboard's code.
func timerFloor(ctx workflow.Context, due time.Time) error {
	if d := due.Sub(workflow.Now(ctx)); d > 0 {
		if err := workflow.Sleep(ctx, d); err != nil {
			return err
		}
	}
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Second})
	return workflow.ExecuteActivity(ctx, "timerFloorFired", workflow.GetInfo(ctx).WorkflowExecution.ID).Get(ctx, nil)
}

// firings records when each floor workflow's activity ran, and how often.
type firings struct {
	mu   sync.Mutex
	at   map[string]time.Time
	runs map[string]int
}

func (f *firings) fired(_ context.Context, id string) error {
	now := time.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.runs[id] == 0 {
		f.at[id] = now
	}
	f.runs[id]++
	return nil
}

func (f *firings) count(prefix string) (fired, twice int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for id, n := range f.runs {
		if strings.HasPrefix(id, prefix) {
			fired++
			if n > 1 {
				twice++
			}
		}
	}
	return fired, twice
}

// timerKind is what a product timer is.
type timerKind int

const (
	kindSnooze timerKind = iota
	kindCallback
)

func (k timerKind) String() string { return [...]string{"snooze", "callback"}[k] }

// timerItem is one product timer: a snoozed conversation or a callback.
type timerItem struct {
	kind timerKind
	due  time.Time
	// id is the interaction's or the callback's.
	id string
}

// timersRun is one run of the benchmark: a fresh tenant, its agents and keys.
type timersRun struct {
	b        *testing.B
	st       *benchEnv
	pool     *pgxpool.Pool
	tenant   string
	adminKey string
	agents   []string // agents' keys, each with room for 1000 chats
	phone    string
	items    []timerItem
	floorIDs []string
	failed   atomic.Int64
	// retries counts the requests sent again after a 503 or 504.
	retries  atomic.Int64
	firstErr atomic.Value
}

// BenchmarkDurableTimers holds -timers durable timers of the product waiting at once,
// all due within -timers-window a few minutes ahead: snoozed web chats (outbound
// chats their agent holds, snoozed until their time by the API: the timer lives in
// each interaction's workflow) and scheduled callbacks (POST /v1/callbacks: one
// workflow per callback, its timer to the due time). The callbacks' number is on the
// tenant's do-not-call list, so each fire runs the callback's real first step (the
// do-not-call check, an activity) and closes it as failed, without starting a call.
// Next to them it starts as many bare workflows that only sleep until the same due
// times and run one activity (the floor, on a worker with Switchboard's options).
//
// While they wait it reads the process's Go heap and RSS (the whole stack runs in the
// test process: API, worker, embedded Temporal), then stops the stack and starts it
// again (-timers-restart) and times until it serves. Once the window is over it
// prints, for the product and the floor: how late the timers fired (from the due
// time to the firing's write: the callback's failed state, the conversation's
// opening; for the floor its activity), p50/p99/max; how many never fired; how many
// fired twice. The due times are set after the first creations tell how long the
// rest will take (-timers-lead overrides). Run with -benchtime 1x (make bench).
func BenchmarkDurableTimers(b *testing.B) {
	st := startForBench(b)
	n := *timersN
	snoozes := *timersSnoozes
	if snoozes < 0 {
		snoozes = n / 2
	}
	if n <= 0 || snoozes > n || *timersWindow <= 0 || *timersParallel <= 0 {
		b.Fatal("-timers must be positive, -timers-snoozes at most -timers, -timers-window and -timers-concurrency positive")
	}
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, st.dbURL)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	fire := &firings{at: map[string]time.Time{}, runs: map[string]int{}}
	w := sdkworker.New(st.client, timerFloorQueue, worker.Options())
	w.RegisterWorkflowWithOptions(timerFloor, workflow.RegisterOptions{Name: "timerFloor"})
	w.RegisterActivityWithOptions(fire.fired, activity.RegisterOptions{Name: "timerFloorFired"})
	if err := w.Start(); err != nil {
		b.Fatal(err)
	}
	defer w.Stop()

	for range b.N {
		load := loadAverage()
		r := newTimersRun(b, st, pool, snoozes)
		r.plan(n, snoozes)
		heap0, rss0 := processMemory()

		stopBeats := r.heartbeats()
		// The first creations of each kind, with a time far ahead, tell how long
		// the rest take; they are moved to their time once it is set.
		t0 := time.Now()
		far := t0.Add(6 * time.Hour)
		pilot := func(kind timerKind, want int) (idx []int, rate float64) {
			for i, it := range r.items {
				if it.kind == kind && len(idx) < want {
					idx = append(idx, i)
				}
			}
			began := time.Now()
			parallel(len(idx), *timersParallel, func(j int) { r.create(idx[j], far) })
			return idx, float64(len(idx)) / time.Since(began).Seconds()
		}
		pilotSize := func(k int) int { return min(k, max(20, min(400, k/40))) }
		snoozePilot, snoozeRate := pilot(kindSnooze, pilotSize(snoozes))
		callbackPilot, callbackRate := pilot(kindCallback, pilotSize(n-snoozes))
		floorRate := r.floorPilot(200)
		r.check("the first creations")
		lead := *timersLead
		if lead == 0 {
			estimate := time.Duration(float64(snoozes)/max(snoozeRate, 1)*float64(time.Second)) +
				time.Duration(float64(n-snoozes)/max(callbackRate, 1)*float64(time.Second)) +
				time.Duration(float64(n)/max(floorRate, 1)*float64(time.Second))
			lead = time.Since(t0) + estimate*3/2 + 30*time.Second
			if *timersRestart {
				lead += 45 * time.Second
			}
		}
		windowStart := t0.Add(lead)
		for i := range r.items {
			r.items[i].due = windowStart.Add(time.Duration(int64(*timersWindow) * int64(i) / int64(n)))
		}
		b.Logf("timers: %d snoozes (first %d at %.0f/s), %d callbacks (first %d at %.0f/s), %d floor workflows (%.0f starts/s): the window opens %v after the first creation; load average %s",
			snoozes, len(snoozePilot), snoozeRate, n-snoozes, len(callbackPilot), callbackRate, n, floorRate, lead.Round(time.Second), load)

		began := time.Now()
		rest := make([]int, 0, n)
		piloted := map[int]bool{}
		for _, i := range snoozePilot {
			piloted[i] = true
		}
		for _, i := range callbackPilot {
			piloted[i] = true
		}
		for i := range r.items {
			if !piloted[i] {
				rest = append(rest, i)
			}
		}
		parallel(len(rest), *timersParallel, func(j int) { r.create(rest[j], r.items[rest[j]].due) })
		moved := append(append([]int{}, snoozePilot...), callbackPilot...)
		parallel(len(moved), *timersParallel, func(j int) { r.move(moved[j]) })
		productTook := time.Since(began)
		stopBeats()
		began = time.Now()
		r.startFloor()
		floorTook := time.Since(began)
		r.check("the creations")
		if left := time.Until(windowStart); left < 10*time.Second {
			b.Fatalf("the creations took until %v before the window: raise -timers-lead", left.Round(time.Second))
		}
		b.Logf("timers: product created in %v (%.0f/s; %d requests sent again after a 503 or 504), floor in %v (%.0f/s); %v until the window",
			productTook.Round(time.Second), float64(n)/productTook.Seconds(), r.retries.Load(), floorTook.Round(time.Second), float64(n)/floorTook.Seconds(),
			time.Until(windowStart).Round(time.Second))

		// While they wait: what the process holds, and a restart.
		time.Sleep(5 * time.Second)
		heap1, rss1 := processMemory()
		b.Logf("timers: while %d product timers and %d floor workflows wait: Go heap %s (before %s), RSS %s (before %s), peak RSS %s",
			n, n, mib(heap1), mib(heap0), mib(rss1), mib(rss0), mib(peakRSS()))
		b.ReportMetric(float64(heap1)/(1<<20), "waiting-heap-MiB")
		b.ReportMetric(float64(rss1)/(1<<20), "waiting-rss-MiB")
		var restartedAt time.Time
		if *timersRestart {
			stopBegan := time.Now()
			st.stop()
			stopped := time.Since(stopBegan)
			restartedAt = time.Now()
			serves := st.start()
			heap2, rss2 := processMemory()
			b.Logf("timers: restart while they wait: stopped in %v, serving again %v after the start; %v left until the window; Go heap %s, RSS %s after the restart",
				stopped.Round(time.Millisecond), serves.Round(time.Millisecond), time.Until(windowStart).Round(time.Second), mib(heap2), mib(rss2))
			b.ReportMetric(serves.Seconds(), "restart-serves-s")
			if time.Until(windowStart) < 0 {
				b.Logf("timers: the restart ended after the window opened: the first timers are late for it")
			}
		}

		// The window, then until every timer fired or the wait runs out.
		windowEnd := windowStart.Add(*timersWindow)
		for time.Now().Before(windowEnd) {
			r.alive()
			time.Sleep(min(time.Until(windowEnd), time.Second))
		}
		deadline := windowEnd.Add(*timersMaxLate)
		var product productFirings
		for {
			// The shared PostgreSQL may refuse a connection for a while: look again.
			p, err := r.productFirings(ctx)
			if err != nil {
				b.Logf("timers: reading the firings: %v", err)
			} else {
				product = p
			}
			r.alive()
			floorFired, _ := fire.count(r.floorPrefix())
			if (err == nil && product.fired() == n && floorFired == n) || time.Now().After(deadline) {
				break
			}
			time.Sleep(2 * time.Second)
		}
		floorLate, floorTwice := r.floorLateness(fire)
		loadAfter := loadAverage()

		report := func(name string, late []time.Duration, want, twice int) {
			lost := want - len(late)
			if len(late) == 0 {
				b.Logf("timers: %-9s none of %d fired", name, want)
				return
			}
			b.Logf("timers: %-9s lateness p50/p99/max %s ms; %d of %d fired, %d never, %d twice; %.1f%% within %v",
				name, lateness(late), len(late), want, lost, twice, 100*within(late, timersP99Target), timersP99Target)
		}
		report("floor", floorLate, n, floorTwice)
		report("snoozes", product.late[kindSnooze], snoozes, product.twice[kindSnooze])
		report("callbacks", product.late[kindCallback], n-snoozes, product.twice[kindCallback])
		all := append(append([]time.Duration{}, product.late[kindSnooze]...), product.late[kindCallback]...)
		report("product", all, n, product.twice[kindSnooze]+product.twice[kindCallback])
		if len(all) > 0 && len(floorLate) > 0 {
			p99, floor99 := quantile(all, 0.99), quantile(floorLate, 0.99)
			verdict := "meets"
			if p99 > timersP99Target || len(all) < n || product.twice[kindSnooze]+product.twice[kindCallback] > 0 {
				verdict = "misses"
			}
			b.Logf("timers: product p99 %v against the floor's %v (ratio %.1f); %s the target (p99 ≤ %v, none lost, none twice); load average %s before, %s after",
				p99.Round(time.Millisecond), floor99.Round(time.Millisecond), float64(p99)/float64(max(floor99, time.Millisecond)), verdict, timersP99Target, load, loadAfter)
			percentiles(b, "floor-late-", floorLate)
			percentiles(b, "late-", all)
			b.ReportMetric(float64(quantile(all, 1).Microseconds())/1000, "late-max-ms")
			b.ReportMetric(float64(quantile(floorLate, 1).Microseconds())/1000, "floor-late-max-ms")
		}
		b.ReportMetric(float64(n-len(all)), "lost")
		b.ReportMetric(float64(product.twice[kindSnooze]+product.twice[kindCallback]), "fired-twice")
		if !restartedAt.IsZero() && len(all) > 0 {
			b.Logf("timers: every timer above fell due after the restart (%v after it at the earliest)", windowStart.Sub(restartedAt).Round(time.Second))
		}
	}
}

// newTimersRun makes a tenant with an admin and agents with room for the snoozed
// chats, logged in and beating while the chats are created, and lists the callbacks'
// number on the do-not-call list.
func newTimersRun(b *testing.B, st *benchEnv, pool *pgxpool.Pool, snoozes int) *timersRun {
	slug := randomName("timers-")
	created := st.benchCall(b, "POST", "/v1/tenants", st.adminKey, map[string]any{"slug": slug, "name": "Timers bench",
		"admin": map[string]string{"email": "admin@" + slug + ".test", "name": "Admin"}}, 201)
	r := &timersRun{b: b, st: st, pool: pool, tenant: created["tenant"].(map[string]any)["id"].(string),
		adminKey: created["apiKey"].(map[string]any)["secret"].(string), phone: "+14155550199"}
	// Half their room at most: the chats never wait for a slot.
	agents := snoozes/500 + 1
	for i := range agents {
		u := st.benchCall(b, "POST", "/v1/users", r.adminKey, map[string]string{"email": fmt.Sprintf("agent%d@%s.test", i, slug), "name": "Agent", "role": "agent"}, 201)
		id := u["id"].(string)
		key := st.benchCall(b, "POST", "/v1/api-keys", r.adminKey, map[string]string{"userId": id, "name": "desk"}, 201)["secret"].(string)
		st.benchCall(b, "PATCH", "/v1/agents/"+id, r.adminKey, map[string]any{"capacity": map[string]int{"live_chat": 1000}}, 200)
		st.benchCall(b, "POST", "/v1/agents/me/session", key, map[string]string{"status": "available"}, 201)
		r.agents = append(r.agents, key)
	}
	st.benchCall(b, "POST", "/v1/dnc", r.adminKey, map[string]string{"phone": r.phone, "reason": "timers benchmark: callbacks fire and stop at this check"}, 201)
	return r
}

// alive stops the benchmark when the stack stopped by itself, with its last output.
func (r *timersRun) alive() {
	select {
	case err := <-r.st.done:
		r.st.done <- err // for TestMain
		out := r.st.out.String()
		r.b.Fatalf("the stack stopped by itself: %v; its last output:\n%s", err, out[max(0, len(out)-6000):])
	default:
	}
}

// heartbeats keeps the agents' desktops beating, so they stay logged in to start
// chats, until the function it returns is called.
func (r *timersRun) heartbeats() (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			case <-time.After(5 * time.Second):
			}
			for _, k := range r.agents {
				_, _ = r.st.try("POST", "/v1/agents/me/heartbeat", k, nil)
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

// plan lays out the timers, snoozes spread evenly among the callbacks; their due
// times are set later.
func (r *timersRun) plan(n, snoozes int) {
	r.items = make([]timerItem, n)
	for i := range r.items {
		r.items[i].kind = kindCallback
		if (i*snoozes)/n != ((i+1)*snoozes)/n {
			r.items[i].kind = kindSnooze
		}
	}
}

// fail records a failed request, for check.
func (r *timersRun) fail(format string, args ...any) {
	if r.failed.Add(1) == 1 {
		r.firstErr.Store(fmt.Sprintf(format, args...))
	}
}

// check stops the benchmark when a creation failed.
func (r *timersRun) check(what string) {
	if n := r.failed.Load(); n > 0 {
		r.b.Fatalf("%d requests of %s failed; the first: %v", n, what, r.firstErr.Load())
	}
}

// create makes item i due at due: a chat its agent starts and snoozes, or a callback.
func (r *timersRun) create(i int, due time.Time) {
	it := &r.items[i]
	switch it.kind {
	case kindSnooze:
		key := r.agents[i%len(r.agents)]
		res, err := r.send("POST", "/v1/interactions", key, map[string]string{"channel": "web_chat", "direction": "outbound", "to": "visitor-" + strconv.Itoa(i),
			"requestId": fmt.Sprintf("timers-chat-%d", i)})
		if err != nil || (res.status != 201 && res.status != 200) {
			r.fail("create chat %d: %d %s %v", i, res.status, res.body, err)
			return
		}
		v := map[string]any{}
		if err := json.Unmarshal(res.body, &v); err != nil {
			r.fail("create chat %d: %v", i, err)
			return
		}
		it.id, _ = v["id"].(string)
		// The answer may come before the chat is its agent's, as the desktop
		// sees it: the desktop snoozes it once it is.
		for deadline := time.Now().Add(30 * time.Second); v["status"] != "connected"; {
			if time.Now().After(deadline) {
				r.fail("chat %d is not its agent's: %s", i, res.body)
				return
			}
			time.Sleep(100 * time.Millisecond)
			if res, err = r.send("GET", "/v1/interactions/"+it.id, key, nil); err == nil && res.status == 404 {
				continue // not in the read model yet
			}
			if err != nil || res.status != 200 || json.Unmarshal(res.body, &v) != nil {
				r.fail("read chat %d: %d %s %v", i, res.status, res.body, err)
				return
			}
		}
		r.snooze(i, due)
	case kindCallback:
		res, err := r.send("POST", "/v1/callbacks", r.adminKey, map[string]string{"phone": r.phone, "at": due.UTC().Format(time.RFC3339Nano),
			"notes": "timers benchmark", "requestId": fmt.Sprintf("timers-callback-%d", i)})
		if err != nil || (res.status != 201 && res.status != 200) {
			r.fail("create callback %d: %d %s %v", i, res.status, res.body, err)
			return
		}
		v := map[string]any{}
		if err := json.Unmarshal(res.body, &v); err != nil {
			r.fail("create callback %d: %v", i, err)
			return
		}
		it.id, _ = v["id"].(string)
	}
}

// send is a request as a client sends it: sent again, with the same request ID,
// after an answer that says to (503, 504) or none, up to five times.
func (r *timersRun) send(method, path, key string, body any) (response, error) {
	var res response
	var err error
	for attempt := range 5 {
		if attempt > 0 {
			r.retries.Add(1)
			time.Sleep(time.Duration(attempt) * time.Second)
		}
		res, err = r.st.try(method, path, key, body)
		if err == nil && res.status != http.StatusServiceUnavailable && res.status != http.StatusGatewayTimeout {
			break
		}
	}
	return res, err
}

// snooze snoozes item i's chat until due, as its agent.
func (r *timersRun) snooze(i int, due time.Time) {
	key := r.agents[i%len(r.agents)]
	res, err := r.send("POST", "/v1/interactions/"+r.items[i].id+"/snooze", key, map[string]string{"until": due.UTC().Format(time.RFC3339Nano)})
	if err != nil || res.status != 200 {
		r.fail("snooze chat %d: %d %s %v", i, res.status, res.body, err)
	}
}

// move sets a first creation to its due time: a new snooze, or a reschedule.
func (r *timersRun) move(i int) {
	it := r.items[i]
	if it.kind == kindSnooze {
		r.snooze(i, it.due)
		return
	}
	res, err := r.send("POST", "/v1/callbacks/"+it.id+"/reschedule", r.adminKey, map[string]string{"at": it.due.UTC().Format(time.RFC3339Nano),
		"reason": "the benchmark's window is set"})
	if err != nil || res.status != 200 {
		r.fail("reschedule callback %d: %d %s %v", i, res.status, res.body, err)
	}
}

// floorPilot starts k floor workflows already due, and answers the starts per second.
func (r *timersRun) floorPilot(k int) float64 {
	prefix := timerFloorPilot + strconv.FormatInt(time.Now().UnixNano(), 36) + "-"
	began := time.Now()
	parallel(k, *timersParallel, func(i int) {
		if _, err := r.st.client.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{ID: prefix + strconv.Itoa(i), TaskQueue: timerFloorQueue},
			"timerFloor", time.Now()); err != nil {
			r.fail("start floor pilot %d: %v", i, err)
		}
	})
	return float64(k) / time.Since(began).Seconds()
}

func (r *timersRun) floorPrefix() string { return "bench-timer-floor-" + r.tenant + "-" }

// startFloor starts one floor workflow per product timer, due at the same time.
func (r *timersRun) startFloor() {
	r.floorIDs = make([]string, len(r.items))
	parallel(len(r.items), *timersParallel, func(i int) {
		id := r.floorPrefix() + strconv.Itoa(i)
		r.floorIDs[i] = id
		if _, err := r.st.client.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{ID: id, TaskQueue: timerFloorQueue},
			"timerFloor", r.items[i].due); err != nil {
			r.fail("start floor %d: %v", i, err)
		}
	})
}

// floorLateness is how late each floor workflow's activity ran after its due time,
// and how many ran twice.
func (r *timersRun) floorLateness(f *firings) ([]time.Duration, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var late []time.Duration
	twice := 0
	for i, id := range r.floorIDs {
		if at, ok := f.at[id]; ok {
			late = append(late, at.Sub(r.items[i].due))
		}
		if f.runs[id] > 1 {
			twice++
		}
	}
	return late, twice
}

// productFirings are the product timers that fired so far, read from the read model.
type productFirings struct {
	late  [2][]time.Duration
	twice [2]int
}

func (p productFirings) fired() int { return len(p.late[kindSnooze]) + len(p.late[kindCallback]) }

// productFirings reads how late each timer fired: a conversation's opening at its
// snooze's time (the write of the opened state, by the database's clock) and a
// callback's fire (the write of its failed state); and the timers that fired twice
// (two openings of one snooze time, two fires of one callback).
func (r *timersRun) productFirings(ctx context.Context) (productFirings, error) {
	var p productFirings
	rows, err := r.pool.Query(ctx, `
		SELECT (e.data->>'snoozedUntil')::timestamptz, i.updated_at, count(*) OVER (PARTITION BY e.interaction_id)
		FROM interaction_events e JOIN interactions i ON i.tenant_id = e.tenant_id AND i.id = e.interaction_id
		WHERE e.tenant_id = $1 AND e.type = $2 AND e.data->>'reason' = $3`,
		r.tenant, events.ConversationStatusChanged, workflows.SnoozeEndedByTime)
	if err != nil {
		return p, err
	}
	for rows.Next() {
		var due, at time.Time
		var n int
		if err := rows.Scan(&due, &at, &n); err != nil {
			rows.Close()
			return p, err
		}
		p.late[kindSnooze] = append(p.late[kindSnooze], at.Sub(due))
		if n > 1 {
			p.twice[kindSnooze]++
		}
	}
	if err := rows.Err(); err != nil {
		return p, err
	}
	rows, err = r.pool.Query(ctx, `
		SELECT c.due_at, c.updated_at, (SELECT count(*) FROM callback_events e
			WHERE e.tenant_id = c.tenant_id AND e.callback_id = c.id AND e.type IN ('dialing', 'failed'))
		FROM callbacks c WHERE c.tenant_id = $1 AND c.status = 'failed'`, r.tenant)
	if err != nil {
		return p, err
	}
	for rows.Next() {
		var due, at time.Time
		var n int
		if err := rows.Scan(&due, &at, &n); err != nil {
			rows.Close()
			return p, err
		}
		p.late[kindCallback] = append(p.late[kindCallback], at.Sub(due))
		if n > 1 {
			p.twice[kindCallback]++
		}
	}
	if err := rows.Err(); err != nil {
		return p, err
	}
	return p, nil
}

// lateness prints p50/p99/max in milliseconds.
func lateness(samples []time.Duration) string {
	ms := func(q float64) float64 { return float64(quantile(samples, q).Microseconds()) / 1000 }
	return fmt.Sprintf("%.0f/%.0f/%.0f", ms(0.50), ms(0.99), ms(1))
}

// within is the share of samples at most d.
func within(samples []time.Duration, d time.Duration) float64 {
	k := 0
	for _, s := range samples {
		if s <= d {
			k++
		}
	}
	return float64(k) / float64(len(samples))
}

// processMemory answers the Go heap in use after a collection and the process's
// resident set (VmRSS of /proc/self/status; 0 elsewhere).
func processMemory() (heap, rss uint64) {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse, procStatus("VmRSS:")
}

// peakRSS is the process's peak resident set (VmHWM).
func peakRSS() uint64 { return procStatus("VmHWM:") }

func procStatus(field string) uint64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, field); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func mib(n uint64) string { return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20)) }

// loadAverage is the machine's 1, 5 and 15 minute load averages, as /proc has them.
func loadAverage() string {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(raw))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
