package collectorproc_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
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

// passThrough is a configuration that forwards traces unchanged to the sink,
// without a sending queue, so exports reach the sink in the order they came.
func passThrough(sinkAddr string) string {
	return fmt.Sprintf(`
extensions:
  health_check: {}
receivers:
  otlp:
    protocols:
      grpc: {}
exporters:
  otlp_grpc:
    endpoint: %s
    tls:
      insecure: true
    sending_queue:
      enabled: false
service:
  extensions: [health_check]
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [otlp_grpc]
`, sinkAddr)
}

func TestCollectorForwardsTracesToTheSink(t *testing.T) {
	sink := otlpsink.Start(t)
	col := collectorproc.Start(t, collectorproc.Options{Config: passThrough(sink.Addr())})

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
	a := collectorproc.Start(t, collectorproc.Options{Config: passThrough(sink.Addr())})
	b := collectorproc.Start(t, collectorproc.Options{Config: passThrough(sink.Addr())})
	require.NotEqual(t, a.OTLPGRPC, b.OTLPGRPC)
	require.False(t, a.Exited())
	require.False(t, b.Exited())
}

func TestValidate(t *testing.T) {
	bin := testbin.OtelcolChain(t)
	ctx := context.Background()
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	require.NoError(t, os.WriteFile(good, []byte(passThrough("127.0.0.1:4317")), 0o644))
	require.NoError(t, collectorproc.Validate(ctx, bin, nil, good))

	bad := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte(`
receivers:
  otlp:
    protocols:
      grpc: {}
exporters:
  no_such_exporter: {}
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [no_such_exporter]
`), 0o644))
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
		collectorproc.Start(rec, collectorproc.Options{Config: `
extensions:
  health_check: {}
receivers:
  otlp:
    protocols:
      grpc: {}
exporters:
  debug: {}
processors:
  memory_limiter:
    check_interval: 0s
service:
  extensions: [health_check]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [memory_limiter]
      exporters: [debug]
`})
	}()
	<-done
	require.True(t, rec.failed, "Start must fail")
	require.Contains(t, rec.msg, "otelcol-chain exited")
	require.Contains(t, rec.msg, "check_interval")
}
