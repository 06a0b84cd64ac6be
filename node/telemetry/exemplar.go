package telemetry

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"
)

// Exemplar label names, as Prometheus and Grafana expect them.
const (
	ExemplarTraceIDLabel = "trace_id"
	ExemplarSpanIDLabel  = "span_id"
)

// ObserveWithExemplar observes v on o, with an exemplar pointing at the
// sampled span in ctx when there is one and o supports exemplars (histograms
// and summaries from client_golang do). Exemplars are only exposed in the
// OpenMetrics format: serve /metrics with promhttp.HandlerOpts{EnableOpenMetrics: true}.
func ObserveWithExemplar(ctx context.Context, o prometheus.Observer, v float64) {
	if eo, ok := o.(prometheus.ExemplarObserver); ok {
		if labels := exemplarLabels(ctx); labels != nil {
			eo.ObserveWithExemplar(v, labels)
			return
		}
	}
	o.Observe(v)
}

// AddWithExemplar adds v to c, with an exemplar pointing at the sampled span
// in ctx when there is one.
func AddWithExemplar(ctx context.Context, c prometheus.Counter, v float64) {
	if ea, ok := c.(prometheus.ExemplarAdder); ok {
		if labels := exemplarLabels(ctx); labels != nil {
			ea.AddWithExemplar(v, labels)
			return
		}
	}
	c.Add(v)
}

// exemplarLabels names the span in ctx, or is nil when there is no sampled
// span to point at (an exemplar to a trace nobody exported helps no one).
func exemplarLabels(ctx context.Context) prometheus.Labels {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() || !sc.IsSampled() {
		return nil
	}
	return prometheus.Labels{
		ExemplarTraceIDLabel: sc.TraceID().String(),
		ExemplarSpanIDLabel:  sc.SpanID().String(),
	}
}
