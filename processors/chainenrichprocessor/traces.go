package chainenrichprocessor

import (
	"context"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/chainotel/chainotel/processors/chainenrichprocessor/internal/classify"
	"github.com/chainotel/chainotel/semconv"
)

// processTraces runs in two passes: first every head source in the batch
// moves its node's head, then errors are classified and stamped, so an error
// is stamped with the freshest head known. Redaction runs last, over
// everything, stamps included.
func (e *enricher) processTraces(ctx context.Context, td ptrace.Traces) (ptrace.Traces, error) {
	st := newBatchStats()
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		key := headKey(rs.Resource().Attributes())
		forEachSpan(rs, func(s ptrace.Span) {
			if e.sources[s.Name()] && s.Status().Code() != ptrace.StatusCodeError {
				e.observeHead(key, s.Attributes())
			}
		})
	}
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		res := rs.Resource().Attributes()
		e.fillResource(res)
		forEachSpan(rs, func(s ptrace.Span) {
			if subj, ok := spanError(s); ok {
				e.enrichError(s.Attributes(), res, subj, st)
			}
		})
		e.redactSpans(rs, st)
	}
	e.record(ctx, st)
	return td, nil
}

func forEachSpan(rs ptrace.ResourceSpans, f func(ptrace.Span)) {
	sss := rs.ScopeSpans()
	for j := 0; j < sss.Len(); j++ {
		spans := sss.At(j).Spans()
		for k := 0; k < spans.Len(); k++ {
			f(spans.At(k))
		}
	}
}

// spanError reports whether s is an error (status ERROR or an exception
// event) and what classification looks at.
func spanError(s ptrace.Span) (classify.Subject, bool) {
	subj := classify.Subject{SpanName: s.Name(), Message: s.Status().Message()}
	isErr := s.Status().Code() == ptrace.StatusCodeError
	evs := s.Events()
	for i := 0; i < evs.Len(); i++ {
		ev := evs.At(i)
		if ev.Name() != semconv.ExceptionEventName {
			continue
		}
		isErr = true
		// The last exception is the one that ended the span.
		if v, ok := ev.Attributes().Get(semconv.ExceptionTypeKey); ok {
			subj.ExceptionType = v.AsString()
		}
		if v, ok := ev.Attributes().Get(semconv.ExceptionMessageKey); ok && v.AsString() != "" {
			subj.Message = v.AsString()
		}
	}
	return subj, isErr
}

// redactSpans redacts the resource, scope, span, event and link attributes
// and span status messages of rs.
func (e *enricher) redactSpans(rs ptrace.ResourceSpans, st batchStats) {
	r, c := e.redactor, st.redactions
	r.Map(rs.Resource().Attributes(), c)
	sss := rs.ScopeSpans()
	for j := 0; j < sss.Len(); j++ {
		ss := sss.At(j)
		r.Map(ss.Scope().Attributes(), c)
		spans := ss.Spans()
		for k := 0; k < spans.Len(); k++ {
			s := spans.At(k)
			r.Map(s.Attributes(), c)
			if msg, changed := r.String(s.Status().Message(), c); changed {
				s.Status().SetMessage(msg)
			}
			evs := s.Events()
			for m := 0; m < evs.Len(); m++ {
				r.Map(evs.At(m).Attributes(), c)
			}
			links := s.Links()
			for m := 0; m < links.Len(); m++ {
				r.Map(links.At(m).Attributes(), c)
			}
		}
	}
}
