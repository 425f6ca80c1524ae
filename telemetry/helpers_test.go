package telemetry_test

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// gather returns the registry's families by name and fails the test on any
// gather error, since an inconsistent family is exactly what must not happen.
func gather(t *testing.T, g prometheus.Gatherer) map[string]*dto.MetricFamily {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	out := make(map[string]*dto.MetricFamily, len(mfs))
	for _, mf := range mfs {
		out[mf.GetName()] = mf
	}
	return out
}

func family(t *testing.T, g prometheus.Gatherer, name string) *dto.MetricFamily {
	t.Helper()
	mfs := gather(t, g)
	mf, ok := mfs[name]
	if !ok {
		t.Fatalf("family %q not gathered; have %v", name, slices.Sorted(maps.Keys(mfs)))
	}
	return mf
}

// labelString renders a metric's labels as "a=x,b=y" in name order,
// including empty values, so tests can also check the label union.
func labelString(m *dto.Metric) string {
	parts := make([]string, 0, len(m.GetLabel()))
	for _, lp := range m.GetLabel() {
		parts = append(parts, lp.GetName()+"="+lp.GetValue())
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

// byLabels indexes a family's metrics by labelString.
func byLabels(t *testing.T, mf *dto.MetricFamily) map[string]*dto.Metric {
	t.Helper()
	out := make(map[string]*dto.Metric, len(mf.GetMetric()))
	for _, m := range mf.GetMetric() {
		k := labelString(m)
		if _, dup := out[k]; dup {
			t.Fatalf("family %q has duplicate series %q", mf.GetName(), k)
		}
		out[k] = m
	}
	return out
}

func labelNames(m *dto.Metric) []string {
	names := make([]string, 0, len(m.GetLabel()))
	for _, lp := range m.GetLabel() {
		names = append(names, lp.GetName())
	}
	slices.Sort(names)
	return names
}
