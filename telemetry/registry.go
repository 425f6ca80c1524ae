// Package telemetry wires switchboard's metrics into Prometheus: the process
// and Go runtime collectors, a Temporal SDK metrics handler, and HTTP request
// metrics for the API.
package telemetry

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// latencyBuckets are upper bounds in seconds shared by Temporal timers and
// HTTP request durations, so dashboards can put both on one heatmap. They
// reach 60s because Temporal long polls and schedule-to-start latencies
// routinely take tens of seconds.
var latencyBuckets = []float64{
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
	1, 2.5, 5, 10, 30, 60,
}

// NewRegistry returns a registry pre-populated with the Go runtime and process collectors.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}

// Handler serves reg in the Prometheus exposition format and counts its own failures in reg.
//
// ContinueOnError is deliberate: one inconsistent family (for example a
// Temporal metric colliding with another collector's name) should not blank
// out every other metric for the scrape. Such failures stay visible through
// promhttp_metric_handler_errors_total, which is registered in reg.
func Handler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		Registry:      reg,
		ErrorHandling: promhttp.ContinueOnError,
	})
}
