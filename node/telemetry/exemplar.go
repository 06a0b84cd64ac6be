package telemetry

import (
	"context"
	"sort"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"
)

// Exemplar label names, as Prometheus and Grafana expect them.
const (
	exemplarTraceIDLabel = "trace_id"
	exemplarSpanIDLabel  = "span_id"
)

// ExemplarInterval is how often each bucket of an ExemplarObserver takes a
// new exemplar. Prometheus scrapes every few seconds and sees only a bucket's
// latest exemplar, so a tenth of a second keeps what it sees fresh.
const ExemplarInterval = 100 * time.Millisecond

// observeWithExemplar observes v on o, with an exemplar pointing at the
// sampled span in ctx when there is one and o supports exemplars (histograms
// and summaries from client_golang do). Exemplars are only exposed in the
// OpenMetrics format: serve /metrics with promhttp.HandlerOpts{EnableOpenMetrics: true}.
// On a hot path, use an ExemplarObserver, which attaches far fewer.
func observeWithExemplar(ctx context.Context, o prometheus.Observer, v float64) {
	if eo, ok := o.(prometheus.ExemplarObserver); ok {
		if labels := exemplarLabels(ctx); labels != nil {
			eo.ObserveWithExemplar(v, labels)
			return
		}
	}
	o.Observe(v)
}

// An ExemplarObserver observes one histogram series and gives each of its
// buckets an exemplar at most once per ExemplarInterval.
//
// client_golang keeps one exemplar per bucket and replaces it on every
// observeWithExemplar, so at thousands of observations a second nearly all of
// them are overwritten before a scrape sees them. Each still costs about
// fourteen allocations (the labels, the ids in hex, client_golang's label
// checks and timestamp): a microsecond per POST /tx. Thinning them per bucket,
// rather than per series, keeps exemplars on the rare slow buckets, which are
// the ones worth following to a trace.
type ExemplarObserver struct {
	o      prometheus.Observer
	bounds []float64        // the buckets' upper bounds, ascending; +Inf is implied
	last   []atomic.Int64   // per bucket, +Inf last: when it last took an exemplar (unix ns)
	now    func() time.Time // time.Now, but for tests
}

// NewExemplarObserver wraps o, one series of a histogram whose buckets are
// buckets (as given in its HistogramOpts).
func NewExemplarObserver(o prometheus.Observer, buckets []float64) *ExemplarObserver {
	return &ExemplarObserver{o: o, bounds: buckets, last: make([]atomic.Int64, len(buckets)+1), now: time.Now}
}

// Observe observes v, with an exemplar pointing at the sampled span in ctx
// when there is one and v's bucket has not taken an exemplar in the last
// ExemplarInterval.
func (e *ExemplarObserver) Observe(ctx context.Context, v float64) {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() && sc.IsSampled() && e.claim(v) {
		observeWithExemplar(ctx, e.o, v)
		return
	}
	e.o.Observe(v)
}

// claim reports whether v's bucket may take an exemplar now, and if so
// starts its next interval. Of concurrent observers, one wins.
func (e *ExemplarObserver) claim(v float64) bool {
	// Prometheus buckets are upper-inclusive: v goes in the first bound >= v.
	b := &e.last[sort.SearchFloat64s(e.bounds, v)]
	now, prev := e.now().UnixNano(), b.Load()
	return now-prev >= int64(ExemplarInterval) && b.CompareAndSwap(prev, now)
}

// exemplarLabels names the span in ctx, or is nil when there is no sampled
// span to point at (an exemplar to a trace nobody exported helps no one).
func exemplarLabels(ctx context.Context) prometheus.Labels {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() || !sc.IsSampled() {
		return nil
	}
	return prometheus.Labels{
		exemplarTraceIDLabel: sc.TraceID().String(),
		exemplarSpanIDLabel:  sc.SpanID().String(),
	}
}
