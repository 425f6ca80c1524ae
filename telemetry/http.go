package telemetry

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// HTTPMetrics records request counts and latencies for the API.
type HTTPMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewHTTPMetrics registers the switchboard_http_* metrics in reg.
//
// Registering twice on the same registry reuses the existing collectors
// instead of failing, so tests and multiple servers in one process can share a
// registry. Any other registration error is a programming mistake and panics,
// as prometheus.MustRegister would.
func NewHTTPMetrics(reg prometheus.Registerer) *HTTPMetrics {
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "switchboard_http_requests_total",
		Help: "HTTP requests handled by the switchboard API, by method, route template and status code.",
	}, []string{"method", "route", "status"})
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "switchboard_http_request_duration_seconds",
		Help:    "Time spent handling HTTP requests in the switchboard API, by method and route template.",
		Buckets: latencyBuckets,
	}, []string{"method", "route"})
	return &HTTPMetrics{
		requests: registerOrReuse(reg, requests),
		duration: registerOrReuse(reg, duration),
	}
}

// Observe records one finished request; route must be the route template (e.g. "/calls/:id"), never the raw path.
func (m *HTTPMetrics) Observe(method, route string, status int, d time.Duration) {
	method = normalizeMethod(method)
	if route == "" {
		// Echo reports an empty path for requests that matched no route;
		// give them a visible name rather than an absent label.
		route = "unmatched"
	}
	m.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(method, route).Observe(d.Seconds())
}

// normalizeMethod folds non-standard methods into one value because the
// method comes straight from the client, and every distinct string would
// otherwise become a new time series.
func normalizeMethod(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
		http.MethodPatch, http.MethodDelete, http.MethodConnect,
		http.MethodOptions, http.MethodTrace:
		return method
	}
	return "OTHER"
}

func registerOrReuse[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	err := reg.Register(c)
	if err == nil {
		return c
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing
		}
	}
	panic(err)
}
