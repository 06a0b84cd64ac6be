//go:build integration

package collector

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/chainotel/chainotel/internal/collectorproc"
	"github.com/chainotel/chainotel/internal/otlpsink"
	"github.com/chainotel/chainotel/internal/testbin"
	"github.com/chainotel/chainotel/semconv"
)

func TestCollectorForwardsTracesToTheSink(t *testing.T) {
	sink := otlpsink.Start(t)
	col := collectorproc.Start(t, passThrough(t, sink))

	ctx := context.Background()
	exp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(col.OTLPGRPC), otlptracegrpc.WithInsecure())
	require.NoError(t, err)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(ctx) })
	_, span := tp.Tracer("collectorproc_test").Start(ctx, semconv.SpanBlockApply)
	span.End()

	got := sink.WaitSpans(t, 30*time.Second, "the span through the collector", 1, func(s otlpsink.Span) bool {
		return s.Name() == semconv.SpanBlockApply
	})
	require.Equal(t, [16]byte(span.SpanContext().TraceID()), [16]byte(got[0].TraceID()))

	metrics, err := col.Metrics(ctx)
	require.NoError(t, err)
	require.Contains(t, metrics, "otelcol_receiver_accepted_spans", "the collector's own metrics")
	accepted, err := col.Metric(ctx, "otelcol_receiver_accepted_spans", map[string]string{"receiver": "otlp"})
	require.NoError(t, err)
	require.Equal(t, 1.0, accepted)
	_, err = col.Metric(ctx, "otelcol_no_such_metric", nil)
	require.ErrorIs(t, err, collectorproc.ErrNoMetric)

	require.NoError(t, col.Stop(30*time.Second), "a clean shutdown on SIGTERM")
}

// Two collectors with the same configuration run side by side: every port
// they listen on is their own.
func TestCollectorsDoNotCollide(t *testing.T) {
	sink := otlpsink.Start(t)
	a := collectorproc.Start(t, passThrough(t, sink))
	b := collectorproc.Start(t, passThrough(t, sink))
	require.NotEqual(t, a.OTLPGRPC, b.OTLPGRPC)
	require.False(t, a.Exited())
	require.False(t, b.Exited())
}

func TestValidate(t *testing.T) {
	bin := testbin.OtelcolChain(t)
	ctx := context.Background()
	good := collectorproc.Testdata(t, "passthrough.yaml")
	require.NoError(t, collectorproc.Validate(ctx, bin, []string{"SINK_ENDPOINT=127.0.0.1:4317"}, good))

	bad := collectorproc.Testdata(t, "invalid_unknown_exporter.yaml")
	err := collectorproc.Validate(ctx, bin, nil, bad)
	require.ErrorIs(t, err, collectorproc.ErrInvalidConfig)
	require.ErrorContains(t, err, "no_such_exporter")
}

// A collector that cannot start fails Start with its own explanation rather
// than a bare timeout.
func TestStartReportsAnExitedCollector(t *testing.T) {
	rec := &recordingTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		collectorproc.Start(rec, collectorproc.Options{ConfigFiles: []string{collectorproc.Testdata(t, "exits_at_start.yaml")}})
	}()
	<-done
	require.True(t, rec.failed, "Start must fail")
	require.Contains(t, rec.msg, "otelcol-chain exited")
	require.Contains(t, rec.msg, "check_interval")
}

// passThrough starts a collector that forwards traces unchanged to sink
// (testdata/passthrough.yaml).
func passThrough(t *testing.T, sink *otlpsink.Sink) collectorproc.Options {
	return collectorproc.Options{
		ConfigFiles: []string{collectorproc.Testdata(t, "passthrough.yaml")},
		Env:         []string{"SINK_ENDPOINT=" + sink.Addr()},
	}
}
