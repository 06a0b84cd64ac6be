package otlpexport

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/stats"
	"google.golang.org/protobuf/proto"
)

// exportWait bounds waiting on anything in these tests; it is never reached
// unless something is broken.
const exportWait = 20 * time.Second

// captureServer is a real OTLP/gRPC trace service on a loopback port that
// keeps each request as it decoded it, with its metadata and the compression
// it arrived with. reply, when set, decides each call's answer.
type captureServer struct {
	coltracepb.UnimplementedTraceServiceServer
	addr string

	mu          sync.Mutex
	requests    []*coltracepb.ExportTraceServiceRequest
	md          []metadata.MD
	compression []string
	reply       func(ctx context.Context, call int) (*coltracepb.ExportTraceServiceResponse, error)
}

func startCaptureServer(t *testing.T, opts ...grpc.ServerOption) *captureServer {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := &captureServer{addr: lis.Addr().String()}
	// Options given override the defaults (a later option wins).
	opts = append([]grpc.ServerOption{grpc.MaxRecvMsgSize(maxRequestSize), grpc.StatsHandler(compressionRecorder{s})}, opts...)
	srv := grpc.NewServer(opts...)
	coltracepb.RegisterTraceServiceServer(srv, s)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return s
}

func (s *captureServer) Export(ctx context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	s.mu.Lock()
	s.requests = append(s.requests, req)
	s.md = append(s.md, md)
	call, reply := len(s.requests), s.reply
	s.mu.Unlock()
	if reply != nil {
		return reply(ctx, call)
	}
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

func (s *captureServer) setReply(f func(ctx context.Context, call int) (*coltracepb.ExportTraceServiceResponse, error)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reply = f
}

// take returns the requests received so far and forgets them.
func (s *captureServer) take() []*coltracepb.ExportTraceServiceRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.requests
	s.requests, s.md, s.compression = nil, nil, nil
	return r
}

func (s *captureServer) calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.requests)
}

func (s *captureServer) metadata() []metadata.MD {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.md)
}

func (s *captureServer) compressions() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.compression)
}

// compressionRecorder notes the grpc-encoding of each incoming call, which
// gRPC does not show as metadata.
type compressionRecorder struct{ s *captureServer }

func (compressionRecorder) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context {
	return ctx
}
func (compressionRecorder) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context {
	return ctx
}
func (compressionRecorder) HandleConn(context.Context, stats.ConnStats) {}
func (r compressionRecorder) HandleRPC(_ context.Context, st stats.RPCStats) {
	if h, ok := st.(*stats.InHeader); ok {
		r.s.mu.Lock()
		r.s.compression = append(r.s.compression, h.Compression)
		r.s.mu.Unlock()
	}
}

// clearOTLPEnv blanks every variable the exporters read, so the machine's
// environment cannot change a test.
func clearOTLPEnv(t testing.TB) {
	t.Helper()
	for _, prefix := range []string{envOTLPTracesPrefix, envOTLPPrefix} {
		for _, key := range []string{otlpKeyEndpoint, otlpKeyInsecure, otlpKeyCertificate, otlpKeyClientCert,
			otlpKeyClientKey, otlpKeyHeaders, otlpKeyCompression, otlpKeyTimeout} {
			t.Setenv(prefix+key, "")
		}
	}
}

// newTestExporter is the node's exporter to addr in plain text, as
// --otlp-endpoint host:port makes it, with retries fast enough for tests.
func newTestExporter(t *testing.T, addr string) *SpanExporter {
	t.Helper()
	e, err := NewSpanExporter(Target{Endpoint: addr, Insecure: true})
	require.NoError(t, err)
	e.retry = retryPolicy{initial: time.Millisecond, max: 10 * time.Millisecond, maxElapsed: exportWait}
	t.Cleanup(func() { _ = e.Shutdown(context.Background()) })
	return e
}

// sendBoth exports spans through otlptracegrpc and through the node's
// exporter to the same server and returns the two requests, resource order
// normalised (tracetransform emits resources in map order).
func sendBoth(t *testing.T, srv *captureServer, spans []sdktrace.ReadOnlySpan) (want, got *coltracepb.ExportTraceServiceRequest) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), exportWait)
	defer cancel()
	ref, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(srv.addr), otlptracegrpc.WithInsecure())
	require.NoError(t, err)
	defer func() { _ = ref.Shutdown(ctx) }()
	ours := newTestExporter(t, srv.addr)

	require.NoError(t, ref.ExportSpans(ctx, spans))
	reqs := srv.take()
	require.Len(t, reqs, 1, "otlptracegrpc")
	want = reqs[0]
	require.NoError(t, ours.ExportSpans(ctx, spans))
	reqs = srv.take()
	require.Len(t, reqs, 1, "node exporter")
	got = reqs[0]
	sortResourceSpans(t, want)
	sortResourceSpans(t, got)
	return want, got
}

func sortResourceSpans(t *testing.T, req *coltracepb.ExportTraceServiceRequest) {
	t.Helper()
	key := func(m proto.Message) []byte {
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
		require.NoError(t, err)
		return b
	}
	slices.SortFunc(req.ResourceSpans, func(a, b *tracepb.ResourceSpans) int { return bytes.Compare(key(a), key(b)) })
}

func requireSameRequest(t *testing.T, want, got *coltracepb.ExportTraceServiceRequest) {
	t.Helper()
	if !proto.Equal(want, got) {
		t.Fatalf("requests differ\notlptracegrpc: %v\nnode exporter: %v", want, got)
	}
}

func TestEncodingMatchesOTLPTraceGRPC(t *testing.T) {
	clearOTLPEnv(t)
	srv := startCaptureServer(t)
	spans := coverageSpans()
	want, got := sendBoth(t, srv, spans)
	require.Len(t, want.ResourceSpans, 4, "the fixture has four distinct resources")
	requireSameRequest(t, want, got)

	// Spans the SDK itself ended, as the node exports them.
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec),
		sdktrace.WithResource(resource.NewWithAttributes("https://schema/1", attribute.String("service.name", "blockchain"))))
	tr := tp.Tracer("chainotel", trace.WithInstrumentationVersion("v1"), trace.WithInstrumentationAttributes(attribute.Int("a", 1)))
	remote := trace.ContextWithRemoteSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{9}, SpanID: trace.SpanID{9}, TraceFlags: trace.FlagsSampled, Remote: true,
	}))
	ctx, parent := tr.Start(remote, "POST /tx", trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("http.request.method", "POST")))
	_, child := tr.Start(ctx, "tx.validate", trace.WithLinks(trace.Link{SpanContext: parent.SpanContext()}))
	child.AddEvent("checked", trace.WithAttributes(attribute.Bool("ok", true)))
	child.SetStatus(codes.Error, "bad nonce")
	child.End()
	parent.End()
	want, got = sendBoth(t, srv, rec.Ended())
	requireSameRequest(t, want, got)
}

// TestEncodingMatchesOTLPTraceGRPCRandomised compares the two on random
// batches; the seed is logged so a failure can be replayed.
func TestEncodingMatchesOTLPTraceGRPCRandomised(t *testing.T) {
	clearOTLPEnv(t)
	srv := startCaptureServer(t)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed>>1))
	for round := range 20 {
		spans := randomSpans(rng, 1+rng.IntN(40))
		want, got := sendBoth(t, srv, spans)
		if !proto.Equal(want, got) {
			t.Fatalf("round %d (seed %d): requests differ\notlptracegrpc: %v\nnode exporter: %v", round, seed, want, got)
		}
	}
}

// TestEncoderLengths checks messages whose lengths need one to four bytes
// of varint, which closeField handles by moving the body.
func TestEncoderLengths(t *testing.T) {
	clearOTLPEnv(t)
	srv := startCaptureServer(t)
	for _, n := range []int{0, 100, 127, 128, 200, 16383, 16384, 70000, 2_100_000} {
		stub := tracetest.SpanStub{
			Name:        "long",
			SpanContext: trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}}),
			Attributes:  []attribute.KeyValue{attribute.String("v", strings.Repeat("x", n))},
		}
		want, got := sendBoth(t, srv, tracetest.SpanStubs{stub}.Snapshots())
		requireSameRequest(t, want, got)
	}
}

func TestEncoderNoSpans(t *testing.T) {
	var e otlpEncoder
	require.Empty(t, e.appendExportRequest(nil, nil))
	require.Empty(t, e.appendExportRequest(nil, []sdktrace.ReadOnlySpan{nil, nil}))
	require.Equal(t, []byte("x"), e.appendExportRequest([]byte("x"), nil))
}

// coverageSpans are spans with every field the encoder writes, every
// attribute type, all kinds and status codes, several resources (nil and
// empty among them) and scopes.
func coverageSpans() []sdktrace.ReadOnlySpan {
	ts, err := trace.ParseTraceState("vendor=abc,other=1")
	if err != nil {
		panic(err)
	}
	t0 := time.Unix(1_700_000_000, 123)
	resA := resource.NewWithAttributes("https://opentelemetry.io/schemas/1.26.0",
		attribute.String("service.name", "blockchain"), attribute.String("service.instance.id", "node0"))
	resB := resource.NewSchemaless(attribute.String("service.name", "other"), attribute.Int64("n", 2))
	scopes := []instrumentation.Scope{
		{},
		{Name: "a"},
		{Name: "a", Version: "v2"},
		{Name: "b", Version: "v1", SchemaURL: "https://schema/b", Attributes: attribute.NewSet(attribute.String("k", "v"), attribute.Bool("t", true))},
		{Attributes: attribute.NewSet()},
	}
	kinds := []trace.SpanKind{trace.SpanKindUnspecified, trace.SpanKindInternal, trace.SpanKindServer,
		trace.SpanKindClient, trace.SpanKindProducer, trace.SpanKindConsumer, trace.SpanKind(42)}
	statuses := []sdktrace.Status{{}, {Code: codes.Ok}, {Code: codes.Error, Description: "broken"}, {Code: codes.Unset, Description: "ignored"}}
	parents := []trace.SpanContext{
		{},
		trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{7}, SpanID: trace.SpanID{8}}),
		trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{7}, SpanID: trace.SpanID{9}, TraceFlags: trace.FlagsSampled, Remote: true}),
	}
	// An empty resource and a nil one are equivalent: the first seen (here
	// the empty one) is the one sent.
	resources := []*resource.Resource{resA, resource.Empty(), resB, nil, resA, resource.Default()}

	var stubs tracetest.SpanStubs
	for i := range 24 {
		stubs = append(stubs, tracetest.SpanStub{
			Name: fmt.Sprintf("span-%d", i),
			SpanContext: trace.NewSpanContext(trace.SpanContextConfig{
				TraceID: trace.TraceID{1, byte(i)}, SpanID: trace.SpanID{2, byte(i)},
				TraceFlags: trace.TraceFlags(i % 6), TraceState: ts,
			}),
			Parent:    parents[i%len(parents)],
			SpanKind:  kinds[i%len(kinds)],
			StartTime: t0.Add(time.Duration(i) * time.Millisecond),
			EndTime:   t0.Add(time.Duration(i+1) * time.Millisecond),
			Attributes: []attribute.KeyValue{
				attribute.Bool("bool.t", true), attribute.Bool("bool.f", false),
				attribute.Int64("int", -int64(i)), attribute.Int("zero", 0),
				attribute.Float64("float", 1.5), attribute.Float64("float.zero", 0), attribute.Float64("inf", math.Inf(-1)),
				attribute.String("str", "héllo"), attribute.String("str.empty", ""),
				attribute.ByteSlice("bytes", []byte{0, 1, 2}), attribute.ByteSlice("bytes.empty", nil),
				attribute.BoolSlice("bools", []bool{true, false, true}),
				attribute.Int64Slice("ints", []int64{-1, 0, 1 << 40, 4, 5}), attribute.IntSlice("ints.empty", nil),
				attribute.Float64Slice("floats", []float64{0.5, -2}), attribute.StringSlice("strs", []string{"a", "", "c", "d", "e"}),
				attribute.Slice("slice", attribute.StringValue("x"), attribute.Value{}, attribute.IntValue(3),
					attribute.SliceValue(attribute.BoolValue(false)), attribute.MapValue(attribute.String("in", "map")),
					attribute.ByteSliceValue([]byte("b")), attribute.Float64SliceValue([]float64{1})),
				attribute.Slice("slice.empty"),
				attribute.Map("map", attribute.String("z", "last"), attribute.Int("a", 1),
					attribute.Map("nested", attribute.Bool("deep", true)), attribute.KeyValue{Key: "empty"},
					attribute.Slice("s", attribute.MapValue())),
				attribute.Map("map.empty"),
				{Key: "empty"},
				{Key: "", Value: attribute.StringValue("no key")},
			},
			DroppedAttributes: i % 3,
			Events: []sdktrace.Event{
				{Name: "ev", Time: t0, Attributes: []attribute.KeyValue{attribute.Int("n", i)}, DroppedAttributeCount: 2},
				{Name: "", Time: time.Time{}},
				{Name: "before-1970", Time: time.Unix(-5, 0)},
			},
			DroppedEvents: i % 2,
			Links: []sdktrace.Link{
				{SpanContext: trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{3}, SpanID: trace.SpanID{4}, TraceFlags: trace.FlagsSampled, TraceState: ts}),
					Attributes: []attribute.KeyValue{attribute.String("link", "x")}, DroppedAttributeCount: 1},
				{SpanContext: trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{5}, SpanID: trace.SpanID{6}, Remote: true})},
				{},
			},
			DroppedLinks: i % 4,
			Status:       statuses[i%len(statuses)],
			Resource:     resources[i%len(resources)],
		})
	}
	// A root span with nothing set but ids, a span with no times at all,
	// and a nil span, which both skip.
	stubs = append(stubs, tracetest.SpanStub{SpanContext: trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{1}})})
	spans := stubs.Snapshots()
	for i, sd := range spans {
		// SpanStub drops a scope whose name, version and schema URL are
		// empty even when it has attributes; a wrapper keeps it.
		spans[i] = scopedSpan{ReadOnlySpan: sd, scope: scopes[i%len(scopes)]}
	}
	return append(spans[:3:3], append([]sdktrace.ReadOnlySpan{nil}, spans[3:]...)...)
}

// scopedSpan is a ReadOnlySpan with its instrumentation scope replaced.
type scopedSpan struct {
	sdktrace.ReadOnlySpan
	scope instrumentation.Scope
}

func (s scopedSpan) InstrumentationScope() instrumentation.Scope { return s.scope }

// randomSpans are n spans with random fields, attributes of random types
// (nested up to two levels) over a few resources and scopes.
func randomSpans(rng *rand.Rand, n int) []sdktrace.ReadOnlySpan {
	resources := []*resource.Resource{
		resource.NewSchemaless(attribute.String("service.name", "a")),
		resource.NewWithAttributes("https://s", attribute.String("service.name", "b"), randomKV(rng, "r", 1)),
		nil,
		resource.Empty(),
	}
	scopes := []instrumentation.Scope{{Name: "x"}, {Name: "y", Version: "1"}, {}, {Name: "z", Attributes: attribute.NewSet(randomKV(rng, "s", 1))},
		{Attributes: attribute.NewSet(randomKV(rng, "s", 1))}}
	var (
		stubs      tracetest.SpanStubs
		spanScopes []instrumentation.Scope
	)
	for range n {
		var tid trace.TraceID
		var sid trace.SpanID
		for j := range tid {
			tid[j] = byte(rng.UintN(256))
		}
		for j := range sid {
			sid[j] = byte(rng.UintN(256))
		}
		attrs := make([]attribute.KeyValue, rng.IntN(12))
		for j := range attrs {
			attrs[j] = randomKV(rng, fmt.Sprintf("k%d", j), 0)
		}
		var events []sdktrace.Event
		for range rng.IntN(3) {
			events = append(events, sdktrace.Event{Name: randomString(rng), Time: time.Unix(0, rng.Int64()),
				Attributes: []attribute.KeyValue{randomKV(rng, "e", 0)}, DroppedAttributeCount: rng.IntN(3)})
		}
		var links []sdktrace.Link
		for range rng.IntN(3) {
			links = append(links, sdktrace.Link{SpanContext: trace.NewSpanContext(trace.SpanContextConfig{
				TraceID: tid, SpanID: trace.SpanID{byte(rng.UintN(256)), 1}, TraceFlags: trace.TraceFlags(rng.UintN(256)), Remote: rng.IntN(2) == 0,
			}), Attributes: []attribute.KeyValue{randomKV(rng, "l", 0)}})
		}
		var parent trace.SpanContext
		if rng.IntN(3) > 0 {
			parent = trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: trace.SpanID{byte(rng.UintN(256)), 2}, Remote: rng.IntN(2) == 0})
		}
		start := time.Unix(0, rng.Int64N(math.MaxInt64/2))
		stubs = append(stubs, tracetest.SpanStub{
			Name:              randomString(rng),
			SpanContext:       trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.TraceFlags(rng.UintN(256))}),
			Parent:            parent,
			SpanKind:          trace.SpanKind(rng.IntN(7)),
			StartTime:         start,
			EndTime:           start.Add(time.Duration(rng.IntN(1e9))),
			Attributes:        attrs,
			DroppedAttributes: rng.IntN(300),
			Events:            events,
			DroppedEvents:     rng.IntN(2),
			Links:             links,
			DroppedLinks:      rng.IntN(2),
			Status:            sdktrace.Status{Code: codes.Code(rng.IntN(3)), Description: randomString(rng)},
			Resource:          resources[rng.IntN(len(resources))],
		})
		spanScopes = append(spanScopes, scopes[rng.IntN(len(scopes))])
	}
	spans := stubs.Snapshots()
	for i, sd := range spans {
		spans[i] = scopedSpan{ReadOnlySpan: sd, scope: spanScopes[i]}
	}
	return spans
}

func randomKV(rng *rand.Rand, key string, depth int) attribute.KeyValue {
	return attribute.KeyValue{Key: attribute.Key(key), Value: randomValue(rng, depth)}
}

func randomValue(rng *rand.Rand, depth int) attribute.Value {
	kinds := 11
	if depth >= 2 {
		kinds = 9 // no more nesting
	}
	switch rng.IntN(kinds) {
	case 0:
		return attribute.Value{}
	case 1:
		return attribute.BoolValue(rng.IntN(2) == 0)
	case 2:
		return attribute.Int64Value(rng.Int64() - math.MaxInt64/2)
	case 3:
		return attribute.Float64Value(rng.NormFloat64() * 1e6)
	case 4:
		return attribute.StringValue(randomString(rng))
	case 5:
		return attribute.ByteSliceValue([]byte(randomString(rng)))
	case 6:
		return attribute.Int64SliceValue(make([]int64, rng.IntN(6)))
	case 7:
		vals := make([]string, rng.IntN(6))
		for i := range vals {
			vals[i] = randomString(rng)
		}
		return attribute.StringSliceValue(vals)
	case 8:
		return attribute.BoolSliceValue([]bool{rng.IntN(2) == 0})
	case 9:
		vals := make([]attribute.Value, rng.IntN(7))
		for i := range vals {
			vals[i] = randomValue(rng, depth+1)
		}
		return attribute.SliceValue(vals...)
	default:
		kvs := make([]attribute.KeyValue, rng.IntN(7))
		for i := range kvs {
			kvs[i] = randomKV(rng, randomString(rng), depth+1)
		}
		return attribute.MapValue(kvs...)
	}
}

func randomString(rng *rand.Rand) string {
	n := rng.IntN(20)
	if rng.IntN(10) == 0 {
		n = 100 + rng.IntN(300) // past one-byte lengths
	}
	b := make([]byte, n)
	for i := range b {
		b[i] = "abcdefghijklmnopqrstuvwxyz"[rng.IntN(26)]
	}
	return string(b)
}
