package telemetry

import (
	"encoding/binary"
	"errors"
	"maps"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/client"
)

// NewTemporalMetrics returns a Temporal SDK metrics handler whose metrics are exported through reg.
//
// Counters keep their sanitized name, gauges likewise, and timers become
// histograms in seconds with a "_seconds" suffix. Series are never removed:
// the SDK's tag values (namespace, task queue, workflow and activity types)
// form a bounded set, and dropping a counter would look like a reset.
func NewTemporalMetrics(reg prometheus.Registerer) (client.MetricsHandler, error) {
	if reg == nil {
		return nil, errors.New("telemetry: NewTemporalMetrics needs a non-nil Registerer")
	}
	c := newTemporalCollector()
	if err := reg.Register(c); err != nil {
		return nil, err
	}
	return c.root, nil
}

type metricKind uint8

const (
	kindCounter metricKind = iota
	kindGauge
	kindTimer
)

func (k metricKind) String() string {
	switch k {
	case kindCounter:
		return "counter"
	case kindGauge:
		return "gauge"
	default:
		return "timer"
	}
}

type labelPair struct {
	name, value string
}

// temporalCollector is one collector for every metric the SDK emits. A
// CounterVec per name would not work: the SDK emits the same name with
// different tag sets, while a Prometheus family needs one label set per
// scrape. Keeping all series here lets Collect pad each family to the union
// of the label names seen so far.
type temporalCollector struct {
	root *scope

	mu       sync.RWMutex
	families map[string]*family // keyed by exposed (sanitized, suffixed) name
	scopes   map[string]*scope  // keyed by labelKey of the scope's labels
}

type family struct {
	kind metricKind
	// desc and labelNames are replaced, never mutated, when a series brings a
	// new label name, so Collect may use them after releasing the lock.
	desc       *prometheus.Desc
	name, help string
	labelNames []string
	// Keyed by scope pointer: scopes are interned per label set, so pointer
	// identity is label-set identity and lookups need no key string.
	series map[*scope]instrument
}

type instrument interface {
	labelPairs() []labelPair
	metric(desc *prometheus.Desc, labelValues []string) (prometheus.Metric, error)
}

func newTemporalCollector() *temporalCollector {
	c := &temporalCollector{
		families: make(map[string]*family),
		scopes:   make(map[string]*scope),
	}
	c.root = &scope{c: c}
	c.scopes[""] = c.root
	return c
}

// Describe sends nothing, which makes this an unchecked collector. The
// families and their label sets are only known once the SDK emits metrics,
// and the label union of a family can grow later, so any description given
// at registration time would be wrong. The cost is that name clashes with
// other collectors surface at Gather instead of at Register.
func (c *temporalCollector) Describe(chan<- *prometheus.Desc) {}

// Collect emits every series with its family's label union, padding labels a
// series lacks with "" (which Prometheus treats as an absent label).
func (c *temporalCollector) Collect(ch chan<- prometheus.Metric) {
	type snapshot struct {
		desc       *prometheus.Desc
		labelNames []string
		series     []instrument
	}
	// Snapshot under the read lock and build metrics afterwards, so a slow
	// scrape never holds up the SDK creating new series.
	c.mu.RLock()
	snaps := make([]snapshot, 0, len(c.families))
	for _, f := range c.families {
		snaps = append(snaps, snapshot{
			desc:       f.desc,
			labelNames: f.labelNames,
			series:     slices.Collect(maps.Values(f.series)),
		})
	}
	c.mu.RUnlock()

	var values []string
	for _, s := range snaps {
		for _, in := range s.series {
			values = alignLabels(values[:0], s.labelNames, in.labelPairs())
			m, err := in.metric(s.desc, values)
			if err != nil {
				m = prometheus.NewInvalidMetric(s.desc, err)
			}
			ch <- m
		}
	}
}

// alignLabels writes the value of each name in names (sorted) from pairs
// (sorted by name, a subset of names) into dst, using "" for missing ones.
func alignLabels(dst, names []string, pairs []labelPair) []string {
	j := 0
	for _, n := range names {
		if j < len(pairs) && pairs[j].name == n {
			dst = append(dst, pairs[j].value)
			j++
		} else {
			dst = append(dst, "")
		}
	}
	return dst
}

// instrument returns the series for (kind, rawName) in scope s, creating it
// if needed. It returns nil when the name cannot be exported without breaking
// the whole family; callers then hand out a no-op.
func (c *temporalCollector) instrument(kind metricKind, rawName string, s *scope) instrument {
	name := exposedName(kind, rawName)

	c.mu.Lock()
	defer c.mu.Unlock()
	f := c.families[name]
	if f == nil {
		if c.collides(kind, name) {
			return nil
		}
		f = &family{
			kind:   kind,
			name:   name,
			help:   "Temporal SDK " + kind.String() + " " + strings.ToValidUTF8(rawName, "\uFFFD") + ".",
			series: make(map[*scope]instrument),
		}
		f.desc = prometheus.NewDesc(f.name, f.help, nil, nil)
		c.families[name] = f
	} else if f.kind != kind {
		// The same exposed name as two types would make Gather reject the
		// family; keeping the first one keeps at least that one correct.
		return nil
	}
	if in := f.series[s]; in != nil {
		return in
	}
	var in instrument
	switch kind {
	case kindCounter:
		in = &counterSeries{labels: s.labels}
	case kindGauge:
		in = &gaugeSeries{labels: s.labels}
	default:
		in = &timerSeries{labels: s.labels, buckets: make([]uint64, len(latencyBuckets))}
	}
	f.series[s] = in
	f.addLabelNames(s.labels)
	return in
}

// histogramSuffixes are the names a histogram occupies in the exposition
// format besides its own.
var histogramSuffixes = [...]string{"_bucket", "_sum", "_count"}

// collides reports whether a new family would clash with an existing one
// through histogram suffixes, which the registry rejects at Gather time.
func (c *temporalCollector) collides(kind metricKind, name string) bool {
	for _, suffix := range histogramSuffixes {
		if kind == kindTimer {
			if _, ok := c.families[name+suffix]; ok {
				return true
			}
		}
		if base, ok := strings.CutSuffix(name, suffix); ok {
			if f := c.families[base]; f != nil && f.kind == kindTimer {
				return true
			}
		}
	}
	return false
}

func (f *family) addLabelNames(pairs []labelPair) {
	added := false
	names := f.labelNames
	for _, p := range pairs {
		if _, found := slices.BinarySearch(names, p.name); !found {
			if !added {
				names = slices.Clone(names)
				added = true
			}
			names = append(names, p.name)
			slices.Sort(names)
		}
	}
	if added {
		f.labelNames = names
		f.desc = prometheus.NewDesc(f.name, f.help, names, nil)
	}
}

func exposedName(kind metricKind, rawName string) string {
	name := sanitizeMetricName(rawName)
	if kind == kindTimer && !strings.HasSuffix(name, "_seconds") {
		name += "_seconds"
	}
	return name
}

// scope is the handler for one label set. Scopes are interned per collector,
// so the SDK's habit of calling WithTags and then Counter(name) on every
// event reuses one cache instead of rebuilding series keys each time.
type scope struct {
	c      *temporalCollector
	labels []labelPair // sanitized, sorted by name, no empty values

	counters cowMap[client.MetricsCounter]
	gauges   cowMap[client.MetricsGauge]
	timers   cowMap[client.MetricsTimer]
	children cowMap[*scope] // keyed by appendTagsKey of the raw WithTags argument
}

// WithTags returns the scope for this scope's labels merged with tags.
//
// The SDK calls WithTags for every RPC and task, so the result is cached per
// distinct tags map: a repeat call sorts the keys and does one map lookup,
// all in stack memory, instead of re-sanitizing and re-interning.
func (s *scope) WithTags(tags map[string]string) client.MetricsHandler {
	if len(tags) == 0 {
		return s
	}
	var keysBuf [8]string
	keys := keysBuf[:0]
	for k := range tags {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var keyBuf [256]byte
	key := appendTagsKey(keyBuf[:0], keys, tags)
	if child, ok := s.children.loadBytes(key); ok {
		return child
	}
	return s.children.get(string(key), func() *scope { return s.derive(tags) })
}

// appendTagsKey length-prefixes every key and value because raw tags may
// contain any byte, so no separator could keep distinct maps apart.
func appendTagsKey(dst []byte, sortedKeys []string, tags map[string]string) []byte {
	for _, k := range sortedKeys {
		v := tags[k]
		dst = binary.AppendUvarint(dst, uint64(len(k)))
		dst = append(dst, k...)
		dst = binary.AppendUvarint(dst, uint64(len(v)))
		dst = append(dst, v...)
	}
	return dst
}

// derive merges tags over the scope's labels. An empty value removes the
// label, because Prometheus treats an empty label as absent and two series
// that differ only by it would collide in the exposition.
func (s *scope) derive(tags map[string]string) *scope {
	merged := make(map[string]string, len(s.labels)+len(tags))
	for _, p := range s.labels {
		merged[p.name] = p.value
	}
	// Sorted so that keys that sanitize to the same label name resolve the
	// same way every time rather than by map iteration order.
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		name := sanitizeLabelName(k)
		value := strings.ToValidUTF8(tags[k], "\uFFFD")
		if value == "" {
			delete(merged, name)
		} else {
			merged[name] = value
		}
	}
	return s.c.scopeFor(merged)
}

func (c *temporalCollector) scopeFor(labels map[string]string) *scope {
	pairs := make([]labelPair, 0, len(labels))
	for _, name := range slices.Sorted(maps.Keys(labels)) {
		pairs = append(pairs, labelPair{name: name, value: labels[name]})
	}
	key := labelKey(pairs)

	c.mu.RLock()
	s := c.scopes[key]
	c.mu.RUnlock()
	if s != nil {
		return s
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if s := c.scopes[key]; s != nil {
		return s
	}
	s = &scope{c: c, labels: pairs}
	c.scopes[key] = s
	return s
}

// labelKey joins pairs with 0xff, a byte that never occurs in sanitized
// label names or in valid UTF-8 values, so distinct label sets never share
// a key.
func labelKey(pairs []labelPair) string {
	var b strings.Builder
	for _, p := range pairs {
		b.WriteString(p.name)
		b.WriteByte(0xff)
		b.WriteString(p.value)
		b.WriteByte(0xff)
	}
	return b.String()
}

// Counter returns the counter for name in this scope.
func (s *scope) Counter(name string) client.MetricsCounter {
	return s.counters.get(name, func() client.MetricsCounter {
		if in, ok := s.c.instrument(kindCounter, name, s).(*counterSeries); ok {
			return in
		}
		return nopMetric{}
	})
}

// Gauge returns the gauge for name in this scope.
func (s *scope) Gauge(name string) client.MetricsGauge {
	return s.gauges.get(name, func() client.MetricsGauge {
		if in, ok := s.c.instrument(kindGauge, name, s).(*gaugeSeries); ok {
			return in
		}
		return nopMetric{}
	})
}

// Timer returns the timer for name in this scope.
func (s *scope) Timer(name string) client.MetricsTimer {
	return s.timers.get(name, func() client.MetricsTimer {
		if in, ok := s.c.instrument(kindTimer, name, s).(*timerSeries); ok {
			return in
		}
		return nopMetric{}
	})
}

// cowMap is a copy-on-write map: reads are a lock-free atomic load plus a map
// lookup, which matters because the SDK looks metrics up by name on every
// event. Writes copy the map, which is fine since a scope sees only a few
// dozen names.
type cowMap[V any] struct {
	mu sync.Mutex
	m  atomic.Pointer[map[string]V]
}

func (c *cowMap[V]) load(key string) (V, bool) {
	if m := c.m.Load(); m != nil {
		v, ok := (*m)[key]
		return v, ok
	}
	var zero V
	return zero, false
}

// loadBytes exists so callers can look up a key built in a stack buffer; the
// compiler does not allocate for a string(b) conversion used as a map index.
func (c *cowMap[V]) loadBytes(key []byte) (V, bool) {
	if m := c.m.Load(); m != nil {
		v, ok := (*m)[string(key)]
		return v, ok
	}
	var zero V
	return zero, false
}

func (c *cowMap[V]) get(key string, create func() V) V {
	if v, ok := c.load(key); ok {
		return v
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.load(key); ok {
		return v
	}
	v := create()
	next := make(map[string]V)
	if old := c.m.Load(); old != nil {
		maps.Copy(next, *old)
	}
	next[key] = v
	c.m.Store(&next)
	return v
}

type counterSeries struct {
	labels []labelPair
	value  atomic.Uint64
}

// Inc ignores non-positive deltas: a Prometheus counter must never go down,
// and a decrease would be read by rate() as a counter reset.
func (c *counterSeries) Inc(delta int64) {
	if delta > 0 {
		c.value.Add(uint64(delta))
	}
}

func (c *counterSeries) labelPairs() []labelPair { return c.labels }

func (c *counterSeries) metric(desc *prometheus.Desc, labelValues []string) (prometheus.Metric, error) {
	return prometheus.NewConstMetric(desc, prometheus.CounterValue, float64(c.value.Load()), labelValues...)
}

type gaugeSeries struct {
	labels []labelPair
	bits   atomic.Uint64 // math.Float64bits of the current value
}

// Update sets the gauge to v.
func (g *gaugeSeries) Update(v float64) { g.bits.Store(math.Float64bits(v)) }

func (g *gaugeSeries) labelPairs() []labelPair { return g.labels }

func (g *gaugeSeries) metric(desc *prometheus.Desc, labelValues []string) (prometheus.Metric, error) {
	return prometheus.NewConstMetric(desc, prometheus.GaugeValue, math.Float64frombits(g.bits.Load()), labelValues...)
}

// timerSeries uses a mutex rather than per-field atomics so a scrape always
// sees count, sum and buckets from the same set of observations; with
// independent atomics a scrape could report a bucket above the total count.
type timerSeries struct {
	labels []labelPair

	mu      sync.Mutex
	buckets []uint64 // per bucket, not cumulative; +Inf is count minus their sum
	count   uint64
	sum     float64
}

// Record observes d, clamping negative durations to zero: they come from
// clock skew between hosts, and a negative observation would make _sum
// decrease, which rate() misreads as a reset.
func (t *timerSeries) Record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	secs := d.Seconds()
	i := sort.SearchFloat64s(latencyBuckets, secs) // first bound >= secs, matching "le"
	t.mu.Lock()
	if i < len(t.buckets) {
		t.buckets[i]++
	}
	t.count++
	t.sum += secs
	t.mu.Unlock()
}

func (t *timerSeries) labelPairs() []labelPair { return t.labels }

func (t *timerSeries) metric(desc *prometheus.Desc, labelValues []string) (prometheus.Metric, error) {
	cumulative := make(map[float64]uint64, len(latencyBuckets))
	t.mu.Lock()
	count, sum := t.count, t.sum
	var running uint64
	for i, n := range t.buckets {
		running += n
		cumulative[latencyBuckets[i]] = running
	}
	t.mu.Unlock()
	return prometheus.NewConstHistogram(desc, count, sum, cumulative, labelValues...)
}

// nopMetric stands in for metrics that cannot be exported (see
// temporalCollector.instrument), so the SDK never has to handle an error.
type nopMetric struct{}

func (nopMetric) Inc(int64)            {}
func (nopMetric) Update(float64)       {}
func (nopMetric) Record(time.Duration) {}

// sanitizeMetricName maps name onto [a-zA-Z_:][a-zA-Z0-9_:]*.
func sanitizeMetricName(name string) string {
	return sanitize(name, true)
}

// sanitizeLabelName maps name onto [a-zA-Z_][a-zA-Z0-9_]* and avoids the
// names Prometheus reserves: "__" prefixes are internal, and "le" is the
// bucket label of histograms. "le" is renamed for every kind so that one tag
// keeps one label name across all families.
func sanitizeLabelName(name string) string {
	name = sanitize(name, false)
	for strings.HasPrefix(name, "__") {
		name = name[1:]
	}
	if name == "le" {
		name = "tag_le"
	}
	return name
}

func sanitize(name string, allowColon bool) string {
	valid := func(i int, r rune) bool {
		return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '_' ||
			allowColon && r == ':' || i > 0 && r >= '0' && r <= '9'
	}
	clean := name != ""
	for i, r := range name {
		if !valid(i, r) {
			clean = false
			break
		}
	}
	if clean {
		return name // common case: SDK names are already valid, avoid allocating
	}
	if name == "" {
		return "_"
	}
	var b strings.Builder
	b.Grow(len(name) + 1)
	for i, r := range name {
		switch {
		case valid(i, r):
			b.WriteRune(r)
		case i == 0 && r >= '0' && r <= '9':
			b.WriteByte('_')
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}
