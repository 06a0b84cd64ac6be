package telemetry

import (
	"context"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/trace"
)

// sampledCtx carries a sampled span context whose trace id starts with b.
func sampledCtx(b byte) context.Context {
	return trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{b}, SpanID: trace.SpanID{b}, TraceFlags: trace.FlagsSampled,
	}))
}

// exemplarTraces gathers hist's single series and maps each bucket that has
// an exemplar (by upper bound) to the first byte of its trace id, in hex.
func exemplarTraces(t *testing.T, hist prometheus.Histogram) (map[float64]string, uint64) {
	t.Helper()
	var m dto.Metric
	require.NoError(t, hist.Write(&m))
	got := map[float64]string{}
	for _, b := range m.GetHistogram().GetBucket() {
		if ex := b.GetExemplar(); ex != nil {
			for _, l := range ex.GetLabel() {
				if l.GetName() == exemplarTraceIDLabel {
					got[b.GetUpperBound()] = l.GetValue()[:2]
				}
			}
		}
	}
	return got, m.GetHistogram().GetSampleCount()
}

func TestExemplarObserverThinsPerBucket(t *testing.T) {
	buckets := []float64{0.01, 0.1, 1}
	hist := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "latency_seconds", Help: "Latency.", Buckets: buckets})
	eo := NewExemplarObserver(hist, buckets)
	now := time.Unix(1000, 0)
	eo.now = func() time.Time { return now }

	eo.Observe(sampledCtx(1), 0.05)         // the 0.1 bucket's first exemplar
	eo.Observe(sampledCtx(2), 0.06)         // same bucket, same interval: no exemplar
	eo.Observe(sampledCtx(3), 0.5)          // another bucket has its own interval
	eo.Observe(context.Background(), 0.005) // no span: no exemplar, and the 0.01 bucket keeps its turn
	eo.Observe(sampledCtx(4), 0.01)         // upper-inclusive: the 0.01 bucket
	eo.Observe(sampledCtx(5), 7)            // +Inf
	got, count := exemplarTraces(t, hist)
	require.Equal(t, uint64(6), count, "every observation counts, with or without an exemplar")
	require.Equal(t, map[float64]string{0.01: "04", 0.1: "01", 1: "03", math.Inf(1): "05"}, got)

	now = now.Add(ExemplarInterval - 1)
	eo.Observe(sampledCtx(6), 0.05)
	got, _ = exemplarTraces(t, hist)
	require.Equal(t, "01", got[0.1], "one interval has not passed")

	now = now.Add(1)
	eo.Observe(sampledCtx(7), 0.05)
	got, _ = exemplarTraces(t, hist)
	require.Equal(t, "07", got[0.1], "a new interval takes a new exemplar")
}

func TestExemplarObserverOneWinnerPerInterval(t *testing.T) {
	buckets := []float64{1}
	hist := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "latency_seconds", Help: "Latency.", Buckets: buckets})
	eo := NewExemplarObserver(hist, buckets)
	now := time.Unix(1000, 0)
	eo.now = func() time.Time { return now }

	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		wins int
	)
	for i := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if eo.claim(0.5) {
				mu.Lock()
				wins++
				mu.Unlock()
			}
			eo.Observe(sampledCtx(byte(i)), 0.5)
		}()
	}
	wg.Wait()
	require.Equal(t, 1, wins, "of concurrent observers in one interval, exactly one takes the exemplar")
	_, count := exemplarTraces(t, hist)
	require.Equal(t, uint64(64), count)
}

// BenchmarkExemplars compares an exemplar on every observation with the
// thinned ExemplarObserver, both inside a sampled span.
func BenchmarkExemplars(b *testing.B) {
	buckets := prometheus.DefBuckets
	hist := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "latency_seconds", Help: "Latency.", Buckets: buckets})
	ctx := sampledCtx(1)
	b.Run("every", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			observeWithExemplar(ctx, hist, 0.01)
		}
	})
	b.Run("thinned", func(b *testing.B) {
		eo := NewExemplarObserver(hist, buckets)
		b.ReportAllocs()
		for b.Loop() {
			eo.Observe(ctx, 0.01)
		}
	})
}
