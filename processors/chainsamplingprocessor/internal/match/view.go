package match

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// SpanView is what a summary reads of one span. It is implemented over pdata
// (PSpan) and, by the engine, over a span's OTLP wire bytes, so that spans
// decoded and spans still encoded are summarised by the same code.
type SpanView interface {
	// Times are the span's start and end, in Unix nanoseconds.
	Times() (start, end uint64)
	// IsError is true when the span's status code is Error.
	IsError() bool
	// IsRoot is true when the span has no parent span id.
	IsRoot() bool
	// Name is the span's name; it may be valid only until the view moves on.
	Name() string
	// RangeAttrs calls f, in the span's order, with each attribute whose
	// key is among keys, and the index of that key. v is the value as a
	// summary records it; ok is false for the kinds the matchers cannot
	// compare (maps, slices, bytes, empty). A string in v may be valid only
	// for the duration of the call. Only the values of these keys are read.
	RangeAttrs(keys []string, f func(i int, v Value, ok bool))
}

// ResourceView is what a summary reads of a resource.
type ResourceView interface {
	// Attr is the value of attribute key, as ValueOf converts it; ok is
	// false when the key is absent or of a kind the matchers cannot
	// compare. A string in v may be valid only until the view moves on.
	Attr(key string) (v Value, ok bool)
}

// PSpan is the SpanView of a pdata span.
type PSpan struct{ ptrace.Span }

var _ SpanView = PSpan{}

// Times implements SpanView.
func (s PSpan) Times() (uint64, uint64) {
	return uint64(s.StartTimestamp()), uint64(s.EndTimestamp())
}

// IsError implements SpanView.
func (s PSpan) IsError() bool { return s.Status().Code() == ptrace.StatusCodeError }

// IsRoot implements SpanView.
func (s PSpan) IsRoot() bool { return s.ParentSpanID().IsEmpty() }

// RangeAttrs implements SpanView.
func (s PSpan) RangeAttrs(keys []string, f func(i int, v Value, ok bool)) {
	s.Attributes().Range(func(k string, pv pcommon.Value) bool {
		if i := KeyIndex(keys, k); i >= 0 {
			v, ok := ValueOf(pv)
			f(i, v, ok)
		}
		return true
	})
}

// KeyIndex is the index of key in keys, or -1: a linear search, as a
// policy mentions a few keys.
func KeyIndex(keys []string, key string) int {
	for i, k := range keys {
		if k == key {
			return i
		}
	}
	return -1
}

// PResource is the ResourceView of a pdata resource.
type PResource struct{ pcommon.Resource }

var _ ResourceView = PResource{}

// Attr implements ResourceView.
func (r PResource) Attr(key string) (Value, bool) {
	pv, ok := r.Attributes().Get(key)
	if !ok {
		return Value{}, false
	}
	return ValueOf(pv)
}
