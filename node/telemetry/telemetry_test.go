package telemetry

import (
	"context"
	"errors"
	"log"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/chainotel/chainotel/internal/testproc"
	"github.com/chainotel/chainotel/semconv"
)

// waitFor bounds every wait on the background export in these tests.
const waitFor = 10 * time.Second

// keepOnShutdown keeps an in-memory exporter's spans past Shutdown (which
// would reset them), so tests can look at what a shutdown flushed.
type keepOnShutdown struct{ *tracetest.InMemoryExporter }

func (keepOnShutdown) Shutdown(context.Context) error { return nil }

// harness is a Telemetry exporting to in-memory exporters, with everything a
// test looks at afterwards.
type harness struct {
	tel     *Telemetry
	spans   *tracetest.InMemoryExporter
	logs    *recordingLogExporter
	reg     *prometheus.Registry
	stderr  *testproc.SyncBuffer
	logFile string
	exits   chan int
}

func baseConfig(t testing.TB) Config {
	return Config{
		NodeID:         "node0",
		ChainID:        "chainotel-dev",
		Consensus:      semconv.ConsensusRaft,
		ServiceVersion: "0.3.0",
		Environment:    "dev",
		LogFile:        filepath.Join(t.TempDir(), "logs", "node0", "app.log"),
		Exit:           func(int) {},
	}
}

func newHarness(t testing.TB, mutate func(*Config)) *harness {
	t.Helper()
	h := &harness{
		spans:  tracetest.NewInMemoryExporter(),
		logs:   &recordingLogExporter{},
		reg:    prometheus.NewRegistry(),
		stderr: &testproc.SyncBuffer{},
		exits:  make(chan int, 4),
	}
	c := baseConfig(t)
	c.Stderr = h.stderr
	c.Registerer = h.reg
	c.Exit = func(code int) { h.exits <- code }
	c.SpanExporter = keepOnShutdown{h.spans}
	c.LogExporter = h.logs
	if mutate != nil {
		mutate(&c)
	}
	h.logFile = c.LogFile
	tel, err := Setup(context.Background(), c)
	require.NoError(t, err)
	h.tel = tel
	shutdownAtCleanup(t, tel)
	return h
}

// flush exports everything ended so far.
func (h *harness) flush(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	require.NoError(t, h.tel.forceFlush(ctx))
}

func TestResourceFollowsConventions(t *testing.T) {
	h := newHarness(t, nil)
	_, span := h.tel.TracerProvider.Tracer("test").Start(context.Background(), semconv.SpanMempoolAdd)
	span.End()
	h.flush(t)

	got := h.spans.GetSpans()
	require.Len(t, got, 1)
	res := got[0].Resource.Set()
	for key, want := range map[string]string{
		semconv.ServiceNameKey:           semconv.ServiceName,
		semconv.ServiceInstanceIDKey:     "node0",
		semconv.ServiceVersionKey:        "0.3.0",
		semconv.DeploymentEnvironmentKey: "dev",
		semconv.ChainIDKey:               "chainotel-dev",
		semconv.ChainConsensusKey:        semconv.ConsensusRaft,
	} {
		v, ok := res.Value(attribute.Key(key))
		require.True(t, ok, "resource lacks %s", key)
		require.Equal(t, want, v.AsString(), key)
	}
}

func TestResourceEnvironmentWins(t *testing.T) {
	t.Setenv("OTEL_SERVICE_NAME", "blockchain-canary")
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=staging,team=chain")
	h := newHarness(t, nil)
	res := h.tel.res.Set()
	for key, want := range map[string]string{
		semconv.ServiceNameKey:           "blockchain-canary",
		semconv.DeploymentEnvironmentKey: "staging",
		"team":                           "chain",
		semconv.ServiceInstanceIDKey:     "node0",
	} {
		v, ok := res.Value(attribute.Key(key))
		require.True(t, ok, "resource lacks %s", key)
		require.Equal(t, want, v.AsString(), key)
	}
}

func TestSamplesEverything(t *testing.T) {
	// An unsampled parent from a client must not make the node drop its
	// spans: sampling is the collector's decision.
	h := newHarness(t, nil)
	parent := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}, Remote: true,
	})
	ctx := trace.ContextWithRemoteSpanContext(context.Background(), parent)
	_, span := h.tel.TracerProvider.Tracer("test").Start(ctx, semconv.SpanValidateTransaction)
	span.End()
	h.flush(t)
	got := h.spans.GetSpans()
	require.Len(t, got, 1)
	require.Equal(t, parent.TraceID(), got[0].SpanContext.TraceID())
}

func TestSDKDisabled(t *testing.T) {
	t.Setenv("OTEL_SDK_DISABLED", "true")
	h := newHarness(t, nil)
	require.False(t, h.tel.Enabled)

	ctx, span := h.tel.TracerProvider.Tracer("test").Start(context.Background(), semconv.SpanMempoolAdd)
	require.False(t, span.IsRecording())
	h.tel.Logger.InfoContext(ctx, "still logged locally")
	span.End()
	h.flush(t)

	require.Empty(t, h.spans.GetSpans(), "no span may reach an exporter when disabled")
	require.Empty(t, h.logs.Records(), "no OTLP log record when disabled")
	require.Contains(t, h.stderr.String(), "still logged locally")
	require.FileExists(t, h.logFile)
}

func TestSetupRejectsBadInput(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*Config)
		env     map[string]string
		want    string
		wantErr error
	}{
		{"no node id", func(c *Config) { c.NodeID = " " }, nil, "NodeID is empty", errInvalidConfig},
		{"bad consensus", func(c *Config) { c.Consensus = "paxos" }, nil, `Consensus: want "raft" or "pow", got "paxos"`, errInvalidConfig},
		{"no exit", func(c *Config) { c.Exit = nil }, nil, "Exit is nil", errInvalidConfig},
		{"bad level", func(c *Config) { c.LogLevel = "loud" }, nil, `LogLevel: want debug, info, warn or error, got "loud"`, errInvalidConfig},
		{"negative queue", func(c *Config) { c.QueueSize = -1 }, nil, "QueueSize: must be >= 0, got -1", errInvalidConfig},
		{"negative timeout", func(c *Config) { c.ExportTimeout = -time.Second }, nil, "ExportTimeout: must be >= 0, got -1s", errInvalidConfig},
		{"endpoint without port", func(c *Config) { c.OTLPEndpoint = "collector" }, nil, `OTLPEndpoint: want host:port or a URL, got "collector"`, errInvalidConfig},
		{"endpoint bad scheme", func(c *Config) { c.OTLPEndpoint = "ftp://collector:4317" }, nil, `scheme "ftp"`, errInvalidConfig},
		{"http with tls", func(c *Config) {
			c.OTLPEndpoint = "http://collector:4317"
			c.TLS = clientTLS(t, newTestCA(t))
		}, nil, "asks for plain text but TLS is configured", errInvalidConfig},
		{"sdk disabled typo", nil, map[string]string{"OTEL_SDK_DISABLED": "yes"}, `OTEL_SDK_DISABLED: want true or false, got "yes"`, errInvalidEnv},
		{"unknown propagator", nil, map[string]string{"OTEL_PROPAGATORS": "tracecontext,zipkin"}, `OTEL_PROPAGATORS="tracecontext,zipkin"`, errInvalidEnv},
		{"bad queue env", nil, map[string]string{"OTEL_BSP_MAX_QUEUE_SIZE": "lots"}, `OTEL_BSP_MAX_QUEUE_SIZE: want a positive integer, got "lots"`, errInvalidEnv},
		{"bad delay env", nil, map[string]string{"OTEL_BLRP_SCHEDULE_DELAY": "1s"}, `OTEL_BLRP_SCHEDULE_DELAY: want a positive number of milliseconds, got "1s"`, errInvalidEnv},
		{"bad resource env", nil, map[string]string{"OTEL_RESOURCE_ATTRIBUTES": "novalue"}, "OTEL_RESOURCE_ATTRIBUTES", errInvalidEnv},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			c := baseConfig(t)
			c.SpanExporter = tracetest.NewInMemoryExporter()
			c.LogExporter = &recordingLogExporter{}
			reg := prometheus.NewRegistry()
			c.Registerer = reg
			if tt.mutate != nil {
				tt.mutate(&c)
			}
			_, err := Setup(context.Background(), c)
			require.ErrorContains(t, err, tt.want)
			require.True(t, errors.Is(err, tt.wantErr), "want %v, got %v", tt.wantErr, err)

			// A failed Setup leaves nothing registered.
			mfs, gerr := reg.Gather()
			require.NoError(t, gerr)
			require.Empty(t, mfs)
		})
	}
}

func TestSelfMetricsRegistration(t *testing.T) {
	h := newHarness(t, nil)
	names := gatheredNames(t, h.reg)
	for _, n := range []string{
		metricDroppedSpans, metricDroppedLogRecords, metricExportedSpans,
		metricExportedLogs, metricExportFailures, metricQueued,
	} {
		require.Contains(t, names, n)
	}

	// A second Setup on the same registry is refused while the first runs...
	c := baseConfig(t)
	c.Registerer = h.reg
	c.SpanExporter = tracetest.NewInMemoryExporter()
	c.LogExporter = &recordingLogExporter{}
	_, err := Setup(context.Background(), c)
	require.ErrorContains(t, err, "already registered")

	// ...and works once it has shut down.
	require.NoError(t, h.tel.Shutdown(context.Background()))
	require.Empty(t, gatheredNames(t, h.reg))
	tel, err := Setup(context.Background(), c)
	require.NoError(t, err)
	require.NoError(t, tel.Shutdown(context.Background()))
}

func gatheredNames(t *testing.T, g prometheus.Gatherer) []string {
	t.Helper()
	mfs, err := g.Gather()
	require.NoError(t, err)
	var names []string
	for _, mf := range mfs {
		names = append(names, mf.GetName())
	}
	return names
}

func resourceValue(t *testing.T, set attribute.Set, key string) string {
	t.Helper()
	v, ok := set.Value(attribute.Key(key))
	require.True(t, ok, "resource lacks %s", key)
	return v.AsString()
}

// shutdownAtCleanup shuts tel down when the test ends, within a deadline so
// that a failing test cannot hang on a collector that never answers.
func shutdownAtCleanup(t testing.TB, tel *Telemetry) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		_ = tel.Shutdown(ctx)
	})
}

func TestSetGlobals(t *testing.T) {
	h := newHarness(t, nil)
	h.tel.SetGlobals()
	t.Cleanup(func() {
		otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { log.Print(err) }))
		otel.SetTracerProvider(tracenoop.NewTracerProvider())
		otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator())
	})
	require.Equal(t, h.tel.TracerProvider, otel.GetTracerProvider())
	require.Equal(t, h.tel.Propagator, otel.GetTextMapPropagator())

	// SDK errors (failed exports) reach the local log, rate-limited, and
	// never the OTLP log pipeline that may be what is failing.
	otel.Handle(errors.New("traces export: connection refused"))
	otel.Handle(errors.New("traces export: connection refused again"))
	h.flush(t)
	var warned int
	for _, l := range jsonLines(t, h.stderr.String()) {
		if l["level"] == "WARN" {
			warned++
			require.Contains(t, l["error"], "connection refused")
		}
	}
	require.Equal(t, 1, warned)
	require.Empty(t, h.logs.Records())
}
