package match

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// MaxValuesPerKey bounds the distinct values a summary records for one key,
// so that a high-cardinality attribute (a hash, say) cannot grow a trace's
// summary without bound. Values past the bound are not recorded: a matcher
// on such a key sees the first MaxValuesPerKey distinct values only.
const MaxValuesPerKey = 32

// Kind is the type of a recorded attribute value.
type Kind uint8

// Value kinds. Ints and doubles are both recorded as KindNum.
const (
	KindStr Kind = iota + 1
	KindNum
	KindBool
)

// Value is one attribute value recorded in a summary.
type Value struct {
	Str  string
	Num  float64
	Kind Kind
}

// ValueOf converts a pdata attribute value; ok is false for kinds that the
// matchers cannot compare (maps, slices, bytes, empty).
func ValueOf(v pcommon.Value) (Value, bool) {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return Value{Str: v.Str(), Kind: KindStr}, true
	case pcommon.ValueTypeInt:
		return Value{Num: float64(v.Int()), Kind: KindNum}, true
	case pcommon.ValueTypeDouble:
		return Value{Num: v.Double(), Kind: KindNum}, true
	case pcommon.ValueTypeBool:
		b := v.Bool()
		if b {
			return Value{Num: 1, Kind: KindBool}, true
		}
		return Value{Kind: KindBool}, true
	default:
		return Value{}, false
	}
}

// Keys is the layout of a summary: which facts beyond the fixed ones it
// records. It is derived from the compiled policy, so a summary only pays
// for the keys some rule mentions.
type Keys struct {
	// Span lists the span attribute keys recorded, by slot.
	Span []string
	// Resource lists the resource attribute keys recorded, by slot.
	Resource []string
	// Names is true when some rule matches span names.
	Names bool
}

// Equal reports whether two layouts record the same facts in the same slots.
func (k Keys) Equal(o Keys) bool {
	if k.Names != o.Names || len(k.Span) != len(o.Span) || len(k.Resource) != len(o.Resource) {
		return false
	}
	for i := range k.Span {
		if k.Span[i] != o.Span[i] {
			return false
		}
	}
	for i := range k.Resource {
		if k.Resource[i] != o.Resource[i] {
			return false
		}
	}
	return true
}

// Summary is what the matchers know about a trace: the few facts the
// compiled policy needs, updated once per span.
type Summary struct {
	// Start and End are the earliest span start and latest span end, in Unix
	// nanoseconds.
	Start, End uint64
	// Error is true when some span has status Error.
	Error bool
	// RootEnded is true once the root span (no parent) has been seen.
	RootEnded bool
	// Head is the highest chain.head.height on the trace's spans: the head
	// the nodes reported, 0 when none did (or no rule reads it).
	Head int64
	// Names holds the distinct span names, when Keys.Names.
	Names []string
	// Span holds the distinct values of each Keys.Span key, by slot.
	Span [][]Value
	// Resource holds the distinct values of each Keys.Resource key, by slot.
	Resource [][]Value
}

// Interner returns a canonical copy of a string, so that many summaries
// share one copy of a span name or an attribute value. The string it is
// given may be valid only for the call (a view over wire bytes); what it
// returns must not be.
type Interner interface {
	Intern(s string) string
}

// AddResource records the resource attributes of a group of spans.
func (s *Summary) AddResource(k *Keys, res pcommon.Resource, in Interner) {
	AddResourceView(s, k, PResource{res}, in)
}

// AddSpan folds one span into the summary. height receives each value of
// the span attribute slot heightSlot (or none when heightSlot < 0) so the
// caller can follow the chain head; the highest numeric value of the slot
// headSlot (chain.head.height; none when headSlot < 0) becomes s.Head.
func (s *Summary) AddSpan(k *Keys, span ptrace.Span, in Interner, heightSlot, headSlot int, height func(float64)) {
	AddSpanView(s, k, PSpan{span}, in, heightSlot, headSlot, height)
}

// AddResourceView is AddResource over any ResourceView.
func AddResourceView[R ResourceView](s *Summary, k *Keys, res R, in Interner) {
	if len(k.Resource) == 0 {
		return
	}
	if s.Resource == nil {
		s.Resource = make([][]Value, len(k.Resource))
	}
	for i, key := range k.Resource {
		if v, ok := res.Attr(key); ok {
			s.Resource[i] = addValue(s.Resource[i], v, in)
		}
	}
}

// AddSpanView is AddSpan over any SpanView.
func AddSpanView[S SpanView](s *Summary, k *Keys, span S, in Interner, heightSlot, headSlot int, height func(float64)) {
	start, end := span.Times()
	if s.Start == 0 || (start != 0 && start < s.Start) {
		s.Start = start
	}
	if end > s.End {
		s.End = end
	}
	if span.IsError() {
		s.Error = true
	}
	if span.IsRoot() {
		s.RootEnded = true
	}
	if k.Names {
		s.Names = addName(s.Names, span.Name(), in)
	}
	if len(k.Span) == 0 {
		return
	}
	if s.Span == nil {
		s.Span = make([][]Value, len(k.Span))
	}
	// One pass over the span's attributes, looking each up among the few
	// keys the policy mentions, is cheaper than one Get per key.
	span.RangeAttrs(k.Span, func(i int, v Value, ok bool) {
		if !ok {
			return
		}
		s.Span[i] = addValue(s.Span[i], v, in)
		if i == heightSlot && height != nil && v.Kind == KindNum {
			height(v.Num)
		}
		if i == headSlot && v.Kind == KindNum && int64(v.Num) > s.Head {
			s.Head = int64(v.Num)
		}
	})
}

func addName(names []string, name string, in Interner) []string {
	for _, n := range names {
		if n == name {
			return names
		}
	}
	if len(names) >= MaxValuesPerKey {
		return names
	}
	return append(names, in.Intern(name))
}

func addValue(vals []Value, v Value, in Interner) []Value {
	for _, have := range vals {
		if have == v {
			return vals
		}
	}
	if len(vals) >= MaxValuesPerKey {
		return vals
	}
	if v.Kind == KindStr {
		v.Str = in.Intern(v.Str)
	}
	return append(vals, v)
}
