package otlpexport

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
// dropped (queue_full), exported, dropped (export_failed), or dropped
// (shutdown) when it was emitted after Shutdown. Spans have
// their own processor with the same accounting (spanbatcher.go).

// logGate admits log records into the batch log processor while there is
// room and drops the rest. OnEmit is called from any goroutine
// that logs and never blocks.
type logGate struct {
	next    sdklog.Processor
	slots   *Slots
	m       Counters
	stopped atomic.Bool
}

var _ sdklog.Processor = (*logGate)(nil)

func (g *logGate) Enabled(ctx context.Context, p sdklog.EnabledParameters) bool {
	return g.next.Enabled(ctx, p)
}

func (g *logGate) OnEmit(ctx context.Context, r *sdklog.Record) error {
	if g.stopped.Load() {
		g.m.DroppedShutdown.Inc()
		return nil
	}
	if !g.slots.take() {
		g.m.DroppedFull.Inc()
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
	slots *Slots
	m     Counters
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
		e.m.Failures.Inc()
		e.m.DroppedExport.Add(n)
		return err
	}
	e.m.Exported.Add(n)
	return nil
}

func (e *countingLogExporter) Shutdown(ctx context.Context) error { return e.next.Shutdown(ctx) }

func (e *countingLogExporter) ForceFlush(ctx context.Context) error { return e.next.ForceFlush(ctx) }

// NewLogPipeline is the bounded log pipeline: gate → batch log processor →
// counting exporter → exp.
func NewLogPipeline(exp sdklog.Exporter, b BatchSettings, s *Slots, m Counters) *logGate {
	blp := sdklog.NewBatchProcessor(
		&countingLogExporter{next: exp, slots: s, m: m},
		sdklog.WithMaxQueueSize(b.QueueSize),
		sdklog.WithExportMaxBatchSize(b.BatchSize),
		sdklog.WithExportInterval(b.BatchTimeout),
		sdklog.WithExportTimeout(b.ExportTimeout),
	)
	return &logGate{next: blp, slots: s, m: m}
}
