package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"switchboard/activities"
	"switchboard/events"
	"switchboard/pgstore"
	"switchboard/worker"
)

// Sizes of BenchmarkWebhookDelivery (make bench passes them from WEBHOOK_* variables).
var (
	webhookDeliveries  = flag.Int("webhook-deliveries", 1000, "deliveries BenchmarkWebhookDelivery times, and as many plain POSTs for its floor")
	webhookConcurrency = flag.Int("webhook-concurrency", 16, "events published at once by BenchmarkWebhookDelivery, and POSTs in flight at once for its floor")
)

// benchReceiver is the CRM's endpoint of the benchmark: it verifies each request's
// signature, as a receiver must, answers 200, and tells the one waiting for an event
// (by the body's eventKey) when it first arrived. The first request of each event is
// kept, for the floor to send again.
type benchReceiver struct {
	*httptest.Server
	secret  string
	mu      sync.Mutex
	waiting map[string]chan time.Time
	first   map[string]benchRequest
	bad     atomic.Int64
	repeats atomic.Int64
}

type benchRequest struct {
	body   []byte
	header http.Header
}

func newBenchReceiver() *benchReceiver {
	r := &benchReceiver{waiting: map[string]chan time.Time{}, first: map[string]benchRequest{}}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		now := time.Now()
		var ev struct {
			EventKey string `json:"eventKey"`
		}
		// The floors send the product's requests again, minutes later at most.
		if verifySwitchboard(r.secret, req.Header.Get("X-Switchboard-Signature"), body, now, time.Hour) != nil ||
			json.Unmarshal(body, &ev) != nil {
			r.bad.Add(1)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		r.mu.Lock()
		if ch, ok := r.waiting[ev.EventKey]; ok {
			delete(r.waiting, ev.EventKey)
			if _, kept := r.first[ev.EventKey]; !kept {
				r.first[ev.EventKey] = benchRequest{body: body, header: req.Header.Clone()}
			}
			ch <- now
		} else {
			r.repeats.Add(1)
		}
		r.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	return r
}

// await answers when the event with key first arrives.
func (r *benchReceiver) await(key string) <-chan time.Time {
	ch := make(chan time.Time, 1)
	r.mu.Lock()
	r.waiting[key] = ch
	r.mu.Unlock()
	return ch
}

// webhookBench is a dev stack of its own, whose worker may deliver to loopback
// receivers (the shared bench stack refuses them, as production does).
var (
	webhookBenchOnce  sync.Once
	webhookBenchStack *testStack
)

func startWebhookBench(b *testing.B) *testStack {
	webhookBenchOnce.Do(func() {
		s := newTestStack(benchCleanup{})
		s.t = b
		s.args = append(s.args, "--webhook-allow-private", "true")
		s.start()
		webhookBenchStack = s
		benchCleanups = append(benchCleanups, func() { s.cancel(); <-s.done })
	})
	if webhookBenchStack == nil {
		b.Fatal("the webhook benchmark's stack did not start")
	}
	return webhookBenchStack
}

// webhookFloorQueue is served by a bare worker with Switchboard's worker options: the
// floor of a delivery as a workflow.
const webhookFloorQueue = "bench-webhook-floor"

// webhookFloorPost is a delivery's POST without the delivery log: the body and
// headers as the receiver got them from Switchboard.
type webhookFloorPost struct {
	URL    string
	Body   []byte
	Header http.Header
}

// webhookFloor has the delivery workflow's shape without Switchboard's code: one
// activity that POSTs, then done.
func webhookFloor(ctx workflow.Context, in webhookFloorPost) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 15 * time.Second})
	return workflow.ExecuteActivity(ctx, "webhookFloorSend", in).Get(ctx, nil)
}

var webhookFloorClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

func webhookFloorSend(ctx context.Context, in webhookFloorPost) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.URL, bytes.NewReader(in.Body))
	if err != nil {
		return err
	}
	req.Header = in.Header
	res, err := webhookFloorClient.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, res.Body)
	return res.Body.Close()
}

// BenchmarkWebhookDelivery measures webhook delivery to a receiver on this machine
// on a running dev stack (embedded Temporal on PostgreSQL, the worker with its real
// activities), next to its floor measured in the same run. Both keep
// -webhook-concurrency requests in flight, each sender waiting for its request's
// receipt before the next:
//
//   - deliveries/s and event-to-receipt p50/p95/p99: -webhook-deliveries lifecycle
//     events published through the fan-out the interactions' activities call
//     (Webhooks.Deliver: the delivery's row, its workflow started), each delivered by
//     its workflow (the signed POST activity, recorded in the delivery log) to one
//     endpoint; the latency runs from the event's time to the receiver's first
//     receipt of it;
//   - floor-posts/s and floor-post-to-receipt: the same bodies, with the same
//     headers, POSTed by one Go client to the same receiver;
//   - throughput-ratio (deliveries/s ÷ floor-posts/s) and p50-ratio (event to
//     receipt ÷ POST to receipt);
//   - workflow-floor/s and workflow-floor-to-receipt: for reference, the same POSTs
//     each made by a bare one-activity workflow on the same Temporal server (no
//     delivery row, no log), started by the same kind of client: what a workflow per
//     delivery costs by itself; workflow-ratio is deliveries/s ÷ workflow-floor/s;
//   - publish-: what the fan-out adds to a publishing activity for a tenant with an
//     endpoint (the row and the workflow start; the benchmark publishes from outside
//     the worker, so without the eager start a worker's own client gets), and
//     no-endpoint-ns/event: what it adds for a tenant without endpoints (the cached
//     lookup every event pays).
//
// Run with -benchtime 1x (make bench).
func BenchmarkWebhookDelivery(b *testing.B) {
	n, conc := *webhookDeliveries, *webhookConcurrency
	if n <= 0 || conc <= 0 {
		b.Fatal("the -webhook-* sizes must be positive")
	}
	st := startWebhookBench(b)
	ctx := context.Background()
	adminKey := keyPattern.FindString(st.out.String())
	tenant := st.benchCall(b, "GET", "/v1/me", adminKey, nil, 200)["tenant"].(map[string]any)["id"].(string)
	rcv := newBenchReceiver()
	defer rcv.Close()
	hook := st.benchCall(b, "POST", "/v1/webhooks", adminKey, map[string]any{"url": rcv.URL + "/switchboard",
		"eventTypes": []string{events.InteractionEnded}, "description": "benchmark receiver"}, 201)
	rcv.secret = hook["secret"].(string)

	pool, err := pgxpool.New(ctx, st.dbURL+"&pool_max_conns="+fmt.Sprint(conc))
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	c, err := client.Dial(client.Options{HostPort: st.temporal, Namespace: "default", Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	fw := sdkworker.New(c, webhookFloorQueue, worker.Options())
	fw.RegisterWorkflowWithOptions(webhookFloor, workflow.RegisterOptions{Name: "webhookFloor"})
	fw.RegisterActivityWithOptions(webhookFloorSend, activity.RegisterOptions{Name: "webhookFloorSend"})
	if err := fw.Start(); err != nil {
		b.Fatal(err)
	}
	defer fw.Stop()
	// A publisher like the worker's: the fan-out its activities call.
	w := &activities.Webhooks{Store: pgstore.New(pool), Temporal: c}
	data, _ := json.Marshal(activities.InteractionEvent{InteractionID: uuid.NewString(), Status: pgstore.InteractionEnded,
		Channel: "live_messaging", Source: "whatsapp", QueueID: uuid.NewString(), AgentID: uuid.NewString(),
		CustomerPhone: "+385915550199", Reason: "agent", Version: 7})
	receipt := func(ch <-chan time.Time, what string) time.Time {
		select {
		case at := <-ch:
			return at
		case <-time.After(2 * time.Minute):
			b.Fatalf("%s did not arrive in two minutes", what)
			return time.Time{}
		}
	}
	// deliver publishes count events, conc at a time, each after the previous one
	// of its sender arrived.
	deliver := func(run string, count int) (keys []string, publishLat, latencies []time.Duration, took time.Duration) {
		keys, publishLat, latencies = make([]string, count), make([]time.Duration, count), make([]time.Duration, count)
		began := time.Now()
		parallel(count, conc, func(i int) {
			keys[i] = fmt.Sprintf("bench/%s/%d/%s", run, i, events.InteractionEnded)
			arrived := rcv.await(keys[i])
			e := events.Event{Key: keys[i], Type: events.InteractionEnded, TenantID: tenant, At: time.Now().UTC(),
				InteractionID: uuid.NewString(), Data: data}
			if err := w.Deliver(ctx, e); err != nil {
				b.Error(err)
				return
			}
			publishLat[i] = time.Since(e.At)
			latencies[i] = receipt(arrived, "event "+e.Key).Sub(e.At)
		})
		return keys, publishLat, latencies, time.Since(began)
	}

	for range b.N {
		// A warm-up lets the stack settle, then the timed deliveries.
		deliver("warm-"+uuid.NewString()[:8], min(50, n))
		time.Sleep(settlePause)
		keys, publishLat, latencies, took := deliver(uuid.NewString()[:8], n)
		rate := float64(n) / took.Seconds()

		// The floor: the same bodies and headers, POSTed by one client.
		time.Sleep(settlePause)
		rcv.mu.Lock()
		sent := make([]benchRequest, n)
		for i, k := range keys {
			sent[i] = rcv.first[k]
		}
		rcv.mu.Unlock()
		hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conc}}
		floorLat := make([]time.Duration, n)
		floorBegan := time.Now()
		parallel(n, conc, func(i int) {
			arrived := rcv.await(keys[i])
			req, _ := http.NewRequest(http.MethodPost, rcv.URL+"/switchboard", bytes.NewReader(sent[i].body))
			req.Header = sent[i].header.Clone()
			start := time.Now()
			res, err := hc.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			floorLat[i] = receipt(arrived, "floor POST "+keys[i]).Sub(start)
		})
		floorRate := float64(n) / time.Since(floorBegan).Seconds()

		// The workflow floor: each POST made by a bare workflow's activity.
		time.Sleep(settlePause)
		wfLat := make([]time.Duration, n)
		wfBegan := time.Now()
		parallel(n, conc, func(i int) {
			arrived := rcv.await(keys[i])
			start := time.Now()
			if _, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: fmt.Sprintf("bench-webhook-floor-%s-%d", keys[i], i), TaskQueue: webhookFloorQueue},
				"webhookFloor", webhookFloorPost{URL: rcv.URL + "/switchboard", Body: sent[i].body, Header: sent[i].header}); err != nil {
				b.Error(err)
				return
			}
			wfLat[i] = receipt(arrived, "workflow floor POST "+keys[i]).Sub(start)
		})
		wfRate := float64(n) / time.Since(wfBegan).Seconds()

		// What a tenant without endpoints pays per event: the cached lookup.
		quiet := &activities.Webhooks{Store: pgstore.New(pool), Temporal: c}
		noHooks := events.Event{Key: "bench/none", Type: events.InteractionEnded, TenantID: uuid.NewString(), At: time.Now(), Data: data}
		_ = quiet.Deliver(ctx, noHooks)
		const lookups = 100_000
		t0 := time.Now()
		for range lookups {
			if err := quiet.Deliver(ctx, noHooks); err != nil {
				b.Fatal(err)
			}
		}
		perLookup := time.Since(t0) / lookups

		if bad := rcv.bad.Load(); bad > 0 {
			b.Fatalf("%d requests did not verify", bad)
		}
		percentiles(b, "floor-post-to-receipt-", floorLat)
		percentiles(b, "workflow-floor-to-receipt-", wfLat)
		b.ReportMetric(wfRate, "workflow-floor/s")
		b.ReportMetric(rate/wfRate, "workflow-ratio")
		p50 := percentiles(b, "event-to-receipt-", latencies)
		percentiles(b, "publish-", publishLat)
		b.ReportMetric(rate, "deliveries/s")
		b.ReportMetric(floorRate, "floor-posts/s")
		b.ReportMetric(rate/floorRate, "throughput-ratio")
		b.ReportMetric(p50/(float64(quantile(floorLat, 0.5).Microseconds())/1000), "p50-ratio")
		b.ReportMetric(float64(perLookup.Nanoseconds()), "no-endpoint-ns/event")
		b.Logf("webhooks: %.1f deliveries/s (%d in %v, %d in flight), event to receipt p50/p95/p99 %s ms; floor %.1f POSTs/s, POST to receipt %s ms; throughput ratio %.4f; "+
			"a bare one-activity workflow per POST %.1f/s, start to receipt %s ms, ratio %.2f; the fan-out adds %s ms (p50/p95/p99) to a publishing activity with an endpoint, %v per event without; %d repeated requests",
			rate, n, took.Round(time.Millisecond), conc, triple(latencies), floorRate, triple(floorLat), rate/floorRate,
			wfRate, triple(wfLat), rate/wfRate, triple(publishLat), perLookup, rcv.repeats.Load())
	}
}

// benchCall is call for a benchmark: it requires status and answers the JSON.
func (s *testStack) benchCall(b *testing.B, method, path, key string, body any, status int) map[string]any {
	raw := ""
	if body != nil {
		j, err := json.Marshal(body)
		if err != nil {
			b.Fatal(err)
		}
		raw = string(j)
	}
	r := s.do(method, path, key, raw)
	if r.status != status {
		b.Fatalf("%s %s: %d %s, want %d", method, path, r.status, r.body, status)
	}
	var v map[string]any
	if err := json.Unmarshal(r.body, &v); err != nil {
		b.Fatal(err)
	}
	return v
}
