// Package promtext reads the Prometheus text exposition that the collector
// and the node serve, for the process tests, the benches and loadgen.
package promtext

import (
	"fmt"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Families is a scrape: metric families by name.
type Families map[string]*dto.MetricFamily

// Parse reads a text exposition.
func Parse(text string) (Families, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		return nil, fmt.Errorf("parse the metrics: %w", err)
	}
	return families, nil
}

// Value is a sample's value: a counter's, a gauge's or an untyped one's,
// and a histogram's sample count. ok is false for a summary.
func Value(m *dto.Metric) (v float64, ok bool) {
	switch {
	case m.Counter != nil:
		return m.GetCounter().GetValue(), true
	case m.Gauge != nil:
		return m.GetGauge().GetValue(), true
	case m.Untyped != nil:
		return m.GetUntyped().GetValue(), true
	case m.Histogram != nil:
		return float64(m.GetHistogram().GetSampleCount()), true
	}
	return 0, false
}

// Sum adds the values of metric name over its label sets whose labels
// include every pair in labels (nil: all of them). found is false when the
// scrape has no such metric, which is normal before a component first
// records it.
func (f Families) Sum(name string, labels map[string]string) (sum float64, found bool) {
	fam, found := f[name]
	if !found {
		return 0, false
	}
	for _, m := range fam.GetMetric() {
		if !HasLabels(m, labels) {
			continue
		}
		if v, ok := Value(m); ok {
			sum += v
		}
	}
	return sum, true
}

// HasLabels reports whether m carries every pair of want.
func HasLabels(m *dto.Metric, want map[string]string) bool {
	for k, v := range want {
		found := false
		for _, l := range m.GetLabel() {
			if l.GetName() == k {
				found = l.GetValue() == v
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
