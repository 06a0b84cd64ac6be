package otlpexport

import (
	"math"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/encoding/protowire"
)

// Why encode by hand: otlptracegrpc first copies every span into the
// generated tracepb structs (about three allocations per attribute) and then
// marshals those. The node ends about five spans per transaction, so that
// copy was a large share of its telemetry cost. otlpEncoder writes the same
// ExportTraceServiceRequest straight from the ReadOnlySpans, with the same
// grouping and field values as otlptrace's internal/tracetransform (v1.45.0),
// so a receiver cannot tell the two apart; otlpencode_test.go holds it to that.

// Field numbers of opentelemetry-proto (collector/trace/v1, trace/v1,
// common/v1, resource/v1) that the encoder writes.
const (
	fieldRequestResourceSpans protowire.Number = 1 // ExportTraceServiceRequest.resource_spans

	fieldResourceSpansResource   protowire.Number = 1
	fieldResourceSpansScopeSpans protowire.Number = 2
	fieldResourceSpansSchemaURL  protowire.Number = 3

	fieldResourceAttributes protowire.Number = 1

	fieldScopeSpansScope     protowire.Number = 1
	fieldScopeSpansSpans     protowire.Number = 2
	fieldScopeSpansSchemaURL protowire.Number = 3

	fieldScopeName       protowire.Number = 1
	fieldScopeVersion    protowire.Number = 2
	fieldScopeAttributes protowire.Number = 3

	fieldSpanTraceID           protowire.Number = 1
	fieldSpanSpanID            protowire.Number = 2
	fieldSpanTraceState        protowire.Number = 3
	fieldSpanParentSpanID      protowire.Number = 4
	fieldSpanName              protowire.Number = 5
	fieldSpanKind              protowire.Number = 6
	fieldSpanStartTime         protowire.Number = 7
	fieldSpanEndTime           protowire.Number = 8
	fieldSpanAttributes        protowire.Number = 9
	fieldSpanDroppedAttributes protowire.Number = 10
	fieldSpanEvents            protowire.Number = 11
	fieldSpanDroppedEvents     protowire.Number = 12
	fieldSpanLinks             protowire.Number = 13
	fieldSpanDroppedLinks      protowire.Number = 14
	fieldSpanStatus            protowire.Number = 15
	fieldSpanFlags             protowire.Number = 16

	fieldEventTime              protowire.Number = 1
	fieldEventName              protowire.Number = 2
	fieldEventAttributes        protowire.Number = 3
	fieldEventDroppedAttributes protowire.Number = 4

	fieldLinkTraceID           protowire.Number = 1
	fieldLinkSpanID            protowire.Number = 2
	fieldLinkAttributes        protowire.Number = 4
	fieldLinkDroppedAttributes protowire.Number = 5
	fieldLinkFlags             protowire.Number = 6

	fieldStatusMessage protowire.Number = 2
	fieldStatusCode    protowire.Number = 3

	fieldKeyValueKey   protowire.Number = 1
	fieldKeyValueValue protowire.Number = 2

	fieldAnyString protowire.Number = 1
	fieldAnyBool   protowire.Number = 2
	fieldAnyInt    protowire.Number = 3
	fieldAnyDouble protowire.Number = 4
	fieldAnyArray  protowire.Number = 5
	fieldAnyKVList protowire.Number = 6
	fieldAnyBytes  protowire.Number = 7

	fieldListValues protowire.Number = 1 // ArrayValue.values and KeyValueList.values
)

// Enum values and flag bits of opentelemetry.proto.trace.v1.
const (
	otlpSpanKindUnspecified = 0
	otlpSpanKindInternal    = 1
	otlpSpanKindServer      = 2
	otlpSpanKindClient      = 3
	otlpSpanKindProducer    = 4
	otlpSpanKindConsumer    = 5

	otlpStatusUnset = 0
	otlpStatusOK    = 1
	otlpStatusError = 2

	otlpFlagsHasIsRemote = 0x100 // SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK
	otlpFlagsIsRemote    = 0x200 // SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK
)

// otlpEncoder writes ExportTraceServiceRequests. Its scratch space is reused
// from one call to the next, so an encoder serves one call at a time.
type otlpEncoder struct {
	resources []resourceGroup
	scopes    []scopeGroup
	spanGroup []int32 // per span: index into scopes, or -1 for a nil span
	order     []int32 // span indices, grouped by scope
}

// resourceGroup is one ResourceSpans: the spans whose resources are
// equivalent. Its Resource message comes from the first of them.
type resourceGroup struct {
	res *resource.Resource
	key attribute.Distinct
}

// scopeGroup is one ScopeSpans: the spans of one resource group and one
// instrumentation scope, at order[start:start+n].
type scopeGroup struct {
	resource int
	scope    instrumentation.Scope
	n, start int
}

// appendExportRequest appends the ExportTraceServiceRequest carrying spans
// to dst. ResourceSpans come in the order their resources first appear in
// spans, ScopeSpans likewise within a resource, spans in their given order;
// nil spans are skipped. tracetransform groups the same way but emits
// resources in map order, which a receiver must not rely on anyway. With no
// span to send it returns dst unchanged.
func (e *otlpEncoder) appendExportRequest(dst []byte, spans []sdktrace.ReadOnlySpan) []byte {
	if !e.groupSpans(spans) {
		return dst
	}
	b := dst
	for r := range e.resources {
		res := e.resources[r].res
		var mark int
		b, mark = openField(b, fieldRequestResourceSpans)
		if res != nil {
			var m int
			b, m = openField(b, fieldResourceSpansResource)
			b = appendAttrIter(b, fieldResourceAttributes, res.Iter())
			b = closeField(b, m)
		}
		for s := range e.scopes {
			if e.scopes[s].resource == r {
				b = e.appendScopeSpans(b, spans, &e.scopes[s])
			}
		}
		b = appendString(b, fieldResourceSpansSchemaURL, res.SchemaURL())
		b = closeField(b, mark)
	}
	e.reset()
	return b
}

// groupSpans sorts spans into resource and scope groups (a counting sort into
// e.order) and reports whether there is any span at all.
func (e *otlpEncoder) groupSpans(spans []sdktrace.ReadOnlySpan) bool {
	e.reset()
	e.spanGroup = growInt32(e.spanGroup, len(spans))
	last := -1 // the scope group of the previous span: most batches have one or two
	var (
		lastRes   *resource.Resource
		lastScope instrumentation.Scope
	)
	for i, sd := range spans {
		if sd == nil {
			e.spanGroup[i] = -1
			continue
		}
		res, scope := sd.Resource(), sd.InstrumentationScope()
		if last < 0 || res != lastRes || scope != lastScope {
			last = e.scopeIndex(e.resourceIndex(res), scope)
			lastRes, lastScope = res, scope
		}
		e.spanGroup[i] = int32(last) // #nosec G115 -- at most len(spans) groups
		e.scopes[last].n++
	}
	if len(e.scopes) == 0 {
		return false
	}
	start := 0
	for s := range e.scopes {
		e.scopes[s].start = start
		start += e.scopes[s].n
		e.scopes[s].n = 0 // counted again as the spans are placed
	}
	e.order = growInt32(e.order, start)
	for i, g := range e.spanGroup {
		if g < 0 {
			continue
		}
		sg := &e.scopes[g]
		e.order[sg.start+sg.n] = int32(i) // #nosec G115 -- i < len(spans)
		sg.n++
	}
	return true
}

// resourceIndex finds or adds the group of res. Resources are grouped by
// equivalence, as tracetransform does (a nil resource is equivalent to an
// empty one).
func (e *otlpEncoder) resourceIndex(res *resource.Resource) int {
	for r := range e.resources {
		if e.resources[r].res == res {
			return r
		}
	}
	key := res.Equivalent()
	for r := range e.resources {
		if e.resources[r].key == key {
			return r
		}
	}
	e.resources = append(e.resources, resourceGroup{res: res, key: key})
	return len(e.resources) - 1
}

// scopeIndex finds or adds the group of scope within resource group r.
func (e *otlpEncoder) scopeIndex(r int, scope instrumentation.Scope) int {
	for s := range e.scopes {
		if e.scopes[s].resource == r && e.scopes[s].scope == scope {
			return s
		}
	}
	e.scopes = append(e.scopes, scopeGroup{resource: r, scope: scope})
	return len(e.scopes) - 1
}

// reset forgets the last request's groups, dropping what they point to.
func (e *otlpEncoder) reset() {
	clear(e.resources)
	clear(e.scopes)
	e.resources, e.scopes = e.resources[:0], e.scopes[:0]
}

func (e *otlpEncoder) appendScopeSpans(b []byte, spans []sdktrace.ReadOnlySpan, sg *scopeGroup) []byte {
	b, mark := openField(b, fieldResourceSpansScopeSpans)
	if sg.scope != (instrumentation.Scope{}) {
		var m int
		b, m = openField(b, fieldScopeSpansScope)
		b = appendString(b, fieldScopeName, sg.scope.Name)
		b = appendString(b, fieldScopeVersion, sg.scope.Version)
		b = appendAttrIter(b, fieldScopeAttributes, sg.scope.Attributes.Iter())
		b = closeField(b, m)
	}
	for _, i := range e.order[sg.start : sg.start+sg.n] {
		var m int
		b, m = openField(b, fieldScopeSpansSpans)
		b = appendSpan(b, spans[i])
		b = closeField(b, m)
	}
	b = appendString(b, fieldScopeSpansSchemaURL, sg.scope.SchemaURL)
	return closeField(b, mark)
}

// appendSpan writes the fields of one Span message.
func appendSpan(b []byte, sd sdktrace.ReadOnlySpan) []byte {
	sc := sd.SpanContext()
	tid, sid := sc.TraceID(), sc.SpanID()
	b = appendBytes(b, fieldSpanTraceID, tid[:])
	b = appendBytes(b, fieldSpanSpanID, sid[:])
	if ts := sc.TraceState(); ts.Len() > 0 {
		b = appendString(b, fieldSpanTraceState, ts.String())
	}
	parent := sd.Parent()
	if psid := parent.SpanID(); psid.IsValid() {
		b = appendBytes(b, fieldSpanParentSpanID, psid[:])
	}
	b = appendString(b, fieldSpanName, sd.Name())
	b = appendVarint(b, fieldSpanKind, spanKindOTLP(sd.SpanKind()))
	b = appendFixed64(b, fieldSpanStartTime, unixNanos(sd.StartTime().UnixNano()))
	b = appendFixed64(b, fieldSpanEndTime, unixNanos(sd.EndTime().UnixNano()))
	for _, kv := range sd.Attributes() {
		b = appendKeyValue(b, fieldSpanAttributes, kv)
	}
	b = appendVarint(b, fieldSpanDroppedAttributes, uint64(clampUint32(sd.DroppedAttributes())))
	for _, ev := range sd.Events() {
		var m int
		b, m = openField(b, fieldSpanEvents)
		b = appendFixed64(b, fieldEventTime, unixNanos(ev.Time.UnixNano()))
		b = appendString(b, fieldEventName, ev.Name)
		for _, kv := range ev.Attributes {
			b = appendKeyValue(b, fieldEventAttributes, kv)
		}
		b = appendVarint(b, fieldEventDroppedAttributes, uint64(clampUint32(ev.DroppedAttributeCount)))
		b = closeField(b, m)
	}
	b = appendVarint(b, fieldSpanDroppedEvents, uint64(clampUint32(sd.DroppedEvents())))
	for _, l := range sd.Links() {
		ltid, lsid := l.SpanContext.TraceID(), l.SpanContext.SpanID()
		var m int
		b, m = openField(b, fieldSpanLinks)
		b = appendBytes(b, fieldLinkTraceID, ltid[:])
		b = appendBytes(b, fieldLinkSpanID, lsid[:])
		// tracetransform sends no trace_state for a link; neither does this.
		for _, kv := range l.Attributes {
			b = appendKeyValue(b, fieldLinkAttributes, kv)
		}
		b = appendVarint(b, fieldLinkDroppedAttributes, uint64(clampUint32(l.DroppedAttributeCount)))
		b = appendFixed32(b, fieldLinkFlags, spanFlags(l.SpanContext.TraceFlags(), l.SpanContext))
		b = closeField(b, m)
	}
	b = appendVarint(b, fieldSpanDroppedLinks, uint64(clampUint32(sd.DroppedLinks())))
	// The status is always present, even when unset and without a message.
	st := sd.Status()
	b, m := openField(b, fieldSpanStatus)
	b = appendString(b, fieldStatusMessage, st.Description)
	b = appendVarint(b, fieldStatusCode, statusCodeOTLP(st.Code))
	b = closeField(b, m)
	return appendFixed32(b, fieldSpanFlags, spanFlags(sc.TraceFlags(), parent))
}

// spanFlags are the W3C trace flags in the low byte, and always the bit that
// says whether the parent (for a link: the linked span) is remote is known.
func spanFlags(tf trace.TraceFlags, parent trace.SpanContext) uint32 {
	f := uint32(tf) | otlpFlagsHasIsRemote
	if parent.IsRemote() {
		f |= otlpFlagsIsRemote
	}
	return f
}

func spanKindOTLP(k trace.SpanKind) uint64 {
	switch k {
	case trace.SpanKindInternal:
		return otlpSpanKindInternal
	case trace.SpanKindServer:
		return otlpSpanKindServer
	case trace.SpanKindClient:
		return otlpSpanKindClient
	case trace.SpanKindProducer:
		return otlpSpanKindProducer
	case trace.SpanKindConsumer:
		return otlpSpanKindConsumer
	}
	return otlpSpanKindUnspecified
}

// statusCodeOTLP maps the API's codes, whose numbers differ from OTLP's.
func statusCodeOTLP(c codes.Code) uint64 {
	switch c {
	case codes.Ok:
		return otlpStatusOK
	case codes.Error:
		return otlpStatusError
	}
	return otlpStatusUnset
}

// unixNanos clamps times before 1970 (and the zero time) to 0.
func unixNanos(ns int64) uint64 { return uint64(max(0, ns)) } // #nosec G115 -- clamped

func clampUint32(v int) uint32 {
	if v < 0 {
		return 0
	}
	if int64(v) > math.MaxUint32 {
		return math.MaxUint32
	}
	return uint32(v) // #nosec G115 -- range checked
}

func appendAttrIter(b []byte, num protowire.Number, it attribute.Iterator) []byte {
	for it.Next() {
		b = appendKeyValue(b, num, it.Attribute())
	}
	return b
}

// appendKeyValue writes kv as a KeyValue in field num. The value is always
// present, if only as an empty AnyValue.
func appendKeyValue(b []byte, num protowire.Number, kv attribute.KeyValue) []byte {
	b, mark := openField(b, num)
	b = appendString(b, fieldKeyValueKey, string(kv.Key))
	var m int
	b, m = openField(b, fieldKeyValueValue)
	b = appendAnyValue(b, kv.Value)
	b = closeField(b, m)
	return closeField(b, mark)
}

// appendAnyValue writes the fields of an AnyValue. Its value is a oneof, so
// a zero bool, number or string is still written: that is how a receiver
// tells false from absent.
func appendAnyValue(b []byte, v attribute.Value) []byte {
	switch v.Type() {
	case attribute.BOOL:
		return appendOneofVarint(b, fieldAnyBool, protowire.EncodeBool(v.AsBool()))
	case attribute.INT64:
		return appendOneofVarint(b, fieldAnyInt, uint64(v.AsInt64())) // #nosec G115 -- int64 is sent as its two's complement
	case attribute.FLOAT64:
		b = protowire.AppendTag(b, fieldAnyDouble, protowire.Fixed64Type)
		return protowire.AppendFixed64(b, math.Float64bits(v.AsFloat64()))
	case attribute.STRING:
		return appendOneofBytes(b, fieldAnyString, v.AsString())
	case attribute.BYTESLICE:
		return appendOneofBytes(b, fieldAnyBytes, string(v.AsByteSlice()))
	case attribute.BOOLSLICE:
		var m int
		b, m = openField(b, fieldAnyArray)
		for _, x := range v.AsBoolSlice() {
			b = appendArrayElem(b, fieldAnyBool, protowire.EncodeBool(x))
		}
		return closeField(b, m)
	case attribute.INT64SLICE:
		var m int
		b, m = openField(b, fieldAnyArray)
		for _, x := range v.AsInt64Slice() {
			b = appendArrayElem(b, fieldAnyInt, uint64(x)) // #nosec G115 -- as above
		}
		return closeField(b, m)
	case attribute.FLOAT64SLICE:
		var m int
		b, m = openField(b, fieldAnyArray)
		for _, x := range v.AsFloat64Slice() {
			b = protowire.AppendTag(b, fieldListValues, protowire.BytesType)
			b = append(b, byte(protowire.SizeTag(fieldAnyDouble)+8))
			b = protowire.AppendTag(b, fieldAnyDouble, protowire.Fixed64Type)
			b = protowire.AppendFixed64(b, math.Float64bits(x))
		}
		return closeField(b, m)
	case attribute.STRINGSLICE:
		var m int
		b, m = openField(b, fieldAnyArray)
		for _, x := range v.AsStringSlice() {
			var em int
			b, em = openField(b, fieldListValues)
			b = appendOneofBytes(b, fieldAnyString, x)
			b = closeField(b, em)
		}
		return closeField(b, m)
	case attribute.SLICE:
		var m int
		b, m = openField(b, fieldAnyArray)
		for _, x := range v.AsSlice() {
			var em int
			b, em = openField(b, fieldListValues)
			b = appendAnyValue(b, x)
			b = closeField(b, em)
		}
		return closeField(b, m)
	case attribute.MAP:
		var m int
		b, m = openField(b, fieldAnyKVList)
		for _, kv := range v.AsMap() {
			b = appendKeyValue(b, fieldListValues, kv)
		}
		return closeField(b, m)
	case attribute.EMPTY:
		return b
	}
	// A type this SDK version does not know: tracetransform's placeholder.
	return appendOneofBytes(b, fieldAnyString, "INVALID")
}

// appendArrayElem writes one ArrayValue element holding a varint field.
func appendArrayElem(b []byte, num protowire.Number, x uint64) []byte {
	b = protowire.AppendTag(b, fieldListValues, protowire.BytesType)
	b = append(b, byte(protowire.SizeTag(num)+protowire.SizeVarint(x)))
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, x)
}

// openField starts a length-delimited field with a one-byte length and
// returns where that byte is; closeField fills it in.
func openField(b []byte, num protowire.Number) ([]byte, int) {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return append(b, 0), len(b)
}

// closeField writes the length of the field opened at mark. Most nested
// messages (attributes, events, links) are shorter than 128 bytes and fit the
// byte reserved for it; longer ones move their body along by the bytes the
// length needs beyond one, which is cheaper than sizing every message twice.
func closeField(b []byte, mark int) []byte {
	n := len(b) - mark - 1
	if n < 0x80 {
		b[mark] = byte(n)
		return b
	}
	extra := protowire.SizeVarint(uint64(n)) - 1
	b = append(b, make([]byte, extra)...)
	copy(b[mark+1+extra:], b[mark+1:mark+1+n])
	protowire.AppendVarint(b[:mark], uint64(n))
	return b
}

// The append helpers below leave out proto3 fields that hold their zero
// value, as protobuf-go does; appendOneof* always write.

func appendString(b []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	return appendOneofBytes(b, num, s)
}

func appendBytes(b []byte, num protowire.Number, v []byte) []byte {
	if len(v) == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

func appendVarint(b []byte, num protowire.Number, v uint64) []byte {
	if v == 0 {
		return b
	}
	return appendOneofVarint(b, num, v)
}

func appendFixed64(b []byte, num protowire.Number, v uint64) []byte {
	if v == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.Fixed64Type)
	return protowire.AppendFixed64(b, v)
}

func appendFixed32(b []byte, num protowire.Number, v uint32) []byte {
	if v == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.Fixed32Type)
	return protowire.AppendFixed32(b, v)
}

func appendOneofBytes(b []byte, num protowire.Number, s string) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func appendOneofVarint(b []byte, num protowire.Number, v uint64) []byte {
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

// growInt32 returns s resized to n, reusing its array when it is big enough.
func growInt32(s []int32, n int) []int32 {
	if cap(s) < n {
		return make([]int32, n)
	}
	return s[:n]
}
