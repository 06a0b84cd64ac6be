package chainenrichprocessor

import (
	"context"
	"strings"

	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/chainotel/chainotel/processors/chainenrichprocessor/internal/classify"
	"github.com/chainotel/chainotel/semconv"
)

// eventNameKey is the attribute older SDKs use for a log's event name.
const eventNameKey = "event.name"

// processLogs is processTraces for logs: heads first, then errors, then
// redaction (attributes and bodies).
func (e *enricher) processLogs(ctx context.Context, ld plog.Logs) (plog.Logs, error) {
	st := newBatchStats()
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		key := headKey(rl.Resource().Attributes())
		forEachLog(rl, func(lr plog.LogRecord) {
			if e.isHeadSource(lr) && !isErrorLog(lr) {
				e.observeHead(key, lr.Attributes())
			}
		})
	}
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		res := rl.Resource().Attributes()
		e.fillResource(res)
		forEachLog(rl, func(lr plog.LogRecord) {
			if isErrorLog(lr) {
				e.enrichError(lr.Attributes(), res, logSubject(lr), st)
			}
		})
		e.redactLogs(rl, st)
	}
	e.record(ctx, st)
	return ld, nil
}

func forEachLog(rl plog.ResourceLogs, f func(plog.LogRecord)) {
	sls := rl.ScopeLogs()
	for j := 0; j < sls.Len(); j++ {
		lrs := sls.At(j).LogRecords()
		for k := 0; k < lrs.Len(); k++ {
			f(lrs.At(k))
		}
	}
}

func (e *enricher) isHeadSource(lr plog.LogRecord) bool {
	if e.sources[lr.EventName()] {
		return true
	}
	v, ok := lr.Attributes().Get(eventNameKey)
	return ok && e.sources[v.AsString()]
}

// isErrorLog: severity ERROR or above, or, for a record without a severity
// number, a severity text that says so.
func isErrorLog(lr plog.LogRecord) bool {
	if n := lr.SeverityNumber(); n != plog.SeverityNumberUnspecified {
		return n >= plog.SeverityNumberError
	}
	switch t := strings.ToUpper(lr.SeverityText()); {
	case strings.HasPrefix(t, "ERR"), strings.HasPrefix(t, "FATAL"), strings.HasPrefix(t, "CRIT"),
		strings.HasPrefix(t, "PANIC"), strings.HasPrefix(t, "ALERT"), strings.HasPrefix(t, "EMERG"):
		return true
	}
	return false
}

func logSubject(lr plog.LogRecord) classify.Subject {
	var subj classify.Subject
	if v, ok := lr.Attributes().Get(semconv.ExceptionTypeKey); ok {
		subj.ExceptionType = v.AsString()
	}
	if v, ok := lr.Attributes().Get(semconv.ExceptionMessageKey); ok && v.AsString() != "" {
		subj.Message = v.AsString()
	} else {
		subj.Message = lr.Body().AsString()
	}
	return subj
}

// redactLogs redacts the resource, scope and record attributes and the
// record bodies of rl.
func (e *enricher) redactLogs(rl plog.ResourceLogs, st batchStats) {
	r, c := e.redactor, st.redactions
	r.Map(rl.Resource().Attributes(), c)
	sls := rl.ScopeLogs()
	for j := 0; j < sls.Len(); j++ {
		sl := sls.At(j)
		r.Map(sl.Scope().Attributes(), c)
		lrs := sl.LogRecords()
		for k := 0; k < lrs.Len(); k++ {
			lr := lrs.At(k)
			r.Map(lr.Attributes(), c)
			r.Value(lr.Body(), c)
		}
	}
}
