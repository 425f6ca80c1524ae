package rtpengine

import (
	"sync"
	"sync/atomic"
	"time"
)

// histogram counts durations in buckets of histWidth up to histBuckets×histWidth, the
// rest in an overflow bucket. Adding is one atomic increment, so every sent packet's
// lateness is counted. The counts only grow (the metrics export them); a reset moves
// the base that snapshots are taken from.
type histogram struct {
	buckets [histBuckets + 1]atomic.Uint64
	late    atomic.Uint64 // above LateThreshold
	max     atomic.Int64  // since the last reset

	mu       sync.Mutex
	base     [histBuckets + 1]uint64
	baseLate uint64
}

const (
	histWidth   = 50 * time.Microsecond
	histBuckets = 2000 // 100 ms
)

// LateThreshold is the lateness above which a packet counts as late in Lateness.
const LateThreshold = 10 * time.Millisecond

func (h *histogram) add(d time.Duration) {
	if d < 0 {
		d = 0
	}
	i := min(int(d/histWidth), histBuckets)
	h.buckets[i].Add(1)
	if d > LateThreshold {
		h.late.Add(1)
	}
	for {
		m := h.max.Load()
		if int64(d) <= m || h.max.CompareAndSwap(m, int64(d)) {
			return
		}
	}
}

// Lateness summarises how late packets were sent against their due time.
type Lateness struct {
	Packets uint64
	P50     time.Duration
	P99     time.Duration
	P999    time.Duration
	Max     time.Duration
	// Late is the number of packets sent more than LateThreshold after their time.
	Late uint64
}

// LateShare is the share of packets that were late, 0–1.
func (l Lateness) LateShare() float64 {
	if l.Packets == 0 {
		return 0
	}
	return float64(l.Late) / float64(l.Packets)
}

// snapshot reads the histogram since its last reset; quantiles are the upper edge
// of their bucket.
func (h *histogram) snapshot() Lateness {
	h.mu.Lock()
	defer h.mu.Unlock()
	var counts [histBuckets + 1]uint64
	var l Lateness
	for i := range counts {
		counts[i] = h.buckets[i].Load() - h.base[i]
		l.Packets += counts[i]
	}
	l.Late = h.late.Load() - h.baseLate
	l.Max = time.Duration(h.max.Load())
	q := func(f float64) time.Duration {
		want := uint64(f * float64(l.Packets))
		var seen uint64
		for i, c := range counts {
			seen += c
			if seen > want {
				return min(time.Duration(i+1)*histWidth, l.Max)
			}
		}
		return l.Max
	}
	if l.Packets > 0 {
		l.P50, l.P99, l.P999 = q(0.50), q(0.99), q(0.999)
	}
	return l
}

func (h *histogram) reset() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := range h.buckets {
		h.base[i] = h.buckets[i].Load()
	}
	h.baseLate = h.late.Load()
	h.max.Store(0)
}

// cumulative returns, for each bound, the packets at most that late since the engine
// started, with the total, the late ones and an estimate of the lateness sum.
func (h *histogram) cumulative(bounds []time.Duration) (le []uint64, total, late uint64, sum time.Duration) {
	le = make([]uint64, len(bounds))
	for i := range h.buckets {
		c := h.buckets[i].Load()
		total += c
		upper := time.Duration(i+1) * histWidth
		sum += time.Duration(c) * (upper - histWidth/2)
		for j, b := range bounds {
			if i < histBuckets && upper <= b {
				le[j] += c
			}
		}
	}
	return le, total, h.late.Load(), sum
}
