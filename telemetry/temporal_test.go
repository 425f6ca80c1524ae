package telemetry_test

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.temporal.io/sdk/client"

	"switchboard/telemetry"
)

func newTemporal(t *testing.T) (*prometheus.Registry, client.MetricsHandler) {
	t.Helper()
	reg := prometheus.NewRegistry()
	h, err := telemetry.NewTemporalMetrics(reg)
	if err != nil {
		t.Fatalf("NewTemporalMetrics: %v", err)
	}
	return reg, h
}

func TestNewTemporalMetricsNilRegisterer(t *testing.T) {
	if _, err := telemetry.NewTemporalMetrics(nil); err == nil {
		t.Fatal("want error for nil Registerer")
	}
}

func TestTemporalCounterAndGauge(t *testing.T) {
	tests := []struct {
		name   string
		emit   func(client.MetricsHandler)
		family string
		typ    dto.MetricType
		want   float64
	}{
		{
			name: "counter sums increments",
			emit: func(h client.MetricsHandler) {
				h.Counter("temporal_request").Inc(3)
				h.Counter("temporal_request").Inc(4)
			},
			family: "temporal_request",
			typ:    dto.MetricType_COUNTER,
			want:   7,
		},
		{
			name: "counter ignores negative and zero deltas",
			emit: func(h client.MetricsHandler) {
				c := h.Counter("temporal_request")
				c.Inc(5)
				c.Inc(-2)
				c.Inc(0)
			},
			family: "temporal_request",
			typ:    dto.MetricType_COUNTER,
			want:   5,
		},
		{
			name: "gauge keeps last value",
			emit: func(h client.MetricsHandler) {
				h.Gauge("temporal_num_pollers").Update(4)
				h.Gauge("temporal_num_pollers").Update(2.5)
			},
			family: "temporal_num_pollers",
			typ:    dto.MetricType_GAUGE,
			want:   2.5,
		},
		{
			name: "gauge may go negative",
			emit: func(h client.MetricsHandler) {
				h.Gauge("temporal_sticky_cache_size").Update(-1.25)
			},
			family: "temporal_sticky_cache_size",
			typ:    dto.MetricType_GAUGE,
			want:   -1.25,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg, h := newTemporal(t)
			tt.emit(h)
			mf := family(t, reg, tt.family)
			if mf.GetType() != tt.typ {
				t.Fatalf("type = %v, want %v", mf.GetType(), tt.typ)
			}
			if len(mf.GetMetric()) != 1 {
				t.Fatalf("got %d series, want 1", len(mf.GetMetric()))
			}
			m := mf.GetMetric()[0]
			var got float64
			if tt.typ == dto.MetricType_COUNTER {
				got = m.GetCounter().GetValue()
			} else {
				got = m.GetGauge().GetValue()
			}
			if got != tt.want {
				t.Fatalf("value = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestTemporalTimerHistogram(t *testing.T) {
	reg, h := newTemporal(t)
	timer := h.Timer("temporal_activity_execution_latency")
	for _, d := range []time.Duration{
		3 * time.Millisecond,
		40 * time.Millisecond,
		time.Second, // exactly on a bound: "le" is inclusive
		2 * time.Second,
		90 * time.Second, // beyond the last bound: only +Inf
		-time.Second,     // clamped to zero
	} {
		timer.Record(d)
	}

	mf := family(t, reg, "temporal_activity_execution_latency_seconds")
	if mf.GetType() != dto.MetricType_HISTOGRAM {
		t.Fatalf("type = %v, want histogram", mf.GetType())
	}
	hist := mf.GetMetric()[0].GetHistogram()
	if got := hist.GetSampleCount(); got != 6 {
		t.Errorf("count = %d, want 6", got)
	}
	if got, want := hist.GetSampleSum(), 0.003+0.04+1+2+90; math.Abs(got-want) > 1e-9 {
		t.Errorf("sum = %v, want %v", got, want)
	}
	wantCumulative := map[float64]uint64{
		0.001: 1, // the clamped negative
		0.005: 2,
		0.025: 2,
		0.05:  3,
		1:     4,
		2.5:   5,
		60:    5,
	}
	got := map[float64]uint64{}
	var bounds []float64
	for _, b := range hist.GetBucket() {
		got[b.GetUpperBound()] = b.GetCumulativeCount()
		bounds = append(bounds, b.GetUpperBound())
	}
	if bounds[0] != 0.001 || bounds[len(bounds)-1] != 60 {
		t.Errorf("bounds = %v, want 0.001 … 60", bounds)
	}
	for le, want := range wantCumulative {
		if got[le] != want {
			t.Errorf("bucket le=%v = %d, want %d", le, got[le], want)
		}
	}
}

func TestTemporalTimerKeepsExistingSecondsSuffix(t *testing.T) {
	reg, h := newTemporal(t)
	h.Timer("poll_seconds").Record(time.Millisecond)
	mfs := gather(t, reg)
	if _, ok := mfs["poll_seconds"]; !ok {
		t.Fatalf("want poll_seconds, got %v", mfs)
	}
	if _, ok := mfs["poll_seconds_seconds"]; ok {
		t.Fatal("suffix doubled")
	}
}

func TestTemporalLabelUnion(t *testing.T) {
	reg, h := newTemporal(t)
	// Mirrors the SDK: the same metric from the root handler, a namespace
	// handler and an operation handler.
	h.Counter("temporal_request").Inc(1)
	ns := h.WithTags(map[string]string{"namespace": "default"})
	ns.Counter("temporal_request").Inc(2)
	ns.WithTags(map[string]string{"operation": "PollActivityTaskQueue"}).Counter("temporal_request").Inc(3)
	h.WithTags(map[string]string{"operation": "StartWorkflowExecution"}).Counter("temporal_request").Inc(4)

	ns.Timer("temporal_request_latency").Record(time.Millisecond)
	h.WithTags(map[string]string{"task_queue": "calls"}).Timer("temporal_request_latency").Record(time.Millisecond)

	t.Run("counter", func(t *testing.T) {
		mf := family(t, reg, "temporal_request")
		want := map[string]float64{
			"namespace=,operation=":                             1,
			"namespace=default,operation=":                      2,
			"namespace=default,operation=PollActivityTaskQueue": 3,
			"namespace=,operation=StartWorkflowExecution":       4,
		}
		got := byLabels(t, mf)
		if len(got) != len(want) {
			t.Fatalf("got series %v, want %v", got, want)
		}
		for labels, v := range want {
			m, ok := got[labels]
			if !ok {
				t.Fatalf("missing series {%s}", labels)
			}
			if m.GetCounter().GetValue() != v {
				t.Errorf("{%s} = %v, want %v", labels, m.GetCounter().GetValue(), v)
			}
			if names := labelNames(m); !slices.Equal(names, []string{"namespace", "operation"}) {
				t.Errorf("{%s} label names = %v, want the union", labels, names)
			}
		}
	})
	t.Run("timer", func(t *testing.T) {
		mf := family(t, reg, "temporal_request_latency_seconds")
		got := byLabels(t, mf)
		for _, labels := range []string{"namespace=default,task_queue=", "namespace=,task_queue=calls"} {
			m, ok := got[labels]
			if !ok {
				t.Fatalf("missing series {%s}; have %v", labels, got)
			}
			if m.GetHistogram().GetSampleCount() != 1 {
				t.Errorf("{%s} count = %d, want 1", labels, m.GetHistogram().GetSampleCount())
			}
		}
	})
}

func TestTemporalWithTags(t *testing.T) {
	tests := []struct {
		name   string
		chain  []map[string]string
		labels string
	}{
		{
			name:   "merges parent and child tags",
			chain:  []map[string]string{{"namespace": "default"}, {"task_queue": "calls"}},
			labels: "namespace=default,task_queue=calls",
		},
		{
			name:   "child overrides parent",
			chain:  []map[string]string{{"namespace": "default", "worker_type": "ActivityWorker"}, {"worker_type": "WorkflowWorker"}},
			labels: "namespace=default,worker_type=WorkflowWorker",
		},
		{
			name:   "empty value removes the tag",
			chain:  []map[string]string{{"namespace": "default", "task_queue": "calls"}, {"task_queue": ""}},
			labels: "namespace=default",
		},
		{
			name:   "nil and empty maps change nothing",
			chain:  []map[string]string{{"namespace": "default"}, nil, {}},
			labels: "namespace=default",
		},
		{
			name:   "override through a key that sanitizes to the same label",
			chain:  []map[string]string{{"task.queue": "calls"}, {"task_queue": "billing"}},
			labels: "task_queue=billing",
		},
		{
			name:   "colliding keys in one call resolve by sorted key order",
			chain:  []map[string]string{{"task_queue": "b", "task-queue": "a"}},
			labels: "task_queue=b",
		},
		{
			name:   "invalid UTF-8 values are repaired",
			chain:  []map[string]string{{"workflow_type": "Call\xffFlow"}},
			labels: "workflow_type=Call\uFFFDFlow",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg, h := newTemporal(t)
			for _, tags := range tt.chain {
				h = h.WithTags(tags)
			}
			h.Counter("temporal_workflow_completed").Inc(1)
			mf := family(t, reg, "temporal_workflow_completed")
			if len(mf.GetMetric()) != 1 {
				t.Fatalf("got %d series, want 1", len(mf.GetMetric()))
			}
			if got := labelString(mf.GetMetric()[0]); got != tt.labels {
				t.Fatalf("labels = %q, want %q", got, tt.labels)
			}
		})
	}
}

func TestTemporalWithTagsDoesNotMutateParent(t *testing.T) {
	reg, h := newTemporal(t)
	parent := h.WithTags(map[string]string{"namespace": "default"})
	_ = parent.WithTags(map[string]string{"namespace": "other", "task_queue": "calls"})
	parent.Counter("temporal_worker_start").Inc(1)
	mf := family(t, reg, "temporal_worker_start")
	if got := labelString(mf.GetMetric()[0]); got != "namespace=default" {
		t.Fatalf("labels = %q, want namespace=default", got)
	}
}

func TestTemporalSameTagsShareSeries(t *testing.T) {
	reg, h := newTemporal(t)
	// The SDK builds a fresh handler per task; equal tags must land on one
	// series no matter how they were assembled.
	a := h.WithTags(map[string]string{"namespace": "default"}).WithTags(map[string]string{"task_queue": "calls"})
	b := h.WithTags(map[string]string{"task_queue": "calls", "namespace": "default"})
	a.Counter("temporal_poller_start").Inc(2)
	b.Counter("temporal_poller_start").Inc(5)
	mf := family(t, reg, "temporal_poller_start")
	if len(mf.GetMetric()) != 1 {
		t.Fatalf("got %d series, want 1", len(mf.GetMetric()))
	}
	if v := mf.GetMetric()[0].GetCounter().GetValue(); v != 7 {
		t.Fatalf("value = %v, want 7", v)
	}
}

func TestTemporalWithTagsCacheKeepsTagSetsApart(t *testing.T) {
	reg, h := newTemporal(t)
	// Pairs that would alias under a naive concatenated cache key.
	h.WithTags(map[string]string{"a": "bc"}).Counter("temporal_x").Inc(1)
	h.WithTags(map[string]string{"ab": "c"}).Counter("temporal_x").Inc(2)
	h.WithTags(map[string]string{"a": "b", "c": "d"}).Counter("temporal_x").Inc(4)
	h.WithTags(map[string]string{"a": "b\x00c", "": "d"}).Counter("temporal_x").Inc(8)
	got := map[string]float64{}
	for labels, m := range byLabels(t, family(t, reg, "temporal_x")) {
		got[labels] = m.GetCounter().GetValue()
	}
	want := map[string]float64{
		"_=,a=bc,ab=,c=":      1,
		"_=,a=,ab=c,c=":       2,
		"_=,a=b,ab=,c=d":      4,
		"_=d,a=b\x00c,ab=,c=": 8,
	}
	if !maps.Equal(got, want) {
		t.Fatalf("series = %v, want %v", got, want)
	}
}

func TestTemporalMetricNameSanitizing(t *testing.T) {
	tests := []struct {
		raw, want string
	}{
		{"temporal_request", "temporal_request"},
		{"temporal.request-failure", "temporal_request_failure"},
		{"Temporal Request", "Temporal_Request"},
		{"ns:subsystem:metric", "ns:subsystem:metric"},
		{"9lives", "_9lives"},
		{"caf\u00e9_hits", "caf__hits"},
		{"bad\xffbyte", "bad_byte"},
		{"", "_"},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			reg, h := newTemporal(t)
			h.Counter(tt.raw).Inc(1)
			family(t, reg, tt.want)
		})
	}
}

func TestTemporalLabelNameSanitizing(t *testing.T) {
	tests := []struct {
		raw, want string
	}{
		{"task_queue", "task_queue"},
		{"task-queue", "task_queue"},
		{"task.queue", "task_queue"},
		{"a:b", "a_b"},
		{"1st", "_1st"},
		{"__name__", "_name__"},
		{"___x", "_x"},
		{"le", "tag_le"},
		{"", "_"},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			reg, h := newTemporal(t)
			h.WithTags(map[string]string{tt.raw: "v"}).Timer("temporal_request_latency").Record(time.Millisecond)
			mf := family(t, reg, "temporal_request_latency_seconds")
			if got := labelString(mf.GetMetric()[0]); got != tt.want+"=v" {
				t.Fatalf("labels = %q, want %q", got, tt.want+"=v")
			}
		})
	}
}

func TestTemporalConflictingNamesKeepGatherWorking(t *testing.T) {
	tests := []struct {
		name   string
		emit   func(client.MetricsHandler)
		family string
		typ    dto.MetricType
	}{
		{
			name: "same name as counter then gauge",
			emit: func(h client.MetricsHandler) {
				h.Counter("temporal_thing").Inc(1)
				h.Gauge("temporal_thing").Update(9)
			},
			family: "temporal_thing",
			typ:    dto.MetricType_COUNTER,
		},
		{
			name: "names that sanitize together with different types",
			emit: func(h client.MetricsHandler) {
				h.Gauge("temporal.thing").Update(1)
				h.Counter("temporal_thing").Inc(9)
			},
			family: "temporal_thing",
			typ:    dto.MetricType_GAUGE,
		},
		{
			name: "counter shadowing a histogram suffix",
			emit: func(h client.MetricsHandler) {
				h.Timer("temporal_poll").Record(time.Millisecond)
				h.Counter("temporal_poll_seconds_count").Inc(9)
			},
			family: "temporal_poll_seconds",
			typ:    dto.MetricType_HISTOGRAM,
		},
		{
			name: "histogram whose suffix is taken",
			emit: func(h client.MetricsHandler) {
				h.Counter("temporal_poll_seconds_bucket").Inc(1)
				h.Timer("temporal_poll").Record(time.Millisecond)
			},
			family: "temporal_poll_seconds_bucket",
			typ:    dto.MetricType_COUNTER,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg, h := newTemporal(t)
			tt.emit(h)
			mfs := gather(t, reg) // fails the test on any gather error
			if len(mfs) != 1 {
				t.Fatalf("got families %v, want only %q", mfs, tt.family)
			}
			if mf := mfs[tt.family]; mf == nil || mf.GetType() != tt.typ {
				t.Fatalf("family %q = %v, want type %v", tt.family, mf, tt.typ)
			}
		})
	}
}

func TestTemporalConcurrentExactTotals(t *testing.T) {
	const (
		goroutines = 16
		perG       = 10_000
	)
	reg, h := newTemporal(t)
	ns := h.WithTags(map[string]string{"namespace": "default"})

	stop := make(chan struct{})
	scraped := make(chan error, 1)
	go func() {
		// Scrape while writers run, so -race sees Collect against Inc/Record.
		var err error
		for {
			select {
			case <-stop:
				scraped <- err
				return
			default:
				if _, gerr := reg.Gather(); gerr != nil && err == nil {
					err = gerr
				}
			}
		}
	}()

	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			own := fmt.Sprintf("g%02d", g)
			shared := ns.Counter("temporal_request")
			for i := range perG {
				shared.Inc(1)
				// Look up through WithTags every time, the way the SDK does.
				h.WithTags(map[string]string{"namespace": "default", "worker": own}).Counter("temporal_request").Inc(1)
				ns.Timer("temporal_request_latency").Record(time.Duration(i) * time.Microsecond)
				ns.Gauge("temporal_num_pollers").Update(float64(g))
			}
		}()
	}
	wg.Wait()
	close(stop)
	if err := <-scraped; err != nil {
		t.Fatalf("concurrent Gather: %v", err)
	}

	series := byLabels(t, family(t, reg, "temporal_request"))
	if len(series) != goroutines+1 {
		t.Fatalf("got %d series, want %d", len(series), goroutines+1)
	}
	if v := series["namespace=default,worker="].GetCounter().GetValue(); v != goroutines*perG {
		t.Errorf("shared counter = %v, want %d", v, goroutines*perG)
	}
	for g := range goroutines {
		key := fmt.Sprintf("namespace=default,worker=g%02d", g)
		if v := series[key].GetCounter().GetValue(); v != perG {
			t.Errorf("{%s} = %v, want %d", key, v, perG)
		}
	}
	hist := family(t, reg, "temporal_request_latency_seconds").GetMetric()[0].GetHistogram()
	if hist.GetSampleCount() != goroutines*perG {
		t.Errorf("timer count = %d, want %d", hist.GetSampleCount(), goroutines*perG)
	}
	g := family(t, reg, "temporal_num_pollers").GetMetric()[0].GetGauge().GetValue()
	if g < 0 || g >= goroutines || g != math.Trunc(g) {
		t.Errorf("gauge = %v, want one of the written values", g)
	}
}

func TestTemporalHotPathDoesNotAllocate(t *testing.T) {
	_, h := newTemporal(t)
	tagged := h.WithTags(map[string]string{"namespace": "default"})
	// Warm up so the series exist.
	tagged.Counter("temporal_request").Inc(1)
	tagged.Gauge("temporal_num_pollers").Update(1)
	tagged.Timer("temporal_request_latency").Record(time.Millisecond)

	// The SDK derives a handler per RPC, so a repeated WithTags is hot too.
	rpcTags := map[string]string{"operation": "PollActivityTaskQueue"}
	tagged.WithTags(rpcTags).Counter("temporal_request").Inc(1)

	allocs := testing.AllocsPerRun(1000, func() {
		tagged.Counter("temporal_request").Inc(1)
		tagged.Gauge("temporal_num_pollers").Update(2)
		tagged.Timer("temporal_request_latency").Record(time.Millisecond)
		tagged.WithTags(rpcTags).Counter("temporal_request").Inc(1)
	})
	if allocs != 0 {
		t.Fatalf("lookup plus update allocated %v times per run, want 0", allocs)
	}
}

func BenchmarkTemporalCounterLookupInc(b *testing.B) {
	h, err := telemetry.NewTemporalMetrics(prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	tagged := h.WithTags(map[string]string{"namespace": "default", "task_queue": "calls"})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			tagged.Counter("temporal_request").Inc(1)
		}
	})
}

func BenchmarkTemporalWithTagsCounterInc(b *testing.B) {
	h, err := telemetry.NewTemporalMetrics(prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	tags := map[string]string{"namespace": "default", "task_queue": "calls"}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			h.WithTags(tags).Counter("temporal_request").Inc(1)
		}
	})
}
