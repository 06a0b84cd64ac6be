package otlpexport

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// fixedIDs is an ID generator that hands out the span IDs 1, 2, 3, ... and
// the trace ID {7}, so a test can make the same span twice.
type fixedIDs struct{ next byte }

func (g *fixedIDs) NewIDs(context.Context) (trace.TraceID, trace.SpanID) {
	return trace.TraceID{7}, g.NewSpanID(context.Background(), trace.TraceID{})
}

func (g *fixedIDs) NewSpanID(context.Context, trace.TraceID) trace.SpanID {
	g.next++
	return trace.SpanID{g.next}
}

// finishedCase is one span made both ways: through the SDK's tracer and as a
// FinishedSpan.
type finishedCase struct {
	name        string
	parent      context.Context
	code        codes.Code
	description string
	attrs       []attribute.KeyValue
}

func finishedCases() []finishedCase {
	remote := trace.ContextWithRemoteSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{9}, SpanID: trace.SpanID{9}, TraceFlags: trace.FlagsSampled, Remote: true,
		TraceState: mustTraceState("k=v"),
	}))
	local := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{8}, SpanID: trace.SpanID{8}, TraceFlags: trace.FlagsSampled,
	}))
	return []finishedCase{
		{name: "mempool.add", parent: local, attrs: []attribute.KeyValue{
			attribute.String("tx.hash", "ab12"), attribute.Int("mempool.size", 100),
		}},
		{name: "validate.state_transition", parent: remote, code: codes.Error, description: "nonce too low", attrs: []attribute.KeyValue{
			attribute.Int64("account.nonce", 7), attribute.String("error.type", "validation"),
		}},
		{name: "validate.gas_usage", parent: remote, code: codes.Ok, description: "dropped for Ok", attrs: []attribute.KeyValue{
			attribute.Int64("tx.gas", 21000), attribute.Int64("tx.fee", 1),
		}},
		{name: "root", parent: context.Background()},
		{name: "more attributes than inline, a repeated key, an invalid one", parent: local, attrs: []attribute.KeyValue{
			attribute.String("a", "1"), attribute.Bool("b", true), attribute.Float64("c", 0.5), attribute.Int64Slice("d", []int64{1, 2}),
			{}, attribute.String("a", "last wins"), attribute.StringSlice("e", []string{"x"}),
		}},
	}
}

func mustTraceState(s string) trace.TraceState {
	ts, err := trace.ParseTraceState(s)
	if err != nil {
		panic(err)
	}
	return ts
}

// TestFinishedSpanEncodesAsTheSDKsSpan makes each case through the SDK
// (Start with the start time, SetStatus, SetAttributes, End with the end
// time) and as a FinishedSpan with the same IDs, and requires the node's
// exporter to send the same request for both, and otlptracegrpc to send
// that request for the FinishedSpans too.
func TestFinishedSpanEncodesAsTheSDKsSpan(t *testing.T) {
	clearOTLPEnv(t)
	srv := startCaptureServer(t)
	res := resource.NewWithAttributes("https://schema/1", attribute.String("service.name", "blockchain"))
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec), sdktrace.WithResource(res), sdktrace.WithIDGenerator(&fixedIDs{}))
	tr := tp.Tracer("github.com/chainotel/chainotel/node", trace.WithInstrumentationVersion("v1"), trace.WithSchemaURL("https://schema/2"))
	scope := &instrumentation.Scope{Name: "github.com/chainotel/chainotel/node", Version: "v1", SchemaURL: "https://schema/2"}

	start := time.Date(2026, 12, 6, 23, 0, 0, 123, time.UTC)
	var finished []sdktrace.ReadOnlySpan
	for i, c := range finishedCases() {
		begin, end := start.Add(time.Duration(i)*time.Second), start.Add(time.Duration(i)*time.Second+1500*time.Microsecond)
		_, span := tr.Start(c.parent, c.name, trace.WithTimestamp(begin))
		if c.code != codes.Unset {
			span.SetStatus(c.code, c.description)
		}
		span.SetAttributes(c.attrs...)
		span.End(trace.WithTimestamp(end))

		fs := new(FinishedSpan)
		fs.Begin(c.name, span.SpanContext(), trace.SpanContextFromContext(c.parent), begin, scope, res)
		fs.Finish(end, c.code, c.description, c.attrs...)
		finished = append(finished, fs)
	}
	sdkSpans := rec.Ended()
	require.Len(t, sdkSpans, len(finished))

	ours := newTestExporter(t, srv.addr)
	ctx := t.Context()
	require.NoError(t, ours.ExportSpans(ctx, sdkSpans))
	require.NoError(t, ours.ExportSpans(ctx, finished))
	reqs := srv.take()
	require.Len(t, reqs, 2)
	requireSameRequest(t, reqs[0], reqs[1])

	want, got := sendBoth(t, srv, finished)
	requireSameRequest(t, want, got)
	requireSameRequest(t, reqs[0], got)
}

func TestFinishedSpanKeepsFewAttributesInline(t *testing.T) {
	fs := new(FinishedSpan)
	attrs := []attribute.KeyValue{attribute.String("tx.hash", "ab"), attribute.Int("mempool.size", 1)}
	allocs := testing.AllocsPerRun(100, func() {
		fs.Finish(time.Time{}, codes.Unset, "", attrs...)
	})
	require.Zero(t, allocs)
	require.Equal(t, attrs, fs.Attributes())
}
