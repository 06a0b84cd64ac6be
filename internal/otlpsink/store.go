package otlpsink

import (
	"fmt"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Span is one received span with the resource and scope it came under.
// It shares memory with the other spans of its request: treat it as read-only.
type Span struct {
	ptrace.Span
	Resource pcommon.Resource
	Scope    pcommon.InstrumentationScope
}

// Attr returns the span attribute key as a string, and whether it is set.
func (s Span) Attr(key string) (string, bool) { return attr(s.Attributes(), key) }

// ResourceAttr returns the resource attribute key as a string, and whether it is set.
func (s Span) ResourceAttr(key string) (string, bool) { return attr(s.Resource.Attributes(), key) }

// LogRecord is one received log record with the resource and scope it came under.
// Treat it as read-only, as Span.
type LogRecord struct {
	plog.LogRecord
	Resource pcommon.Resource
	Scope    pcommon.InstrumentationScope
}

// Attr returns the log attribute key as a string, and whether it is set.
func (l LogRecord) Attr(key string) (string, bool) { return attr(l.Attributes(), key) }

func attr(m pcommon.Map, key string) (string, bool) {
	v, ok := m.Get(key)
	if !ok {
		return "", false
	}
	return v.AsString(), true
}

func flattenTraces(in ptrace.Traces) []Span {
	td := ptrace.NewTraces()
	in.CopyTo(td)
	var out []Span
	for i := 0; i < td.ResourceSpans().Len(); i++ {
		rs := td.ResourceSpans().At(i)
		for j := 0; j < rs.ScopeSpans().Len(); j++ {
			ss := rs.ScopeSpans().At(j)
			for k := 0; k < ss.Spans().Len(); k++ {
				out = append(out, Span{Span: ss.Spans().At(k), Resource: rs.Resource(), Scope: ss.Scope()})
			}
		}
	}
	return out
}

func flattenLogs(in plog.Logs) []LogRecord {
	ld := plog.NewLogs()
	in.CopyTo(ld)
	var out []LogRecord
	for i := 0; i < ld.ResourceLogs().Len(); i++ {
		rl := ld.ResourceLogs().At(i)
		for j := 0; j < rl.ScopeLogs().Len(); j++ {
			sl := rl.ScopeLogs().At(j)
			for k := 0; k < sl.LogRecords().Len(); k++ {
				out = append(out, LogRecord{LogRecord: sl.LogRecords().At(k), Resource: rl.Resource(), Scope: sl.Scope()})
			}
		}
	}
	return out
}

// Spans returns every span received so far, in arrival order.
func (s *Sink) Spans() []Span {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Span(nil), s.spans...)
}

// SpansMatching returns the received spans for which match holds.
func (s *Sink) SpansMatching(match func(Span) bool) []Span {
	var out []Span
	for _, sp := range s.Spans() {
		if match(sp) {
			out = append(out, sp)
		}
	}
	return out
}

// Trace returns the received spans of one trace.
func (s *Sink) Trace(id pcommon.TraceID) []Span {
	return s.SpansMatching(func(sp Span) bool { return sp.TraceID() == id })
}

// TraceIDs returns the distinct trace ids received, in order of first arrival.
func (s *Sink) TraceIDs() []pcommon.TraceID {
	seen := map[pcommon.TraceID]bool{}
	var ids []pcommon.TraceID
	for _, sp := range s.Spans() {
		if id := sp.TraceID(); !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	return ids
}

// Logs returns every log record received so far, in arrival order.
func (s *Sink) Logs() []LogRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]LogRecord(nil), s.logs...)
}

// WaitFor waits until cond returns nil, re-checking it whenever something
// arrives at this sink, and fails the test with what was waited for, cond's
// last error and a summary of the sink when timeout passes first. A condition
// on several sinks should be polled instead (testproc.WaitFor).
func (s *Sink) WaitFor(tb testing.TB, timeout time.Duration, what string, cond func() error) {
	tb.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		changed := s.Changed() // taken before cond, so no arrival is missed
		err := cond()
		if err == nil {
			return
		}
		select {
		case <-changed:
		case <-deadline.C:
			if err = cond(); err == nil { // it may hang on more than this sink
				return
			}
			tb.Fatalf("otlpsink: waiting %v for %s: %v (%s)", timeout, what, err, s)
			return
		}
	}
}

// WaitSpans waits until at least n received spans satisfy match and returns them.
func (s *Sink) WaitSpans(tb testing.TB, timeout time.Duration, what string, n int, match func(Span) bool) []Span {
	tb.Helper()
	var got []Span
	s.WaitFor(tb, timeout, what, func() error {
		got = s.SpansMatching(match)
		if len(got) < n {
			return fmt.Errorf("%d of %d spans so far", len(got), n)
		}
		return nil
	})
	return got
}

// WaitLogs waits until at least n received log records satisfy match and returns them.
func (s *Sink) WaitLogs(tb testing.TB, timeout time.Duration, what string, n int, match func(LogRecord) bool) []LogRecord {
	tb.Helper()
	var got []LogRecord
	s.WaitFor(tb, timeout, what, func() error {
		got = got[:0]
		for _, l := range s.Logs() {
			if match(l) {
				got = append(got, l)
			}
		}
		if len(got) < n {
			return fmt.Errorf("%d of %d log records so far", len(got), n)
		}
		return nil
	})
	return got
}
