package otlpexport

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// scriptedExporter records the size of each export; while gate is set an
// export waits for it, and fail makes exports fail.
type scriptedExporter struct {
	mu       sync.Mutex
	batches  []int
	fail     atomic.Bool
	rejected atomic.Int64 // > 0: a partial success rejecting this many
	gate     chan struct{}
	shutdown atomic.Bool
}

func (e *scriptedExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	if e.gate != nil {
		select {
		case <-e.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if e.fail.Load() {
		return errors.New("collector said no")
	}
	if r := e.rejected.Load(); r > 0 {
		return fmt.Errorf("traces export: %w", lostSpansError{lost: r, err: partialSuccessError{rejected: r, message: "too old"}})
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.batches = append(e.batches, len(spans))
	return nil
}

func (e *scriptedExporter) Shutdown(context.Context) error { e.shutdown.Store(true); return nil }

func (e *scriptedExporter) exported() []int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]int(nil), e.batches...)
}

// batcherUnderTest is a tracer whose spans go through a SpanBatcher.
type batcherUnderTest struct {
	sb     *SpanBatcher
	m      Counters
	slots  *Slots
	tracer func(n int)
	tp     *sdktrace.TracerProvider
}

func newBatcherUnderTest(t *testing.T, exp sdktrace.SpanExporter, b BatchSettings, sampler sdktrace.Sampler) *batcherUnderTest {
	t.Helper()
	return newBatcherWithTimer(t, exp, b, sampler, realTimer{time.NewTimer(b.BatchTimeout)})
}

func newBatcherWithTimer(t *testing.T, exp sdktrace.SpanExporter, b BatchSettings, sampler sdktrace.Sampler, tm timer) *batcherUnderTest {
	t.Helper()
	s := &Slots{Limit: int64(b.QueueSize)}
	m := newCounters()
	sb := newSpanBatcher(exp, b, s, m, tm)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sampler), sdktrace.WithSpanProcessor(sb))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		_ = tp.Shutdown(ctx)
	})
	tracer := tp.Tracer("test")
	return &batcherUnderTest{sb: sb, m: m, slots: s, tp: tp, tracer: func(n int) {
		for range n {
			_, span := tracer.Start(context.Background(), "block.apply")
			span.End()
		}
	}}
}

// newCounters makes counters that belong to no registry.
func newCounters() Counters {
	return Counters{
		DroppedFull:     prometheus.NewCounter(prometheus.CounterOpts{Name: "dropped_full"}),
		DroppedExport:   prometheus.NewCounter(prometheus.CounterOpts{Name: "dropped_export"}),
		DroppedShutdown: prometheus.NewCounter(prometheus.CounterOpts{Name: "dropped_shutdown"}),
		Exported:        prometheus.NewCounter(prometheus.CounterOpts{Name: "exported"}),
		Failures:        prometheus.NewCounter(prometheus.CounterOpts{Name: "failures"}),
	}
}

// count reads a counter.
func count(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	require.NoError(t, c.Write(&m))
	return m.GetCounter().GetValue()
}

// waitFor bounds every wait in this package's tests.
const waitFor = 10 * time.Second

func TestSpanBatcherExportsFullBatchesWithoutWaitingForTheTimer(t *testing.T) {
	exp := &scriptedExporter{}
	bt := newBatcherUnderTest(t, exp, BatchSettings{QueueSize: 100, BatchSize: 10, BatchTimeout: time.Hour, ExportTimeout: time.Minute}, sdktrace.AlwaysSample())

	bt.tracer(35)
	require.Eventually(t, func() bool { return len(exp.exported()) == 3 }, waitFor, time.Millisecond)
	require.Equal(t, []int{10, 10, 10}, exp.exported(), "only full batches go before the timer")
	require.EqualValues(t, 5, bt.slots.held.Load(), "the partial batch waits")

	// ForceFlush sends the partial batch.
	require.NoError(t, bt.sb.ForceFlush(context.Background()))
	require.Equal(t, []int{10, 10, 10, 5}, exp.exported())
	require.EqualValues(t, 0, bt.slots.held.Load())
	require.Equal(t, 35.0, count(t, bt.m.Exported))
}

func TestSpanBatcherExportsAPartialBatchWhenTheTimerFires(t *testing.T) {
	exp := &scriptedExporter{}
	bt := newBatcherUnderTest(t, exp, BatchSettings{QueueSize: 100, BatchSize: 10, BatchTimeout: 20 * time.Millisecond, ExportTimeout: time.Minute}, sdktrace.AlwaysSample())

	bt.tracer(3)
	require.Eventually(t, func() bool { return len(exp.exported()) == 1 }, waitFor, time.Millisecond)
	require.Equal(t, []int{3}, exp.exported())
}

func TestSpanBatcherDropsWhatItCannotHoldAndCountsEverySpanOnce(t *testing.T) {
	exp := &scriptedExporter{gate: make(chan struct{})}
	bt := newBatcherUnderTest(t, exp, BatchSettings{QueueSize: 8, BatchSize: 4, BatchTimeout: time.Hour, ExportTimeout: time.Minute}, sdktrace.AlwaysSample())

	// The exporter is stuck: ending spans never waits, and past the queue
	// size they are dropped and counted.
	bt.tracer(50)
	require.Equal(t, 42.0, count(t, bt.m.DroppedFull))
	require.EqualValues(t, 8, bt.slots.held.Load())

	close(exp.gate)
	require.NoError(t, bt.sb.ForceFlush(context.Background()))
	require.Equal(t, 8.0, count(t, bt.m.Exported))
	require.EqualValues(t, 0, bt.slots.held.Load())
}

func TestSpanBatcherFlushReportsAndCountsAFailedExport(t *testing.T) {
	exp := &scriptedExporter{}
	exp.fail.Store(true)
	bt := newBatcherUnderTest(t, exp, BatchSettings{QueueSize: 100, BatchSize: 10, BatchTimeout: time.Hour, ExportTimeout: time.Minute}, sdktrace.AlwaysSample())

	bt.tracer(12)
	require.ErrorContains(t, bt.sb.ForceFlush(context.Background()), "collector said no")
	require.Equal(t, 12.0, count(t, bt.m.DroppedExport))
	require.Equal(t, 0.0, count(t, bt.m.Exported))
	require.EqualValues(t, 0, bt.slots.held.Load())
}

func TestSpanBatcherCountsOnlyTheRejectedSpansOfAPartialSuccess(t *testing.T) {
	exp := &scriptedExporter{}
	exp.rejected.Store(3)
	bt := newBatcherUnderTest(t, exp, BatchSettings{QueueSize: 100, BatchSize: 20, BatchTimeout: time.Hour, ExportTimeout: time.Minute}, sdktrace.AlwaysSample())

	bt.tracer(10)
	require.ErrorContains(t, bt.sb.ForceFlush(context.Background()), "3 spans rejected")
	require.Equal(t, 3.0, count(t, bt.m.DroppedExport))
	require.Equal(t, 7.0, count(t, bt.m.Exported))
	require.Equal(t, 1.0, count(t, bt.m.Failures))
}

func TestSpanBatcherIgnoresUnsampledSpans(t *testing.T) {
	exp := &scriptedExporter{}
	bt := newBatcherUnderTest(t, exp, BatchSettings{QueueSize: 100, BatchSize: 10, BatchTimeout: time.Hour, ExportTimeout: time.Minute}, sdktrace.NeverSample())

	bt.tracer(20)
	require.NoError(t, bt.sb.ForceFlush(context.Background()))
	require.Empty(t, exp.exported())
	require.EqualValues(t, 0, bt.slots.held.Load())
}

func TestSpanBatcherShutdownExportsWhatIsLeftThenRefusesSpans(t *testing.T) {
	exp := &scriptedExporter{}
	bt := newBatcherUnderTest(t, exp, BatchSettings{QueueSize: 100, BatchSize: 10, BatchTimeout: time.Hour, ExportTimeout: time.Minute}, sdktrace.AlwaysSample())
	tracer := bt.tp.Tracer("test")
	_, late := tracer.Start(context.Background(), "block.apply") // ends after the shutdown

	bt.tracer(7)
	require.NoError(t, bt.sb.Shutdown(context.Background()))
	require.Equal(t, []int{7}, exp.exported())
	require.True(t, exp.shutdown.Load(), "the exporter is shut down too")

	late.End()
	require.EqualValues(t, 0, bt.slots.held.Load(), "a span ended after shutdown is not held")
	require.Equal(t, 1.0, count(t, bt.m.DroppedShutdown), "but counted")
	require.Equal(t, 7.0, count(t, bt.m.Exported))
	require.NoError(t, bt.sb.ForceFlush(context.Background()), "flushing a stopped processor has nothing to do")
	require.NoError(t, bt.sb.Shutdown(context.Background()), "a second shutdown returns the first one's result")
}

func TestSpanBatcherShutdownIsBoundedByItsContext(t *testing.T) {
	exp := &scriptedExporter{gate: make(chan struct{})} // never opened: the collector hangs
	bt := newBatcherUnderTest(t, exp, BatchSettings{QueueSize: 100, BatchSize: 10, BatchTimeout: time.Hour, ExportTimeout: time.Hour}, sdktrace.AlwaysSample())

	bt.tracer(3)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, bt.sb.Shutdown(ctx), context.DeadlineExceeded)
	require.True(t, exp.shutdown.Load(), "the exporter is shut down even when the last export did not return")
}
