package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

var openWorkflows = flag.Int("open-workflows", 10000, "how many workflows BenchmarkOpenWorkflows holds open at once")

// benchQueue is served by a bare worker in the benchmark process: the floor that
// Switchboard's own path is compared with.
const benchQueue = "bench-floor"

// oneActivity has SystemCheck's shape, one activity then done, without Switchboard's
// code: the floor of the API's round trip.
func oneActivity(ctx workflow.Context) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Second})
	return workflow.ExecuteActivity(ctx, "nothing").Get(ctx, nil)
}

func nothing(context.Context) error { return nil }

// parked waits for one signal, like an interaction waiting for its customer.
func parked(ctx workflow.Context) error {
	workflow.GetSignalChannel(ctx, "wake").Receive(ctx, nil)
	return nil
}

// percentiles reports p50/p95/p99 of samples in milliseconds.
func percentiles(b *testing.B, prefix string, samples []time.Duration) (p50 float64) {
	slices.Sort(samples)
	at := func(q float64) float64 {
		return float64(samples[int(q*float64(len(samples)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(at(0.50), prefix+"p50-ms")
	b.ReportMetric(at(0.95), prefix+"p95-ms")
	b.ReportMetric(at(0.99), prefix+"p99-ms")
	return at(0.50)
}

// benchEnv is one `switchboard dev` plus a bare floor worker, shared by all benchmarks
// of a run and stopped by TestMain.
type benchEnv struct {
	*testStack
	adminKey string
	client   client.Client
	worker   sdkworker.Worker
}

var (
	benchOnce  sync.Once
	benchState *benchEnv
	benchErr   error
)

func startForBench(b *testing.B) *benchEnv {
	benchOnce.Do(func() {
		s := newTestStack(benchCleanup{})
		s.t = b
		s.start()
		key := keyPattern.FindString(s.out.String())
		c, err := client.Dial(client.Options{HostPort: s.temporal, Namespace: "default", Logger: quietLogger()})
		if err != nil {
			benchErr = err
			return
		}
		w := sdkworker.New(c, benchQueue, sdkworker.Options{})
		w.RegisterWorkflowWithOptions(oneActivity, workflow.RegisterOptions{Name: "oneActivity"})
		w.RegisterActivityWithOptions(nothing, activity.RegisterOptions{Name: "nothing"})
		w.RegisterWorkflowWithOptions(parked, workflow.RegisterOptions{Name: "parked"})
		if err := w.Start(); err != nil {
			benchErr = err
			return
		}
		benchState = &benchEnv{testStack: s, adminKey: key, client: c, worker: w}
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchState
}

// benchCleanup collects the stack's clean-ups so TestMain runs them after all
// benchmarks rather than after the first.
type benchCleanup struct{ testing.TB }

var benchCleanups []func()

func (benchCleanup) Helper()             {}
func (benchCleanup) TempDir() string     { return os.TempDir() }
func (benchCleanup) Cleanup(f func())    { benchCleanups = append(benchCleanups, f) }
func (benchCleanup) Logf(string, ...any) {}

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if benchState != nil {
		benchState.worker.Stop()
		benchState.client.Close()
		benchState.cancel()
		<-benchState.done
	}
	for i := len(benchCleanups) - 1; i >= 0; i-- {
		benchCleanups[i]()
	}
	os.Exit(code)
}

// BenchmarkWorkflowRoundTrip times POST /v1/system/checks (HTTP, API-key lookup in
// PostgreSQL, SystemCheck workflow with its activity pinging PostgreSQL and Redis)
// against a bare SDK client running a one-activity workflow on the same server.
func BenchmarkWorkflowRoundTrip(b *testing.B) {
	st := startForBench(b)
	adminKey := st.adminKey
	floor := make([]time.Duration, 0, b.N)
	product := make([]time.Duration, 0, b.N)
	ctx := context.Background()
	req := func() time.Duration {
		start := time.Now()
		r, err := http.NewRequest("POST", st.httpURL+"/v1/system/checks", nil)
		if err != nil {
			b.Fatal(err)
		}
		r.Header.Set("Authorization", "Bearer "+adminKey)
		res, err := http.DefaultClient.Do(r)
		if err != nil {
			b.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			b.Fatalf("system check answered %d", res.StatusCode)
		}
		return time.Since(start)
	}
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		run, err := st.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: fmt.Sprintf("bench-floor-%d-%d", time.Now().UnixNano(), i), TaskQueue: benchQueue}, oneActivity)
		if err != nil {
			b.Fatal(err)
		}
		if err := run.Get(ctx, nil); err != nil {
			b.Fatal(err)
		}
		floor = append(floor, time.Since(start))
		product = append(product, req())
	}
	b.StopTimer()
	f := percentiles(b, "floor-", floor)
	p := percentiles(b, "api-", product)
	b.ReportMetric(p/f, "p50-ratio")
}

// BenchmarkOpenWorkflows holds -open-workflows parked workflows open at once on the
// embedded server, then wakes them all: the embedded server's persistence must carry
// thousands of concurrent runs.
func BenchmarkOpenWorkflows(b *testing.B) {
	st := startForBench(b)
	n := *openWorkflows
	ctx := context.Background()
	for range b.N {
		prefix := fmt.Sprintf("bench-parked-%d-", time.Now().UnixNano())
		starts := make([]time.Duration, n)
		var failed atomic.Int64
		began := time.Now()
		parallel(n, 32, func(i int) {
			t0 := time.Now()
			_, err := st.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: prefix + fmt.Sprint(i), TaskQueue: benchQueue}, parked)
			starts[i] = time.Since(t0)
			if err != nil {
				failed.Add(1)
			}
		})
		startWall := time.Since(began)
		if failed.Load() > 0 {
			b.Fatalf("%d of %d starts failed", failed.Load(), n)
		}
		open := countOpen(b, st.client)
		began = time.Now()
		parallel(n, 32, func(i int) {
			if err := st.client.SignalWorkflow(ctx, prefix+fmt.Sprint(i), "", "wake", nil); err != nil {
				failed.Add(1)
			}
		})
		parallel(n, 32, func(i int) {
			if err := st.client.GetWorkflow(ctx, prefix+fmt.Sprint(i), "").Get(ctx, nil); err != nil {
				failed.Add(1)
			}
		})
		closeWall := time.Since(began)
		if failed.Load() > 0 {
			b.Fatalf("%d of %d workflows did not finish", failed.Load(), n)
		}
		percentiles(b, "start-", starts)
		b.ReportMetric(float64(open), "open-at-once")
		b.ReportMetric(float64(n)/startWall.Seconds(), "starts/s")
		b.ReportMetric(float64(n)/closeWall.Seconds(), "wake+complete/s")
	}
}

func countOpen(b *testing.B, c client.Client) int64 {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var last int64
	for ctx.Err() == nil {
		res, err := c.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{
			Namespace: "default", Query: "WorkflowType = 'parked' AND ExecutionStatus = 'Running'"})
		if err == nil {
			last = res.Count
			if last == int64(*openWorkflows) {
				return last
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	b.Fatalf("only %d of %d workflows visible as running", last, *openWorkflows)
	return 0
}

func parallel(n, workers int, fn func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				fn(i)
			}
		})
	}
	wg.Wait()
}

func quietLogger() sdklog.Logger {
	return sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))
}
