package chainenrichprocessor

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"

	"github.com/chainotel/chainotel/processors/chainenrichprocessor/internal/metadatatest"
	"github.com/chainotel/chainotel/semconv"
)

// pipeline is a traces and a logs instance of one chainenrich component
// (sharing its head tracker, as in a collector), each into a sink.
type pipeline struct {
	traces    processor.Traces
	logs      processor.Logs
	traceSink *consumertest.TracesSink
	logSink   *consumertest.LogsSink
	tt        *componenttest.Telemetry
	t         *testing.T
}

func newPipeline(t *testing.T, cfg *Config) *pipeline {
	t.Helper()
	require.NoError(t, cfg.Validate())
	ctx := context.Background()
	p := &pipeline{traceSink: new(consumertest.TracesSink), logSink: new(consumertest.LogsSink), tt: componenttest.NewTelemetry(), t: t}
	t.Cleanup(func() { require.NoError(t, p.tt.Shutdown(ctx)) })
	f := NewFactory()
	set := metadatatest.NewSettings(p.tt)
	var err error
	p.traces, err = f.CreateTraces(ctx, set, cfg, p.traceSink)
	require.NoError(t, err)
	p.logs, err = f.CreateLogs(ctx, set, cfg, p.logSink)
	require.NoError(t, err)
	require.NoError(t, p.traces.Start(ctx, componenttest.NewNopHost()))
	require.NoError(t, p.logs.Start(ctx, componenttest.NewNopHost()))
	t.Cleanup(func() {
		require.NoError(t, p.traces.Shutdown(ctx))
		require.NoError(t, p.logs.Shutdown(ctx))
	})
	return p
}

func (p *pipeline) consumeTraces(td ptrace.Traces) ptrace.Traces {
	p.t.Helper()
	require.NoError(p.t, p.traces.ConsumeTraces(context.Background(), td))
	all := p.traceSink.AllTraces()
	return all[len(all)-1]
}

func (p *pipeline) consumeLogs(ld plog.Logs) plog.Logs {
	p.t.Helper()
	require.NoError(p.t, p.logs.ConsumeLogs(context.Background(), ld))
	all := p.logSink.AllLogs()
	return all[len(all)-1]
}

// newSpan appends a span from (chain, node) to td, one resource per span.
func newSpan(td ptrace.Traces, chain, node, name string) ptrace.Span {
	rs := td.ResourceSpans().AppendEmpty()
	if chain != "" {
		rs.Resource().Attributes().PutStr(semconv.ChainIDKey, chain)
	}
	if node != "" {
		rs.Resource().Attributes().PutStr(semconv.ServiceInstanceIDKey, node)
	}
	s := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	s.SetName(name)
	return s
}

// newLog appends a log record from (chain, node) to ld.
func newLog(ld plog.Logs, chain, node string, sev plog.SeverityNumber, body string) plog.LogRecord {
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr(semconv.ChainIDKey, chain)
	rl.Resource().Attributes().PutStr(semconv.ServiceInstanceIDKey, node)
	lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.SetSeverityNumber(sev)
	lr.Body().SetStr(body)
	return lr
}

// allSpans lists the spans of td in order.
func allSpans(td ptrace.Traces) []ptrace.Span {
	var out []ptrace.Span
	for i := 0; i < td.ResourceSpans().Len(); i++ {
		forEachSpan(td.ResourceSpans().At(i), func(s ptrace.Span) { out = append(out, s) })
	}
	return out
}

// allLogs lists the log records of ld in order.
func allLogs(ld plog.Logs) []plog.LogRecord {
	var out []plog.LogRecord
	for i := 0; i < ld.ResourceLogs().Len(); i++ {
		forEachLog(ld.ResourceLogs().At(i), func(lr plog.LogRecord) { out = append(out, lr) })
	}
	return out
}

func attr(m pcommon.Map, k string) any {
	v, ok := m.Get(k)
	if !ok {
		return nil
	}
	return v.AsRaw()
}

// mapGetter reads attributes as raw Go values.
type mapGetter struct{ m pcommon.Map }

func (g mapGetter) Get(k string) (any, bool) {
	v, ok := g.m.Get(k)
	if !ok {
		return nil, false
	}
	return v.AsRaw(), true
}
