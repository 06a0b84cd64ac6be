package telemetry

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// discardExporter is a test double: an exporter that accepts everything at
// once, so the benchmark measures the pipeline, not a network.
type discardExporter struct{}

func (discardExporter) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discardExporter) Shutdown(context.Context) error                             { return nil }

// BenchmarkSpanStartEnd compares starting and ending a span with the SDK's
// batch span processor alone and behind this package's gate and counting
// exporter. Compare the two ns/op figures of one run:
//
//	go test -run '^$' -bench SpanStartEnd ./node/telemetry/
func BenchmarkSpanStartEnd(b *testing.B) {
	settings := batchSettings{
		queueSize: DefaultQueueSize, batchSize: DefaultBatchSize,
		batchTimeout: DefaultBatchTimeout, exportTimeout: DefaultExportTimeout,
	}
	pipelines := map[string]func() sdktrace.SpanProcessor{
		"sdk-batch": func() sdktrace.SpanProcessor {
			return sdktrace.NewBatchSpanProcessor(discardExporter{},
				sdktrace.WithMaxQueueSize(settings.queueSize), sdktrace.WithBatchTimeout(time.Second))
		},
		"batcher": func() sdktrace.SpanProcessor {
			m := newMetricSet(new(atomic.Int64), new(atomic.Int64))
			return newSpanBatcher(discardExporter{}, settings, newSlots(settings.queueSize), m.spans)
		},
	}
	for _, name := range []string{"sdk-batch", "batcher"} {
		b.Run(name, func(b *testing.B) {
			tp := sdktrace.NewTracerProvider(
				sdktrace.WithSampler(sdktrace.AlwaysSample()),
				sdktrace.WithSpanProcessor(pipelines[name]()),
			)
			tracer := tp.Tracer("bench")
			ctx := context.Background()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					_, span := tracer.Start(ctx, "block.apply")
					span.End()
				}
			})
			b.StopTimer()
			_ = tp.Shutdown(ctx)
		})
	}
}
