package sentryexporter

import (
	"context"
	"errors"

	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/chainotel/chainotel/collector/sentryexporter/internal/event"
)

// tracesGate sits in front of the exporter helper: it keeps only error
// spans, applies the per-fingerprint rate limit, and queues each error as a
// request of its own (a copy). So the queue, and a persistent queue on disk,
// holds only what becomes an event; an event is acknowledged in the queue
// as soon as Sentry has it, so a restart never resends what was delivered;
// and a retried request is never rate-limited twice.
type tracesGate struct {
	exporter.Traces
	e *sentryExporter
}

func (g *tracesGate) ConsumeTraces(ctx context.Context, td ptrace.Traces) error {
	var errs []error
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			ss := sss.At(j)
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
				one := ptrace.NewTraces()
				ors := one.ResourceSpans().AppendEmpty()
				rs.Resource().CopyTo(ors.Resource())
				ors.SetSchemaUrl(rs.SchemaUrl())
				oss := ors.ScopeSpans().AppendEmpty()
				ss.Scope().CopyTo(oss.Scope())
				oss.SetSchemaUrl(ss.SchemaUrl())
				c := oss.Spans().AppendEmpty()
				s.CopyTo(c)
				if carried > 0 {
					c.Attributes().PutInt(event.SuppressedKey, carried)
				}
				if err := g.e.queued(ctx, g.Traces.ConsumeTraces(ctx, one)); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	return errors.Join(errs...)
}

// logsGate is tracesGate for logs: error logs only, rate-limited, one
// request each.
type logsGate struct {
	exporter.Logs
	e *sentryExporter
}

func (g *logsGate) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	var errs []error
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		sls := rl.ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			sl := sls.At(j)
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
				one := plog.NewLogs()
				orl := one.ResourceLogs().AppendEmpty()
				rl.Resource().CopyTo(orl.Resource())
				orl.SetSchemaUrl(rl.SchemaUrl())
				osl := orl.ScopeLogs().AppendEmpty()
				sl.Scope().CopyTo(osl.Scope())
				osl.SetSchemaUrl(sl.SchemaUrl())
				c := osl.LogRecords().AppendEmpty()
				lr.CopyTo(c)
				if carried > 0 {
					c.Attributes().PutInt(event.SuppressedKey, carried)
				}
				if err := g.e.queued(ctx, g.Logs.ConsumeLogs(ctx, one)); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	return errors.Join(errs...)
}
