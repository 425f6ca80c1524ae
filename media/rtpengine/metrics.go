package rtpengine

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// latenessBounds are the exported lateness histogram's buckets.
var latenessBounds = []time.Duration{
	500 * time.Microsecond, time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond,
	10 * time.Millisecond, 20 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond,
}

// Collector exports the engine's metrics to Prometheus: open legs, packets sent and
// their lateness against their 20 ms due times, packets more than 10 ms late, and
// scheduler turns dropped because the process was starved.
func (e *Engine) Collector() prometheus.Collector { return &collector{e: e} }

type collector struct{ e *Engine }

var (
	descLegs     = prometheus.NewDesc("switchboard_rtp_legs", "Open RTP call legs.", nil, nil)
	descSent     = prometheus.NewDesc("switchboard_rtp_packets_sent_total", "RTP packets sent.", nil, nil)
	descLate     = prometheus.NewDesc("switchboard_rtp_packets_late_total", "RTP packets sent more than 10 ms after their due time.", nil, nil)
	descSkipped  = prometheus.NewDesc("switchboard_rtp_scheduler_skipped_turns_total", "Scheduler slot turns dropped because the process fell more than 100 ms behind.", nil, nil)
	descLateness = prometheus.NewDesc("switchboard_rtp_send_lateness_seconds", "How late RTP packets were sent against their due time.", nil, nil)
)

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descLegs, descSent, descLate, descSkipped, descLateness} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	le, total, late, sum := c.e.sched.hist.cumulative(latenessBounds)
	buckets := make(map[float64]uint64, len(le))
	for i, b := range latenessBounds {
		buckets[b.Seconds()] = le[i]
	}
	ch <- prometheus.MustNewConstMetric(descLegs, prometheus.GaugeValue, float64(c.e.Legs()))
	ch <- prometheus.MustNewConstMetric(descSent, prometheus.CounterValue, float64(total))
	ch <- prometheus.MustNewConstMetric(descLate, prometheus.CounterValue, float64(late))
	ch <- prometheus.MustNewConstMetric(descSkipped, prometheus.CounterValue, float64(c.e.SkippedTurns()))
	ch <- prometheus.MustNewConstHistogram(descLateness, total, sum.Seconds(), buckets)
}
