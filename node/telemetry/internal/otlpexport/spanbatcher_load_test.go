package otlpexport

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// fakeTimer is a test double of the batch timer: it ticks when the test
// says so.
type fakeTimer struct{ c chan time.Time }

var _ timer = (*fakeTimer)(nil)

func (f *fakeTimer) C() <-chan time.Time { return f.c }
func (f *fakeTimer) Reset(time.Duration) {}
func (f *fakeTimer) Stop()               {}

// tick delivers one tick to the export loop.
func (f *fakeTimer) tick(t *testing.T) {
	t.Helper()
	select {
	case f.c <- time.Time{}:
	case <-time.After(waitFor):
		t.Fatal("the export loop did not take the tick (stuck in an export?)")
	}
}

// slowExporter is a collector whose round trip lasts until the test
// releases it: each export announces its size on started, then waits.
type slowExporter struct {
	started chan int
	release chan struct{}
}

func (e *slowExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	e.started <- len(spans)
	select {
	case <-e.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (e *slowExporter) Shutdown(context.Context) error { return nil }

// next waits for the next export to start and returns its size.
func (e *slowExporter) next(t *testing.T) int {
	t.Helper()
	select {
	case n := <-e.started:
		return n
	case <-time.After(waitFor):
		t.Fatal("no export started")
		return 0
	}
}

// finish ends the export in flight.
func (e *slowExporter) finish(t *testing.T) {
	t.Helper()
	select {
	case e.release <- struct{}{}:
	case <-time.After(waitFor):
		t.Fatal("no export in flight")
	}
}

// A steady producer (4 spans a step) and a collector that answers only when
// told: a tick sends one batch, and what arrives during its round trip waits
// for a full batch or the next tick instead of going at once in an export
// of its own.
func TestSpanBatcherSteadyLoadSendsOneBatchPerTickAndFullBatches(t *testing.T) {
	exp := &slowExporter{started: make(chan int, 16), release: make(chan struct{})}
	clock := &fakeTimer{c: make(chan time.Time)}
	bt := newBatcherWithTimer(t, exp, BatchSettings{QueueSize: 1000, BatchSize: 10, BatchTimeout: time.Hour, ExportTimeout: time.Minute}, sdktrace.AlwaysSample(), clock)
	const step = 4
	var sizes []int

	bt.tracer(step)
	clock.tick(t)
	sizes = append(sizes, exp.next(t)) // the tick's batch: 4
	bt.tracer(step)                    // during its round trip
	exp.finish(t)

	bt.tracer(step) // 8 buffered
	bt.tracer(step) // 12: a full batch goes without a tick
	sizes = append(sizes, exp.next(t))
	bt.tracer(step) // 6 during its round trip
	exp.finish(t)

	bt.tracer(step) // 10: full
	sizes = append(sizes, exp.next(t))
	bt.tracer(step) // 4 during its round trip
	exp.finish(t)

	clock.tick(t)
	sizes = append(sizes, exp.next(t)) // the tick's batch: those 4
	bt.tracer(step)                    // during its round trip: they wait for the next tick
	exp.finish(t)

	clock.tick(t)
	sizes = append(sizes, exp.next(t))
	exp.finish(t)

	require.Equal(t, []int{4, 10, 10, 4, 4}, sizes)
	// Nothing is buffered, so the flush only waits for the loop, which
	// counts an export before it takes the next request.
	require.NoError(t, bt.sb.ForceFlush(context.Background()))
	require.Equal(t, 32.0, count(t, bt.m.Exported))
	require.EqualValues(t, 0, bt.slots.held.Load())

	// A tick with more than a batch buffered sends one batch; the kick of
	// the full batch sends the next one, and the tick's partial rest waits.
	bt.tracer(25)
	first := exp.next(t) // the kick at 10 (the loop may see 10 to 25 buffered)
	exp.finish(t)
	second := exp.next(t)
	exp.finish(t)
	require.Equal(t, []int{10, 10}, []int{first, second}, "only full batches go between ticks")
	clock.tick(t)
	require.Equal(t, 5, exp.next(t))
	exp.finish(t)

	// Every span is in exactly one counter, those ended after Shutdown too.
	bt.tracer(3)
	done := make(chan error, 1)
	go func() { done <- bt.sb.Shutdown(context.Background()) }()
	require.Equal(t, 3, exp.next(t), "shutdown sends what is left")
	exp.finish(t)
	require.NoError(t, <-done)
	bt.tracer(2)
	require.Equal(t, 60.0, count(t, bt.m.Exported))
	require.Equal(t, 2.0, count(t, bt.m.DroppedShutdown))
	require.Equal(t, 0.0, count(t, bt.m.DroppedFull)+count(t, bt.m.DroppedExport))
	require.EqualValues(t, 0, bt.slots.held.Load())
}

// A record emitted after the log pipeline shut down is counted too.
func TestLogPipelineCountsRecordsAfterShutdown(t *testing.T) {
	s := &Slots{Limit: 10}
	m := newCounters()
	g := NewLogPipeline(nopLogExporter{}, BatchSettings{QueueSize: 10, BatchSize: 5, BatchTimeout: time.Hour, ExportTimeout: time.Minute}, s, m)
	require.NoError(t, g.Shutdown(context.Background()))
	var r sdklog.Record
	require.NoError(t, g.OnEmit(context.Background(), &r))
	require.Equal(t, 1.0, count(t, m.DroppedShutdown))
	require.EqualValues(t, 0, s.Held())
}

// nopLogExporter is a test double of a collector that accepts everything.
type nopLogExporter struct{}

var _ sdklog.Exporter = nopLogExporter{}

func (nopLogExporter) Export(context.Context, []sdklog.Record) error { return nil }
func (nopLogExporter) Shutdown(context.Context) error                { return nil }
func (nopLogExporter) ForceFlush(context.Context) error              { return nil }
