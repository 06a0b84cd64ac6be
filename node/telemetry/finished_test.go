package telemetry

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/chainotel/chainotel/semconv"
)

// lateSpans writes, under a server span of tracer continuing a remote
// trace with a trace state, the mempool's three spans as node/mempool does:
// mempool.add, validate.state_transition under it (an error) and
// validate.gas_usage under that.
func lateSpans(tracer trace.Tracer, t0 time.Time) {
	state, err := trace.ParseTraceState("vendor=v1")
	if err != nil {
		panic(err)
	}
	remote := trace.ContextWithRemoteSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{3}, SpanID: trace.SpanID{3}, TraceFlags: trace.FlagsSampled, TraceState: state, Remote: true,
	}))
	ctx, server := tracer.Start(remote, "POST /tx", trace.WithSpanKind(trace.SpanKindServer))
	actx, add := StartSpanAt(ctx, tracer, semconv.SpanMempoolAdd, t0)
	sctx, st := StartSpanAt(actx, tracer, semconv.SpanValidateStateTransition, t0.Add(time.Microsecond))
	_, gas := StartSpanAt(sctx, tracer, semconv.SpanValidateGasUsage, t0.Add(2*time.Microsecond))
	gas.End(t0.Add(3*time.Microsecond), codes.Unset, "", attribute.Int64(semconv.TxGasKey, 21000), attribute.Int64(semconv.TxFeeKey, 1))
	st.End(t0.Add(4*time.Microsecond), codes.Error, "nonce too low",
		attribute.Int64(semconv.AccountNonceKey, 7), attribute.String(semconv.ErrorTypeKey, semconv.ErrorValidation))
	add.End(t0.Add(5*time.Microsecond), codes.Error, "nonce too low", attribute.String(semconv.TxHashKey, "ab12"), attribute.Int(semconv.MempoolSizeKey, 3))
	server.End()
}

// shape is a span with its IDs replaced by the names of the spans they
// point to, so spans made twice compare equal, and without what OTLP does
// not carry.
type shape struct {
	stub                  tracetest.SpanStub
	parent                string
	remoteParent, sampled bool
	traceState            string
}

func shapes(t *testing.T, stubs tracetest.SpanStubs) []shape {
	t.Helper()
	names := map[trace.SpanID]string{}
	for _, s := range stubs {
		names[s.SpanContext.SpanID()] = s.Name
	}
	out := make([]shape, 0, len(stubs))
	for _, s := range stubs {
		require.Equal(t, stubs[0].SpanContext.TraceID(), s.SpanContext.TraceID(), "%s: one trace", s.Name)
		sh := shape{stub: s, parent: names[s.Parent.SpanID()], remoteParent: s.Parent.IsRemote(), sampled: s.SpanContext.IsSampled(),
			traceState: s.SpanContext.TraceState().String()}
		sh.stub.SpanContext, sh.stub.Parent = trace.SpanContext{}, trace.SpanContext{}
		// The SDK counts a span's children; OTLP has no field for the
		// count, and the node's own spans leave it at 0.
		sh.stub.ChildSpanCount = 0
		if s.Name == "POST /tx" { // ended by the SDK at its own time
			sh.stub.StartTime, sh.stub.EndTime = time.Time{}, time.Time{}
		}
		out = append(out, sh)
	}
	return out
}

// TestStartSpanAtWritesWhatTheSDKWould writes the same spans through the
// node's tracer (its own FinishedSpans) and through the SDK's tracer of the
// same provider (StartSpanAt's fallback), and requires the same spans:
// names, parents, kinds, times, attributes, statuses, scope and resource.
// otlpexport's TestFinishedSpanEncodesAsTheSDKsSpan holds the encoding.
func TestStartSpanAtWritesWhatTheSDKWould(t *testing.T) {
	h := newHarness(t, nil)
	opts := []trace.TracerOption{trace.WithInstrumentationVersion("v1")}
	ours := h.tel.TracerProvider.Tracer("github.com/chainotel/chainotel/node", opts...)
	require.IsType(t, &nodeTracer{}, ours, "the node's tracers write these spans themselves")
	sdk := h.tel.tp.Tracer("github.com/chainotel/chainotel/node", opts...)
	_, isOurs := sdk.(*nodeTracer)
	require.False(t, isOurs)

	t0 := time.Date(2026, 12, 6, 23, 0, 0, 0, time.UTC)
	lateSpans(sdk, t0)
	h.flush(t)
	want := shapes(t, h.spans.GetSpans())
	h.spans.Reset()
	lateSpans(ours, t0)
	h.flush(t)
	got := shapes(t, h.spans.GetSpans())
	require.Len(t, want, 4)
	require.Equal(t, "vendor=v1", want[0].traceState, "the trace state carries down")
	require.Equal(t, want, got)
}

func TestStartSpanAtFollowsTheSampler(t *testing.T) {
	t.Setenv(envTracesSampler, samplerParentAlwaysOff)
	h := newHarness(t, nil)
	tracer := h.tel.TracerProvider.Tracer("test")
	t0 := time.Now()

	ctx, root := StartSpanAt(context.Background(), tracer, "root", t0)
	require.False(t, root.IsRecording(), "a root span under parentbased_always_off")
	_, child := StartSpanAt(ctx, tracer, "child", t0)
	require.False(t, child.IsRecording(), "its child keeps the parent's decision")
	child.End(t0, codes.Unset, "")
	root.End(t0, codes.Unset, "")

	sampled := trace.ContextWithRemoteSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1}, SpanID: trace.SpanID{1}, TraceFlags: trace.FlagsSampled, Remote: true,
	}))
	_, kept := StartSpanAt(sampled, tracer, "kept", t0)
	require.True(t, kept.IsRecording(), "a sampled remote parent's child")
	kept.End(t0.Add(time.Millisecond), codes.Unset, "")
	h.flush(t)
	got := h.spans.GetSpans()
	require.Len(t, got, 1)
	require.Equal(t, "kept", got[0].Name)
	require.Equal(t, trace.TraceID{1}, got[0].SpanContext.TraceID())
	require.True(t, got[0].Parent.IsRemote())
}

func TestStartSpanAtLeavesSpanLimitsToTheSDK(t *testing.T) {
	t.Setenv("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "1")
	h := newHarness(t, nil)
	tracer := h.tel.TracerProvider.Tracer("test")
	_, isOurs := tracer.(*nodeTracer)
	require.False(t, isOurs, "with an attribute limit set, every span is the SDK's")
	_, span := StartSpanAt(context.Background(), tracer, "limited", time.Now())
	span.End(time.Now(), codes.Unset, "", attribute.Int("a", 1), attribute.Int("b", 2))
	h.flush(t)
	got := h.spans.GetSpans()
	require.Len(t, got, 1)
	require.Len(t, got[0].Attributes, 1, "the SDK applied the limit")
	require.Equal(t, 1, got[0].DroppedAttributes)
}

func TestStartSpanAtWithTelemetryDisabled(t *testing.T) {
	tracer := tracenoop.NewTracerProvider().Tracer("test")
	parent := trace.ContextWithRemoteSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1}, SpanID: trace.SpanID{1}, TraceFlags: trace.FlagsSampled, Remote: true,
	}))
	ctx, span := StartSpanAt(parent, tracer, "nothing", time.Now())
	require.False(t, span.IsRecording())
	require.Equal(t, trace.SpanID{1}, trace.SpanContextFromContext(ctx).SpanID(), "the incoming context passes through")
	span.End(time.Now(), codes.Error, "ignored", attribute.Int("a", 1))
	LateSpan{}.End(time.Now(), codes.Unset, "")
}

// discardSpans is an exporter that drops everything at once, so a benchmark
// measures the spans' making.
type discardSpans struct{}

func (discardSpans) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discardSpans) Shutdown(context.Context) error                             { return nil }

// BenchmarkStartSpanAt writes the mempool's three spans of one transaction
// through the SDK's tracer and through the node's, to an exporter that drops
// them:
//
//	go test -run '^$' -bench StartSpanAt -benchmem ./node/telemetry/
func BenchmarkStartSpanAt(b *testing.B) {
	for _, path := range []string{"sdk", "node"} {
		b.Run(path, func(b *testing.B) {
			h := newHarness(b, func(c *Config) { c.SpanExporter = discardSpans{} })
			tracer := h.tel.TracerProvider.Tracer("bench")
			if path == "sdk" {
				tracer = h.tel.tp.Tracer("bench")
			}
			ctx, parent := tracer.Start(context.Background(), "POST /tx")
			defer parent.End()
			b.ReportAllocs()
			for b.Loop() {
				lateSpans3(ctx, tracer)
			}
		})
	}
}

// lateSpans3 is the mempool's three spans of one admitted transaction.
func lateSpans3(ctx context.Context, tracer trace.Tracer) {
	now := time.Now()
	actx, add := StartSpanAt(ctx, tracer, semconv.SpanMempoolAdd, now)
	sctx, st := StartSpanAt(actx, tracer, semconv.SpanValidateStateTransition, now)
	_, gas := StartSpanAt(sctx, tracer, semconv.SpanValidateGasUsage, now)
	gas.End(now, codes.Unset, "", attribute.Int64(semconv.TxGasKey, 21000), attribute.Int64(semconv.TxFeeKey, 1))
	st.End(now, codes.Unset, "", attribute.Int64(semconv.AccountNonceKey, 7))
	add.End(now, codes.Unset, "", attribute.String(semconv.TxHashKey, "ab12"), attribute.Int(semconv.MempoolSizeKey, 3))
}

// A span the node writes itself begins under the resource in force, so an
// environment change (a SIGHUP) adds no allocation to it: liveSpans wraps
// only the SDK's spans, whose resource the provider fixed.
func TestStartSpanAtCostsTheSameAfterAnEnvironmentChange(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.SpanExporter = discardSpans{} })
	tracer := h.tel.TracerProvider.Tracer("test")
	ctx, parent := tracer.Start(context.Background(), "POST /tx")
	defer parent.End()
	before := testing.AllocsPerRun(200, func() { lateSpans3(ctx, tracer) })
	require.NoError(t, h.tel.SetEnvironment(context.Background(), "staging"))
	after := testing.AllocsPerRun(200, func() { lateSpans3(ctx, tracer) })
	require.Equal(t, before, after, "allocations of the mempool's three spans before and after the change")
}
