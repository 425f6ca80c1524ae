package telemetry_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"switchboard/telemetry"
)

func TestHTTPMetricsObserve(t *testing.T) {
	reg := telemetry.NewRegistry()
	m := telemetry.NewHTTPMetrics(reg)

	observations := []struct {
		method, route string
		status        int
		d             time.Duration
	}{
		{"GET", "/calls/:id", 200, 2 * time.Millisecond},
		{"GET", "/calls/:id", 200, 30 * time.Millisecond},
		{"GET", "/calls/:id", 404, time.Millisecond},
		{"POST", "/calls", 201, 120 * time.Millisecond},
		{"BREW", "/calls", 405, time.Millisecond},
		{"GET", "", 404, time.Millisecond},
	}
	for _, o := range observations {
		m.Observe(o.method, o.route, o.status, o.d)
	}

	t.Run("requests_total", func(t *testing.T) {
		series := byLabels(t, family(t, reg, "switchboard_http_requests_total"))
		want := map[string]float64{
			"method=GET,route=/calls/:id,status=200": 2,
			"method=GET,route=/calls/:id,status=404": 1,
			"method=POST,route=/calls,status=201":    1,
			"method=OTHER,route=/calls,status=405":   1,
			"method=GET,route=unmatched,status=404":  1,
		}
		if len(series) != len(want) {
			t.Fatalf("got %d series, want %d", len(series), len(want))
		}
		for labels, v := range want {
			if got := series[labels].GetCounter().GetValue(); got != v {
				t.Errorf("{%s} = %v, want %v", labels, got, v)
			}
		}
	})
	t.Run("request_duration_seconds", func(t *testing.T) {
		series := byLabels(t, family(t, reg, "switchboard_http_request_duration_seconds"))
		tests := []struct {
			labels string
			count  uint64
			sum    float64
		}{
			{"method=GET,route=/calls/:id", 3, 0.033},
			{"method=POST,route=/calls", 1, 0.12},
		}
		for _, tt := range tests {
			h := series[tt.labels].GetHistogram()
			if h.GetSampleCount() != tt.count {
				t.Errorf("{%s} count = %d, want %d", tt.labels, h.GetSampleCount(), tt.count)
			}
			if diff := h.GetSampleSum() - tt.sum; diff > 1e-9 || diff < -1e-9 {
				t.Errorf("{%s} sum = %v, want %v", tt.labels, h.GetSampleSum(), tt.sum)
			}
		}
	})
}

func TestNewHTTPMetricsTwiceSharesCollectors(t *testing.T) {
	reg := telemetry.NewRegistry()
	a := telemetry.NewHTTPMetrics(reg)
	b := telemetry.NewHTTPMetrics(reg)
	a.Observe("GET", "/health", 200, time.Millisecond)
	b.Observe("GET", "/health", 200, time.Millisecond)
	series := byLabels(t, family(t, reg, "switchboard_http_requests_total"))
	if v := series["method=GET,route=/health,status=200"].GetCounter().GetValue(); v != 2 {
		t.Fatalf("value = %v, want 2", v)
	}
}

func TestHandlerServesMetrics(t *testing.T) {
	reg := telemetry.NewRegistry()
	telemetry.NewHTTPMetrics(reg).Observe("GET", "/calls", 200, time.Millisecond)
	h, err := telemetry.NewTemporalMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	h.WithTags(map[string]string{"namespace": "default"}).Counter("temporal_request").Inc(1)
	h.Counter("temporal_request").Inc(1)
	h.Timer("temporal_request_latency").Record(time.Millisecond)

	srv := httptest.NewServer(telemetry.Handler(reg))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, body:\n%s", resp.StatusCode, body)
	}
	text := string(body)
	for _, want := range []string{
		"switchboard_http_requests_total{",
		"switchboard_http_request_duration_seconds_bucket{",
		`temporal_request{namespace="default"} 1`,
		"# TYPE temporal_request counter",
		"# TYPE temporal_request_latency_seconds histogram",
		"go_goroutines ",
		"promhttp_metric_handler_errors_total{",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("response lacks %q", want)
		}
	}
	// Calling Handler again must reuse the error counter, not panic.
	_ = telemetry.Handler(reg)
}
