package telemetry_test

import (
	"context"
	"fmt"
	"net"
	"sync/atomic"
	"testing"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
)

// countingService is an OTLP/gRPC trace service that only counts spans, so a
// benchmark measures the node's side of an export (encoding and sending),
// not a test receiver keeping copies.
type countingService struct {
	ptraceotlp.UnimplementedGRPCServer
	spans atomic.Int64
}

func (s *countingService) Export(_ context.Context, req ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	s.spans.Add(int64(req.Traces().SpanCount()))
	return ptraceotlp.NewExportResponse(), nil
}

// BenchmarkOTLPExport measures what exporting one span over OTLP/gRPC on
// loopback costs for several batch sizes and with gzip off and on: the
// per-export overhead (one RPC, the resource and scope) shrinks per span as
// batches grow, while gzip trades CPU for bytes that loopback does not need
// saved. The spans look like the node's POST /tx server span (a dozen
// attributes). Compare ns/op (per span) across sub-benchmarks:
//
//	go test -run '^$' -bench OTLPExport -benchtime 20000x ./node/telemetry/
func BenchmarkOTLPExport(b *testing.B) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatalf("listen: %v", err)
	}
	srv := grpc.NewServer()
	svc := &countingService{}
	ptraceotlp.RegisterGRPCServer(srv, svc)
	go func() { _ = srv.Serve(lis) }()
	b.Cleanup(srv.Stop)

	stubs := make(tracetest.SpanStubs, 4096)
	for i := range stubs {
		stubs[i] = tracetest.SpanStub{
			Name: "POST /tx",
			SpanContext: trace.NewSpanContext(trace.SpanContextConfig{
				TraceID: trace.TraceID{1, byte(i >> 8), byte(i)}, SpanID: trace.SpanID{2, byte(i >> 8), byte(i)},
				TraceFlags: trace.FlagsSampled,
			}),
			SpanKind: trace.SpanKindServer,
			Attributes: []attribute.KeyValue{
				attribute.String("http.request.method", "POST"), attribute.String("url.scheme", "http"),
				attribute.String("server.address", "127.0.0.1"), attribute.Int("server.port", 8080),
				attribute.String("network.peer.address", "127.0.0.1"), attribute.Int("network.peer.port", 50000+i%1000),
				attribute.String("user_agent.original", "Go-http-client/1.1"), attribute.String("client.address", "127.0.0.1"),
				attribute.String("url.path", "/tx"), attribute.String("network.protocol.version", "1.1"),
				attribute.String("http.route", "/tx"), attribute.Int("http.response.status_code", 200),
				attribute.String("tx.hash", fmt.Sprintf("0x%064x", i)), attribute.String("tx.type", "transfer"),
			},
		}
	}
	spans := stubs.Snapshots()

	for _, gzip := range []bool{false, true} {
		for _, batch := range []int{128, 512, 2048} {
			b.Run(fmt.Sprintf("gzip=%t/batch=%d", gzip, batch), func(b *testing.B) {
				ctx := context.Background()
				opts := []otlptracegrpc.Option{otlptracegrpc.WithEndpoint(lis.Addr().String()), otlptracegrpc.WithInsecure()}
				if gzip {
					opts = append(opts, otlptracegrpc.WithCompressor("gzip"))
				}
				exp, err := otlptracegrpc.New(ctx, opts...)
				if err != nil {
					b.Fatalf("exporter: %v", err)
				}
				defer func() { _ = exp.Shutdown(ctx) }()
				exportAll(b, exp, spans[:batch]) // connect before timing
				before := svc.spans.Load()
				b.ReportAllocs()
				b.ResetTimer()
				for done := 0; done < b.N; done += batch {
					exportAll(b, exp, spans[:min(batch, b.N-done)])
				}
				b.StopTimer()
				if got := svc.spans.Load() - before; got != int64(b.N) {
					b.Fatalf("receiver counted %d spans, want %d", got, b.N)
				}
			})
		}
	}
}

func exportAll(b *testing.B, exp sdktrace.SpanExporter, spans []sdktrace.ReadOnlySpan) {
	if err := exp.ExportSpans(context.Background(), spans); err != nil {
		b.Fatalf("export: %v", err)
	}
}
