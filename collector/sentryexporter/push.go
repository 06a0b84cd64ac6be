package sentryexporter

import (
	"context"

	"github.com/getsentry/sentry-go"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/chainotel/chainotel/collector/sentryexporter/internal/event"
)

// spanRef locates a span in a batch.
type spanRef struct{ rs, ss, span int }

// pushTraces is the exporter helper's consumer: every span it gets is an
// error span (the gate filtered them). On a retryable failure it returns the
// spans not yet delivered in a consumererror.Traces: the helper retries with
// those only, so delivered events are not sent again.
func (e *sentryExporter) pushTraces(ctx context.Context, td ptrace.Traces) error {
	var refs []spanRef
	var evs []*sentry.Event
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		for j := 0; j < rs.ScopeSpans().Len(); j++ {
			ss := rs.ScopeSpans().At(j)
			for k := 0; k < ss.Spans().Len(); k++ {
				s := ss.Spans().At(k)
				if !event.IsErrorSpan(s) {
					continue
				}
				refs = append(refs, spanRef{i, j, k})
				evs = append(evs, e.conv.FromSpan(rs.Resource(), ss.Scope(), s))
			}
		}
	}
	n, err := e.deliver(ctx, evs)
	if err == nil {
		return nil
	}
	return consumererror.NewTraces(err, subsetTraces(td, refs[n:]))
}

// subsetTraces copies the referenced spans (in order) with their resources
// and scopes.
func subsetTraces(td ptrace.Traces, refs []spanRef) ptrace.Traces {
	out := ptrace.NewTraces()
	lastRS, lastSS := -1, -1
	var outRS ptrace.ResourceSpans
	var outSS ptrace.ScopeSpans
	for _, r := range refs {
		rs := td.ResourceSpans().At(r.rs)
		if r.rs != lastRS {
			outRS = out.ResourceSpans().AppendEmpty()
			rs.Resource().CopyTo(outRS.Resource())
			outRS.SetSchemaUrl(rs.SchemaUrl())
			lastRS, lastSS = r.rs, -1
		}
		ss := rs.ScopeSpans().At(r.ss)
		if r.ss != lastSS {
			outSS = outRS.ScopeSpans().AppendEmpty()
			ss.Scope().CopyTo(outSS.Scope())
			outSS.SetSchemaUrl(ss.SchemaUrl())
			lastSS = r.ss
		}
		ss.Spans().At(r.span).CopyTo(outSS.Spans().AppendEmpty())
	}
	return out
}

// logRef locates a log record in a batch.
type logRef struct{ rl, sl, lr int }

// pushLogs is pushTraces for logs.
func (e *sentryExporter) pushLogs(ctx context.Context, ld plog.Logs) error {
	var refs []logRef
	var evs []*sentry.Event
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		for j := 0; j < rl.ScopeLogs().Len(); j++ {
			sl := rl.ScopeLogs().At(j)
			for k := 0; k < sl.LogRecords().Len(); k++ {
				lr := sl.LogRecords().At(k)
				if !event.IsErrorLog(lr) {
					continue
				}
				refs = append(refs, logRef{i, j, k})
				evs = append(evs, e.conv.FromLog(rl.Resource(), sl.Scope(), lr))
			}
		}
	}
	n, err := e.deliver(ctx, evs)
	if err == nil {
		return nil
	}
	return consumererror.NewLogs(err, subsetLogs(ld, refs[n:]))
}

func subsetLogs(ld plog.Logs, refs []logRef) plog.Logs {
	out := plog.NewLogs()
	lastRL, lastSL := -1, -1
	var outRL plog.ResourceLogs
	var outSL plog.ScopeLogs
	for _, r := range refs {
		rl := ld.ResourceLogs().At(r.rl)
		if r.rl != lastRL {
			outRL = out.ResourceLogs().AppendEmpty()
			rl.Resource().CopyTo(outRL.Resource())
			outRL.SetSchemaUrl(rl.SchemaUrl())
			lastRL, lastSL = r.rl, -1
		}
		sl := rl.ScopeLogs().At(r.sl)
		if r.sl != lastSL {
			outSL = outRL.ScopeLogs().AppendEmpty()
			sl.Scope().CopyTo(outSL.Scope())
			outSL.SetSchemaUrl(sl.SchemaUrl())
			lastSL = r.sl
		}
		sl.LogRecords().At(r.lr).CopyTo(outSL.LogRecords().AppendEmpty())
	}
	return out
}
