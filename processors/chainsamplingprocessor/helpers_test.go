package chainsamplingprocessor

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/chainotel/chainotel/processors/chainsamplingprocessor/internal/metadata"
	"github.com/chainotel/chainotel/semconv"
)

// waitFor is the deadline of every condition wait in these tests.
const waitFor = 10 * time.Second

func newSettings(t *testing.T) processor.Settings {
	t.Helper()
	return processortest.NewNopSettings(metadata.Type)
}

// harness is a processor built through the factory, sending into a sink,
// with its logs and metrics observable.
type harness struct {
	t    *testing.T
	proc processor.Traces
	sink *consumertest.TracesSink
	logs *observer.ObservedLogs
	tel  *componenttest.Telemetry
}

func writePolicy(t *testing.T, path, body string) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, []byte(body), 0o600))
}

// newHarness starts a processor on a policy file written into a temp dir.
func newHarness(t *testing.T, policyBody string, edit func(*Config)) (*harness, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "policies.yaml")
	writePolicy(t, path, policyBody)
	cfg := createDefaultConfig().(*Config)
	cfg.PolicyFile = path
	cfg.DecisionWait = time.Hour
	cfg.DecisionWaitAfterRoot = 0
	if edit != nil {
		edit(cfg)
	}
	return startHarness(t, cfg), path
}

func startHarness(t *testing.T, cfg *Config) *harness {
	t.Helper()
	core, logs := observer.New(zap.InfoLevel)
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	set := processortest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	set.Logger = zap.New(core)
	sink := &consumertest.TracesSink{}
	proc, err := NewFactory().CreateTraces(t.Context(), set, cfg, sink)
	require.NoError(t, err)
	require.NoError(t, proc.Start(t.Context(), componenttest.NewNopHost()))
	h := &harness{t: t, proc: proc, sink: sink, logs: logs, tel: tel}
	t.Cleanup(func() { _ = proc.Shutdown(context.Background()) })
	return h
}

func (h *harness) send(td ptrace.Traces) {
	h.t.Helper()
	require.NoError(h.t, h.proc.ConsumeTraces(h.t.Context(), td))
}

func (h *harness) shutdown() {
	h.t.Helper()
	require.NoError(h.t, h.proc.Shutdown(h.t.Context()))
}

// kept returns every span the sink received, by trace id.
func (h *harness) kept() map[pcommon.TraceID][]ptrace.Span {
	out := map[pcommon.TraceID][]ptrace.Span{}
	for _, td := range h.sink.AllTraces() {
		rss := td.ResourceSpans()
		for i := 0; i < rss.Len(); i++ {
			sss := rss.At(i).ScopeSpans()
			for j := 0; j < sss.Len(); j++ {
				spans := sss.At(j).Spans()
				for k := 0; k < spans.Len(); k++ {
					s := spans.At(k)
					out[s.TraceID()] = append(out[s.TraceID()], s)
				}
			}
		}
	}
	return out
}

// counter sums the data points of a counter the processor exports.
func (h *harness) counter(name string) int64 {
	return h.counterWhere(name, "", "")
}

// counterWhere sums the data points of a counter whose attribute key has
// value (all of them when key is empty).
func (h *harness) counterWhere(name, key, value string) int64 {
	m, err := h.tel.GetMetric(name)
	if err != nil {
		return 0
	}
	var n int64
	if sum, ok := m.Data.(metricdata.Sum[int64]); ok {
		for _, dp := range sum.DataPoints {
			if v, ok := dp.Attributes.Value(attribute.Key(key)); key == "" || (ok && v.AsString() == value) {
				n += dp.Value
			}
		}
	}
	return n
}

// gauge returns the value of a gauge the processor exports (0 if unset).
func (h *harness) gauge(name string) int64 {
	m, err := h.tel.GetMetric(name)
	if err != nil {
		return 0
	}
	if g, ok := m.Data.(metricdata.Gauge[int64]); ok && len(g.DataPoints) > 0 {
		return g.DataPoints[0].Value
	}
	return 0
}

// spanSpec describes one span of a hand-made trace.
type spanSpec struct {
	id         uint64 // trace id (low bits); the high bits stay zero
	root       bool
	err        bool
	name       string
	traceState string
	attrs      map[string]any
}

func traceID(n uint64) pcommon.TraceID {
	var id pcommon.TraceID
	binary.BigEndian.PutUint64(id[8:], n)
	binary.BigEndian.PutUint64(id[:8], n*0x9e3779b97f4a7c15)
	return id
}

// spans builds one batch of hand-made spans under one node resource.
func spans(t *testing.T, specs ...spanSpec) ptrace.Traces {
	t.Helper()
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr(semconv.ServiceInstanceIDKey, "node0")
	ss := rs.ScopeSpans().AppendEmpty()
	now := time.Now()
	for i, sp := range specs {
		s := ss.Spans().AppendEmpty()
		s.SetTraceID(traceID(sp.id))
		s.SetSpanID(pcommon.SpanID{byte(i + 1), 7})
		if !sp.root {
			s.SetParentSpanID(pcommon.SpanID{9})
		}
		s.SetName(sp.name)
		if s.Name() == "" {
			s.SetName(semconv.SpanMempoolAdd)
		}
		if sp.err {
			s.Status().SetCode(ptrace.StatusCodeError)
		}
		s.TraceState().FromRaw(sp.traceState)
		s.SetStartTimestamp(pcommon.NewTimestampFromTime(now))
		s.SetEndTimestamp(pcommon.NewTimestampFromTime(now.Add(time.Millisecond)))
		require.NoError(t, s.Attributes().FromRaw(sp.attrs))
	}
	return td
}

func attr(s ptrace.Span, key string) string {
	v, ok := s.Attributes().Get(key)
	if !ok {
		return ""
	}
	return v.AsString()
}
