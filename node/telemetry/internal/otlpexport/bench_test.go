package otlpexport

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/chainotel/chainotel/semconv"
)

// discardExporter is a test double: an exporter that accepts everything at
// once, so the benchmark measures the pipeline, not a network.
type discardExporter struct{}

func (discardExporter) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discardExporter) Shutdown(context.Context) error                             { return nil }

// defaultBatchSettings are the node's defaults (node/telemetry's Config), as
// Setup resolves them with no OTEL_BSP_* variable set.
var defaultBatchSettings = BatchSettings{
	QueueSize: 2048, BatchSize: 512,
	BatchTimeout: time.Second, ExportTimeout: 10 * time.Second,
}

// BenchmarkSpanStartEnd compares starting and ending a span with the SDK's
// batch span processor and with the node's span batcher, which holds the
// bound and the drop counting too. Compare the two ns/op figures of one run:
//
//	go test -run '^$' -bench SpanStartEnd ./node/telemetry/
func BenchmarkSpanStartEnd(b *testing.B) {
	settings := defaultBatchSettings
	pipelines := map[string]func() sdktrace.SpanProcessor{
		"sdk-batch": func() sdktrace.SpanProcessor {
			return sdktrace.NewBatchSpanProcessor(discardExporter{},
				sdktrace.WithMaxQueueSize(settings.QueueSize), sdktrace.WithBatchTimeout(time.Second))
		},
		"batcher": func() sdktrace.SpanProcessor {
			return NewSpanBatcher(discardExporter{}, settings, &Slots{Limit: int64(settings.QueueSize)}, newCounters())
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

// BenchmarkTxSpans makes the spans the receiving node writes for one
// POST /tx (the server span and its four stages, with their attributes)
// through the SDK and the node's span batcher to an exporter that discards
// them: the SDK's share of a transaction's telemetry, without encoding or
// network. Each op is one transaction. The node now writes the four stages
// itself (node/telemetry's StartSpanAt and BenchmarkStartSpanAt); this is
// what they cost through the SDK.
//
//	go test -run '^$' -bench TxSpans ./node/telemetry/
func BenchmarkTxSpans(b *testing.B) {
	settings := defaultBatchSettings
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithSampler(sdktrace.AlwaysSample()),
		sdktrace.WithSpanProcessor(NewSpanBatcher(discardExporter{}, settings, &Slots{Limit: int64(settings.QueueSize)}, newCounters())),
	)
	defer func() { _ = tp.Shutdown(context.Background()) }()
	tracer := tp.Tracer("bench")
	hash := strings.Repeat("ab", 32)
	b.ReportAllocs()
	for b.Loop() {
		// node/api's route: the server span, its request attributes at once.
		ctx, server := tracer.Start(context.Background(), "POST /tx", trace.WithSpanKind(trace.SpanKindServer))
		server.SetAttributes(
			attribute.String(semconv.HTTPRequestMethodKey, "POST"),
			attribute.String(semconv.HTTPRouteKey, "/tx"),
			attribute.String(semconv.URLPathKey, "/tx"),
			attribute.String(semconv.URLSchemeKey, "http"),
			attribute.String(semconv.ClientAddressKey, "127.0.0.1"),
		)
		// node/api's validate: each stage's attributes once it is done.
		_, span := tracer.Start(ctx, semconv.SpanValidateTransaction)
		span.SetAttributes(attribute.String(semconv.TxTypeKey, "transfer"), attribute.String(semconv.TxHashKey, hash))
		span.End()
		_, span = tracer.Start(ctx, semconv.SpanValidateGasUsage)
		span.SetAttributes(attribute.Int64(semconv.TxGasKey, 21000), attribute.Int64(semconv.TxFeeKey, 1))
		span.End()
		// node/mempool's Add and its state-transition span.
		actx, add := tracer.Start(ctx, semconv.SpanMempoolAdd)
		_, span = tracer.Start(actx, semconv.SpanValidateStateTransition)
		span.SetAttributes(attribute.Int64(semconv.AccountNonceKey, 7))
		span.End()
		add.SetAttributes(attribute.String(semconv.TxHashKey, hash), attribute.Int(semconv.MempoolSizeKey, 100))
		add.End()
		// postTx names the transaction on the server span; the route adds
		// the status code.
		server.SetAttributes(attribute.String(semconv.TxHashKey, hash), attribute.String(semconv.TxTypeKey, "transfer"))
		server.SetAttributes(attribute.Int(semconv.HTTPResponseStatusCodeKey, 200))
		server.End()
	}
}
