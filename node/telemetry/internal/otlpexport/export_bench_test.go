package otlpexport

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
	"google.golang.org/grpc/encoding/gzip"
	"google.golang.org/grpc/mem"
)

// countingService is an OTLP/gRPC trace service that only counts spans, so a
// benchmark measures the node's side of an export (encoding and sending),
// not a test receiver keeping copies. It decodes with pdata, as the
// collector's receiver does.
type countingService struct {
	ptraceotlp.UnimplementedGRPCServer
	spans atomic.Int64
}

func (s *countingService) Export(_ context.Context, req ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	s.spans.Add(int64(req.Traces().SpanCount()))
	return ptraceotlp.NewExportResponse(), nil
}

// rawReceiverCodec is a server codec that hands a request over as its bytes
// and writes an empty reply (which is an empty ExportTraceServiceResponse).
type rawReceiverCodec struct{}

func (rawReceiverCodec) Name() string { return "proto" }

func (rawReceiverCodec) Marshal(any) (mem.BufferSlice, error) { return mem.BufferSlice{}, nil }

func (rawReceiverCodec) Unmarshal(data mem.BufferSlice, v any) error {
	n, ok := v.(*int)
	if !ok {
		return fmt.Errorf("raw receiver: cannot unmarshal into %T", v)
	}
	*n = data.Len()
	return nil
}

// startBenchReceiver serves OTLP/gRPC traces on loopback. Decoding, it counts
// spans with pdata; otherwise it only takes in the bytes, so that all that is
// measured is the exporter's side; spans then counts requests.
func startBenchReceiver(b *testing.B, decode bool) (addr string, spans *atomic.Int64) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatalf("listen: %v", err)
	}
	var srv *grpc.Server
	if decode {
		svc := &countingService{}
		srv = grpc.NewServer()
		ptraceotlp.RegisterGRPCServer(srv, svc)
		spans = &svc.spans
	} else {
		spans = new(atomic.Int64)
		srv = grpc.NewServer(grpc.ForceServerCodecV2(rawReceiverCodec{}),
			grpc.UnknownServiceHandler(func(_ any, stream grpc.ServerStream) error {
				var n int
				if err := stream.RecvMsg(&n); err != nil {
					return err
				}
				spans.Add(1)
				return stream.SendMsg(struct{}{})
			}))
	}
	go func() { _ = srv.Serve(lis) }()
	b.Cleanup(srv.Stop)
	return lis.Addr().String(), spans
}

// BenchmarkOTLPExport measures what exporting one span over OTLP/gRPC on
// loopback costs, with otlptracegrpc (what the node used before) and with
// the node's own exporter, on the same spans and the same receiver, for
// several batch sizes and with gzip off and on. The spans look like the
// node's POST /tx server span (a dozen attributes). The receiver either
// decodes requests with pdata, as the collector does (receiver=pdata), or
// only takes in their bytes (receiver=raw), which leaves the exporter's own
// cost. ns/op, B/op and allocs/op are per span and include the in-process
// receiver's share. The node's lines carry its ns/op as a fraction of
// otlptracegrpc's just before (x-otlptracegrpc); -v also logs them together:
//
//	go test -run '^$' -bench OTLPExport -benchtime 20000x ./node/telemetry/
func BenchmarkOTLPExport(b *testing.B) {
	clearOTLPEnv(b)
	spans := txServerSpans(4096)
	var ratios []string
	for _, decode := range []bool{true, false} {
		addr, received := startBenchReceiver(b, decode)
		receiver := map[bool]string{true: "pdata", false: "raw"}[decode]
		exporters := []struct {
			name string
			make func(ctx context.Context, gzip bool) (sdktrace.SpanExporter, error)
		}{
			{"otlptracegrpc", func(ctx context.Context, gz bool) (sdktrace.SpanExporter, error) {
				opts := []otlptracegrpc.Option{otlptracegrpc.WithEndpoint(addr), otlptracegrpc.WithInsecure()}
				if gz {
					opts = append(opts, otlptracegrpc.WithCompressor(gzip.Name))
				}
				return otlptracegrpc.New(ctx, opts...)
			}},
			{"node", func(context.Context, bool) (sdktrace.SpanExporter, error) {
				// gzip comes from the environment, set below.
				return NewSpanExporter(Target{Endpoint: addr, Insecure: true})
			}},
		}
		for _, gz := range []bool{false, true} {
			b.Setenv(envOTLPPrefix+otlpKeyCompression, map[bool]string{true: "gzip", false: "none"}[gz])
			for _, batch := range []int{128, 512, 2048} {
				perSpan := make(map[string]float64)
				for _, ex := range exporters {
					name := fmt.Sprintf("receiver=%s/gzip=%t/batch=%d/exporter=%s", receiver, gz, batch, ex.name)
					b.Run(name, func(b *testing.B) {
						ctx := context.Background()
						exp, err := ex.make(ctx, gz)
						if err != nil {
							b.Fatalf("exporter: %v", err)
						}
						defer func() { _ = exp.Shutdown(ctx) }()
						exportAll(b, exp, spans[:batch]) // connect before timing
						before := received.Load()
						b.ReportAllocs()
						b.ResetTimer()
						for done := 0; done < b.N; done += batch {
							exportAll(b, exp, spans[:min(batch, b.N-done)])
						}
						b.StopTimer()
						want := int64(b.N)
						if !decode {
							want = int64((b.N + batch - 1) / batch) // requests
						}
						if got := received.Load() - before; got != want {
							b.Fatalf("receiver counted %d, want %d", got, want)
						}
						perSpan[ex.name] = float64(b.Elapsed().Nanoseconds()) / float64(b.N) // the last run is the reported one
						if old := perSpan["otlptracegrpc"]; ex.name == "node" && old > 0 {
							b.ReportMetric(perSpan["node"]/old, "x-otlptracegrpc")
						}
					})
				}
				if old, ours := perSpan["otlptracegrpc"], perSpan["node"]; old > 0 && ours > 0 {
					ratios = append(ratios, fmt.Sprintf("receiver=%s gzip=%t batch=%d: node/otlptracegrpc = %.2f (%.0f ns vs %.0f ns per span)",
						receiver, gz, batch, ours/old, ours, old))
				}
			}
		}
	}
	for _, r := range ratios {
		b.Log(r)
	}
}

// BenchmarkOTLPEncode measures the node's encoder alone: one request of 512
// spans like BenchmarkOTLPExport's, into a reused buffer. ns/op is per span.
func BenchmarkOTLPEncode(b *testing.B) {
	spans := txServerSpans(512)
	var (
		enc otlpEncoder
		buf []byte
	)
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; done += len(spans) {
		buf = enc.appendExportRequest(buf[:0], spans[:min(len(spans), b.N-done)])
	}
	b.StopTimer()
	b.ReportMetric(float64(len(enc.appendExportRequest(buf[:0], spans)))/float64(len(spans)), "bytes/span")
}

// txServerSpans are n spans like the node's POST /tx server span.
func txServerSpans(n int) []sdktrace.ReadOnlySpan {
	stubs := make(tracetest.SpanStubs, n)
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
	return stubs.Snapshots()
}

func exportAll(b *testing.B, exp sdktrace.SpanExporter, spans []sdktrace.ReadOnlySpan) {
	if err := exp.ExportSpans(context.Background(), spans); err != nil {
		b.Fatalf("export: %v", err)
	}
}
