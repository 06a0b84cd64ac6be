package telemetry

import (
	"context"
	"sync/atomic"

	sdklog "go.opentelemetry.io/otel/sdk/log"
)

// Why a gate in front of the SDK's batch log processor: it silently
// overwrites its oldest record when its queue is full. The gate bounds what
// the pipeline holds itself and counts what it turns away; the counting
// exporter behind the processor gives the slots back. Since the gate never
// admits more than the processor's queue can hold, the processor never drops
// anything on its own, and every record ends up in exactly one counter:
// dropped (queue_full), exported, or dropped (export_failed). Spans have
// their own processor with the same accounting (spanbatcher.go).

// slots bounds the spans (or log records) held between the moment they end
// and the moment the export that carries them returns.
type slots struct {
	held  atomic.Int64
	limit int64
}

func newSlots(limit int) *slots { return &slots{limit: int64(limit)} }

// take reserves a slot without ever waiting; false means the pipeline is full.
func (s *slots) take() bool {
	if s.held.Add(1) > s.limit {
		s.held.Add(-1)
		return false
	}
	return true
}

// release gives back n slots once their export has returned.
func (s *slots) release(n int) { s.held.Add(-int64(n)) }

// logGate admits log records into the batch log processor while there is
// room and drops the rest. OnEmit is called from any goroutine
// that logs and never blocks.
type logGate struct {
	next    sdklog.Processor
	slots   *slots
	m       selfMetrics
	stopped atomic.Bool
}

var _ sdklog.Processor = (*logGate)(nil)

func (g *logGate) Enabled(ctx context.Context, p sdklog.EnabledParameters) bool {
	return g.next.Enabled(ctx, p)
}

func (g *logGate) OnEmit(ctx context.Context, r *sdklog.Record) error {
	if g.stopped.Load() {
		return nil
	}
	if !g.slots.take() {
		g.m.droppedFull.Inc()
		return nil
	}
	return g.next.OnEmit(ctx, r)
}

func (g *logGate) Shutdown(ctx context.Context) error {
	g.stopped.Store(true)
	return g.next.Shutdown(ctx)
}

func (g *logGate) ForceFlush(ctx context.Context) error { return g.next.ForceFlush(ctx) }

// countingLogExporter gives slots back and counts the outcome of each export.
type countingLogExporter struct {
	next  sdklog.Exporter
	slots *slots
	m     selfMetrics
}

var _ sdklog.Exporter = (*countingLogExporter)(nil)

func (e *countingLogExporter) Export(ctx context.Context, records []sdklog.Record) error {
	if len(records) == 0 {
		return e.next.Export(ctx, records)
	}
	err := e.next.Export(ctx, records)
	e.slots.release(len(records))
	n := float64(len(records))
	if err != nil {
		e.m.failures.Inc()
		e.m.droppedExport.Add(n)
		return err
	}
	e.m.exported.Add(n)
	return nil
}

func (e *countingLogExporter) Shutdown(ctx context.Context) error { return e.next.Shutdown(ctx) }

func (e *countingLogExporter) ForceFlush(ctx context.Context) error { return e.next.ForceFlush(ctx) }

// newLogPipeline is the bounded log pipeline: gate → batch log processor →
// counting exporter → exp.
func newLogPipeline(exp sdklog.Exporter, b batchSettings, s *slots, m selfMetrics) *logGate {
	blp := sdklog.NewBatchProcessor(
		&countingLogExporter{next: exp, slots: s, m: m},
		sdklog.WithMaxQueueSize(b.queueSize),
		sdklog.WithExportMaxBatchSize(b.batchSize),
		sdklog.WithExportInterval(b.batchTimeout),
		sdklog.WithExportTimeout(b.exportTimeout),
	)
	return &logGate{next: blp, slots: s, m: m}
}
