package otlpsink_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploggrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	otellog "go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/chainotel/chainotel/internal/otlpsink"
	"github.com/chainotel/chainotel/semconv"
)

const waitTimeout = 10 * time.Second

func testResource() *resource.Resource {
	return resource.NewSchemaless(attribute.String(semconv.ServiceInstanceIDKey, "node0"))
}

func TestSinkReceivesTracesFromTheSDK(t *testing.T) {
	sink := otlpsink.Start(t)
	ctx := context.Background()
	exp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(sink.Addr()), otlptracegrpc.WithInsecure())
	require.NoError(t, err)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithResource(testResource()))
	t.Cleanup(func() { _ = tp.Shutdown(ctx) })

	tracer := tp.Tracer("otlpsink_test")
	rootCtx, root := tracer.Start(ctx, "POST /tx")
	_, child := tracer.Start(rootCtx, semconv.SpanValidateTransaction)
	child.SetAttributes(attribute.String(semconv.TxTypeKey, semconv.TxTypeTransfer))
	child.SetStatus(codes.Error, "bad nonce")
	child.End()
	root.End()

	spans := sink.WaitSpans(t, waitTimeout, "both spans", 2, func(otlpsink.Span) bool { return true })
	require.Len(t, sink.TraceIDs(), 1)
	traceID := sink.TraceIDs()[0]
	require.Equal(t, [16]byte(root.SpanContext().TraceID()), [16]byte(traceID))
	require.Len(t, sink.Trace(traceID), 2)

	got := sink.SpansMatching(func(s otlpsink.Span) bool { return s.Name() == semconv.SpanValidateTransaction })
	require.Len(t, got, 1)
	txType, ok := got[0].Attr(semconv.TxTypeKey)
	require.True(t, ok)
	require.Equal(t, semconv.TxTypeTransfer, txType)
	node, ok := got[0].ResourceAttr(semconv.ServiceInstanceIDKey)
	require.True(t, ok)
	require.Equal(t, "node0", node)
	require.Equal(t, "bad nonce", got[0].Status().Message())
	require.Equal(t, spans[0].TraceID(), spans[1].TraceID())

	traceReqs, logReqs := sink.Requests()
	require.Equal(t, 2, traceReqs, "one request per span with a synchronous exporter")
	require.Zero(t, logReqs)

	sink.Reset()
	require.Empty(t, sink.Spans())
}

func TestSinkReceivesLogsFromTheSDK(t *testing.T) {
	sink := otlpsink.Start(t)
	ctx := context.Background()
	exp, err := otlploggrpc.New(ctx, otlploggrpc.WithEndpoint(sink.Addr()), otlploggrpc.WithInsecure())
	require.NoError(t, err)
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewSimpleProcessor(exp)), sdklog.WithResource(testResource()))
	t.Cleanup(func() { _ = lp.Shutdown(ctx) })

	var rec otellog.Record
	rec.SetBody(attribute.StringValue("block applied"))
	rec.SetSeverity(otellog.SeverityInfo)
	rec.AddAttributes(attribute.Int64(semconv.BlockHeightKey, 42))
	lp.Logger("otlpsink_test").Emit(ctx, rec)

	logs := sink.WaitLogs(t, waitTimeout, "the log record", 1, func(l otlpsink.LogRecord) bool {
		return l.Body().AsString() == "block applied"
	})
	height, ok := logs[0].Attr(semconv.BlockHeightKey)
	require.True(t, ok)
	require.Equal(t, "42", height)
	require.Len(t, sink.Logs(), 1)
}

// WaitFor must fail the test, naming what it waited for, when the condition
// never holds.
func TestWaitForTimesOut(t *testing.T) {
	sink := otlpsink.Start(t)
	rec := &recordingTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sink.WaitSpans(rec, 100*time.Millisecond, "a span that never comes", 1, func(otlpsink.Span) bool { return true })
	}()
	<-done
	require.True(t, rec.failed)
	require.Contains(t, rec.msg, "a span that never comes")
	require.Contains(t, rec.msg, "0 of 1 spans so far")
}

// recordingTB records Fatalf instead of ending the test, so the failure path
// of a helper can be checked.
type recordingTB struct {
	testing.TB
	failed bool
	msg    string
}

func (r *recordingTB) Helper() {}

func (r *recordingTB) Fatalf(format string, args ...any) {
	r.failed = true
	r.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
