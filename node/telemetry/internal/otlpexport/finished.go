package otlpexport

import (
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/embedded"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// Why a span of our own: the SDK makes every span twice, a recording span
// while it is open and a snapshot of it when it ends (about 875 bytes and
// six allocations a span, with its attributes copied into each), and that
// lifecycle was most of what the node's telemetry cost. A span whose start
// and end the node times itself, around work it does anyway (a mempool
// admission and the validation stages under its lock), needs neither: a
// FinishedSpan is made once, holds its few attributes inline, and goes to
// the span batcher as it is. It answers the ReadOnlySpan methods the
// encoder reads exactly as the SDK's snapshot of the same span would, so the
// OTLP that leaves the node is the same; finished_test.go holds it to that.

// inlineAttrs is how many attributes a FinishedSpan holds without another
// allocation.
const inlineAttrs = 4

// FinishedSpan is a span written whole, without the SDK's recording span:
// the node's tracer makes it (node/telemetry) and the span batcher exports
// it like any ended span. Set its fields with Begin and Finish; it must not
// change once Finish has handed it on.
//
// It is also the trace.Span that stands for it in a context, for its
// children: a non-recording span with its span context, as
// trace.ContextWithSpanContext would put there, whose methods do nothing.
// Being a pointer, it goes into the context without another allocation.
type FinishedSpan struct {
	// ReadOnlySpan and Span are nil. They are embedded only for the
	// interfaces' unexported methods; every method the two interfaces
	// declare is defined below.
	sdktrace.ReadOnlySpan
	embedded.Span

	name         string
	sc, parent   trace.SpanContext
	start, end   time.Time
	attrs        []attribute.KeyValue
	inline       [inlineAttrs]attribute.KeyValue
	droppedAttrs int
	status       sdktrace.Status
	scope        *instrumentation.Scope
	res          *resource.Resource
}

var (
	_ sdktrace.ReadOnlySpan = (*FinishedSpan)(nil)
	_ trace.Span            = (*FinishedSpan)(nil)
)

// Begin sets what is known when the span starts: its name, its context and
// its parent's, its start time, and the tracer's scope and resource, which
// must outlive the span.
func (s *FinishedSpan) Begin(name string, sc, parent trace.SpanContext, start time.Time, scope *instrumentation.Scope, res *resource.Resource) {
	s.name, s.sc, s.parent, s.start, s.scope, s.res = name, sc, parent, start, scope, res
}

// Finish sets the end time, the status and the attributes, as the SDK keeps
// them: an invalid attribute is dropped and counted, and of several with one
// key the last value stays at the first one's place. An Error status keeps
// its description, an Unset or Ok one does not. The attributes must be
// scalars or slices (not maps), and the tracer must have the SDK's default
// attribute limits.
func (s *FinishedSpan) Finish(end time.Time, code codes.Code, description string, attrs ...attribute.KeyValue) {
	s.end = end
	if code == codes.Error {
		s.status = sdktrace.Status{Code: code, Description: description}
	} else {
		s.status = sdktrace.Status{Code: code}
	}
	s.attrs = s.inline[:0]
	for _, a := range attrs {
		if !a.Valid() {
			s.droppedAttrs++
			continue
		}
		s.attrs = appendAttr(s.attrs, a)
	}
	if len(s.attrs) == 0 {
		s.attrs = nil
	}
}

// appendAttr appends a, or replaces the value of an attribute with its key.
func appendAttr(attrs []attribute.KeyValue, a attribute.KeyValue) []attribute.KeyValue {
	for i := range attrs {
		if attrs[i].Key == a.Key {
			attrs[i] = a
			return attrs
		}
	}
	return append(attrs, a)
}

func (s *FinishedSpan) Name() string                   { return s.name }
func (s *FinishedSpan) SpanContext() trace.SpanContext { return s.sc }
func (s *FinishedSpan) Parent() trace.SpanContext      { return s.parent }
func (s *FinishedSpan) SpanKind() trace.SpanKind       { return trace.SpanKindInternal }
func (s *FinishedSpan) StartTime() time.Time           { return s.start }
func (s *FinishedSpan) EndTime() time.Time             { return s.end }
func (s *FinishedSpan) Attributes() []attribute.KeyValue {
	return s.attrs
}
func (s *FinishedSpan) Links() []sdktrace.Link   { return nil }
func (s *FinishedSpan) Events() []sdktrace.Event { return nil }
func (s *FinishedSpan) Status() sdktrace.Status  { return s.status }
func (s *FinishedSpan) InstrumentationScope() instrumentation.Scope {
	return *s.scope
}

//nolint:staticcheck // the SDK's interface still declares it
func (s *FinishedSpan) InstrumentationLibrary() instrumentation.Library { return *s.scope }
func (s *FinishedSpan) Resource() *resource.Resource                    { return s.res }
func (s *FinishedSpan) DroppedAttributes() int                          { return s.droppedAttrs }
func (s *FinishedSpan) DroppedLinks() int                               { return 0 }
func (s *FinishedSpan) DroppedEvents() int                              { return 0 }
func (s *FinishedSpan) ChildSpanCount() int                             { return 0 }

// The trace.Span methods: those of a non-recording span.

func (s *FinishedSpan) End(...trace.SpanEndOption)              {}
func (s *FinishedSpan) AddEvent(string, ...trace.EventOption)   {}
func (s *FinishedSpan) AddLink(trace.Link)                      {}
func (s *FinishedSpan) IsRecording() bool                       { return false }
func (s *FinishedSpan) RecordError(error, ...trace.EventOption) {}
func (s *FinishedSpan) SetStatus(codes.Code, string)            {}
func (s *FinishedSpan) SetName(string)                          {}
func (s *FinishedSpan) SetAttributes(...attribute.KeyValue)     {}
func (s *FinishedSpan) TracerProvider() trace.TracerProvider    { return tracenoop.NewTracerProvider() }
