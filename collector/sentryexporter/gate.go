package sentryexporter

import (
	"context"

	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/chainotel/chainotel/collector/sentryexporter/internal/event"
)

// tracesGate sits in front of the exporter helper: it keeps only error
// spans, applies the per-fingerprint rate limit, and queues copies, so the
// queue (and a persistent queue on disk) holds only what becomes an event,
// and a retried batch is never rate-limited twice.
type tracesGate struct {
	exporter.Traces
	e *sentryExporter
}

func (g *tracesGate) ConsumeTraces(ctx context.Context, td ptrace.Traces) error {
	out := ptrace.NewTraces()
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		var outRS ptrace.ResourceSpans
		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			ss := sss.At(j)
			var outSS ptrace.ScopeSpans
			spans := ss.Spans()
			for k := 0; k < spans.Len(); k++ {
				s := spans.At(k)
				if !event.IsErrorSpan(s) {
					continue
				}
				ok, carried := g.e.allow(ctx, event.SpanFingerprint(s))
				if !ok {
					continue
				}
				if outRS == (ptrace.ResourceSpans{}) {
					outRS = out.ResourceSpans().AppendEmpty()
					rs.Resource().CopyTo(outRS.Resource())
					outRS.SetSchemaUrl(rs.SchemaUrl())
				}
				if outSS == (ptrace.ScopeSpans{}) {
					outSS = outRS.ScopeSpans().AppendEmpty()
					ss.Scope().CopyTo(outSS.Scope())
					outSS.SetSchemaUrl(ss.SchemaUrl())
				}
				c := outSS.Spans().AppendEmpty()
				s.CopyTo(c)
				if carried > 0 {
					c.Attributes().PutInt(event.SuppressedKey, carried)
				}
			}
		}
	}
	if out.SpanCount() == 0 {
		return nil
	}
	return g.Traces.ConsumeTraces(ctx, out)
}

// logsGate is tracesGate for logs: error logs only, rate-limited, copied.
type logsGate struct {
	exporter.Logs
	e *sentryExporter
}

func (g *logsGate) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	out := plog.NewLogs()
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		var outRL plog.ResourceLogs
		sls := rl.ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			sl := sls.At(j)
			var outSL plog.ScopeLogs
			lrs := sl.LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				lr := lrs.At(k)
				if !event.IsErrorLog(lr) {
					continue
				}
				ok, carried := g.e.allow(ctx, event.LogFingerprint(sl.Scope(), lr))
				if !ok {
					continue
				}
				if outRL == (plog.ResourceLogs{}) {
					outRL = out.ResourceLogs().AppendEmpty()
					rl.Resource().CopyTo(outRL.Resource())
					outRL.SetSchemaUrl(rl.SchemaUrl())
				}
				if outSL == (plog.ScopeLogs{}) {
					outSL = outRL.ScopeLogs().AppendEmpty()
					sl.Scope().CopyTo(outSL.Scope())
					outSL.SetSchemaUrl(sl.SchemaUrl())
				}
				c := outSL.LogRecords().AppendEmpty()
				lr.CopyTo(c)
				if carried > 0 {
					c.Attributes().PutInt(event.SuppressedKey, carried)
				}
			}
		}
	}
	if out.LogRecordCount() == 0 {
		return nil
	}
	return g.Logs.ConsumeLogs(ctx, out)
}
