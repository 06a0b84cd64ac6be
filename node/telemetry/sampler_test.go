package telemetry

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/chainotel/chainotel/internal/testproc"
	"github.com/chainotel/chainotel/node/telemetry/internal/otlpexport"
	"github.com/chainotel/chainotel/semconv"
)

// samplerTelemetry sets the node's telemetry up with the sampler variables
// given, exporting to an in-memory exporter.
func samplerTelemetry(t *testing.T, sampler, arg string) (*Telemetry, error) {
	t.Helper()
	t.Setenv("OTEL_TRACES_SAMPLER", sampler)
	t.Setenv("OTEL_TRACES_SAMPLER_ARG", arg)
	tel, err := Setup(context.Background(), Config{
		NodeID:       "node0",
		ChainID:      "chainotel-dev",
		Consensus:    semconv.ConsensusRaft,
		LogFile:      filepath.Join(t.TempDir(), "app.log"),
		Stderr:       &testproc.SyncBuffer{},
		Registerer:   prometheus.NewRegistry(),
		Exit:         func(int) {},
		SpanExporter: tracetest.NewInMemoryExporter(),
		LogExporter:  &recordingLogExporter{},
	})
	if err == nil {
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			require.NoError(t, tel.Shutdown(ctx))
		})
	}
	return tel, err
}

// sampled reports whether a new span is sampled, under parent when given.
func sampled(tel *Telemetry, name string, parent *trace.SpanContext) bool {
	ctx := context.Background()
	if parent != nil {
		ctx = trace.ContextWithRemoteSpanContext(ctx, *parent)
	}
	_, span := tel.TracerProvider.Tracer("test").Start(ctx, name)
	defer span.End()
	return span.SpanContext().IsSampled()
}

func remoteParent(flags trace.TraceFlags) *trace.SpanContext {
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    trace.TraceID{1, 2, 3},
		SpanID:     trace.SpanID{4, 5, 6},
		TraceFlags: flags,
		Remote:     true,
	})
	return &sc
}

func TestStandardSamplers(t *testing.T) {
	tests := []struct {
		sampler, arg         string
		root, underUnsampled bool
		underSampled         bool
	}{
		{"", "", true, true, true},
		{"always_on", "", true, true, true},
		{"ALWAYS_OFF", "", false, false, false},
		{"traceidratio", "1", true, true, true},
		{"traceidratio", "0", false, false, false},
		{"parentbased_always_on", "", true, false, true},
		{"parentbased_always_off", "", false, false, true},
		{"parentbased_traceidratio", "0", false, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.sampler+"/"+tt.arg, func(t *testing.T) {
			tel, err := samplerTelemetry(t, tt.sampler, tt.arg)
			require.NoError(t, err)
			require.Equal(t, tt.root, sampled(tel, "root", nil))
			require.Equal(t, tt.underUnsampled, sampled(tel, "child", remoteParent(0)))
			require.Equal(t, tt.underSampled, sampled(tel, "child", remoteParent(trace.FlagsSampled)))
		})
	}
}

func TestSamplerRefusesBadValues(t *testing.T) {
	tests := []struct {
		sampler, arg, want string
	}{
		{"xray", "", `OTEL_TRACES_SAMPLER: want one of always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off, parentbased_traceidratio, jaeger_remote, parentbased_jaeger_remote, got "xray"`},
		{"traceidratio", "half", `OTEL_TRACES_SAMPLER_ARG: want a probability between 0 and 1, got "half"`},
		{"parentbased_traceidratio", "1.5", `OTEL_TRACES_SAMPLER_ARG: want a probability between 0 and 1, got "1.5"`},
		{"jaeger_remote", "endpoint=localhost:5778", `OTEL_TRACES_SAMPLER_ARG: endpoint: want an http(s) URL such as http://localhost:5778/sampling, got "localhost:5778"`},
		{"jaeger_remote", "pollingIntervalMs=0", `OTEL_TRACES_SAMPLER_ARG: pollingIntervalMs: want a positive number of milliseconds, got "0"`},
		{"jaeger_remote", "initialSamplingRate=2", `OTEL_TRACES_SAMPLER_ARG: initialSamplingRate: want a probability between 0 and 1, got "2"`},
		{"jaeger_remote", "pollingIntervalMs", `OTEL_TRACES_SAMPLER_ARG: want key=value pairs separated by commas, got "pollingIntervalMs"`},
		{"jaeger_remote", "endpoints=http://x/sampling", `OTEL_TRACES_SAMPLER_ARG: unknown key "endpoints" (known: endpoint, pollingIntervalMs, initialSamplingRate)`},
		{"jaeger_remote", "pollingIntervalMs=5,pollingIntervalMs=6", `OTEL_TRACES_SAMPLER_ARG: pollingIntervalMs given twice`},
	}
	for _, tt := range tests {
		t.Run(tt.sampler+"/"+tt.arg, func(t *testing.T) {
			_, err := samplerTelemetry(t, tt.sampler, tt.arg)
			require.ErrorIs(t, err, otlpexport.ErrInvalidEnv)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

// strategyServer serves Jaeger remote sampling strategies, as the
// collector's chainheadsampling extension does, from the JSON in strategy;
// it returns the strategy URL.
func strategyServer(t *testing.T, strategy *atomic.Value) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("service") != "blockchain" {
			http.Error(w, "unknown service", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(strategy.Load().(string)))
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/sampling"
}

// The node follows the strategy the collector serves for service.name
// blockchain, keeps a remote parent's decision whatever the strategy says,
// and follows an edit of the head: section within a poll.
func TestJaegerRemoteFollowsTheCollector(t *testing.T) {
	var strategy atomic.Value
	strategy.Store(`{"strategyType":"PROBABILISTIC","probabilisticSampling":{"samplingRate":0},
		"operationSampling":{"defaultSamplingProbability":0,"defaultLowerBoundTracesPerSecond":0,
		"perOperationStrategies":[{"operation":"consensus.propose","probabilisticSampling":{"samplingRate":1}}]}}`)
	url := strategyServer(t, &strategy)
	tel, err := samplerTelemetry(t, "jaeger_remote",
		"endpoint="+url+", pollingIntervalMs=20, initialSamplingRate=1")
	require.NoError(t, err)

	// The first strategy replaces the initial rate of 1.
	require.Eventually(t, func() bool { return !sampled(tel, semconv.SpanBlockApply, nil) }, 10*time.Second, 5*time.Millisecond)
	require.True(t, sampled(tel, "consensus.propose", nil), "per-operation keep 1")
	require.True(t, sampled(tel, semconv.SpanBlockApply, remoteParent(trace.FlagsSampled)), "a sampled parent's trace stays whole")
	require.False(t, sampled(tel, "consensus.propose", remoteParent(0)), "an unsampled parent's decision holds too")

	strategy.Store(`{"strategyType":"PROBABILISTIC","probabilisticSampling":{"samplingRate":1}}`)
	require.Eventually(t, func() bool { return sampled(tel, semconv.SpanBlockApply, nil) }, 10*time.Second, 5*time.Millisecond)
}
