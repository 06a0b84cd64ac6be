package engine

import (
	"fmt"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"google.golang.org/protobuf/encoding/protowire"
)

// Field numbers of the OTLP messages extract walks
// (opentelemetry/proto/collector/trace/v1 and trace/v1).
const (
	fieldResourceSpans = 1 // ExportTraceServiceRequest.resource_spans
	fieldScopeSpans    = 2 // ResourceSpans.scope_spans
	fieldSpans         = 2 // ScopeSpans.spans
	fieldTraceID       = 1 // Span.trace_id
)

// extract appends to dst, as an encoded ExportTraceServiceRequest, the spans
// of data (another such request) whose trace id is among ids, with their
// resources and scopes. Walking the wire format and skipping the other spans
// costs far less than decoding the whole batch to keep a few traces of it.
// pdataEncoded says that data was encoded by pdata's marshaler, whose
// layout allows a shortcut (lastTraceID); bytes from elsewhere are walked.
func extract(dst, data []byte, ids []pcommon.TraceID, pdataEncoded bool) ([]byte, error) {
	for len(data) > 0 {
		num, typ, raw, val, err := next(data)
		if err != nil {
			return dst, err
		}
		data = data[len(raw):]
		if num != fieldResourceSpans || typ != protowire.BytesType {
			continue
		}
		rs, err := filterNested(val, fieldScopeSpans, func(ss []byte) ([]byte, error) {
			return filterNested(ss, fieldSpans, func(span []byte) ([]byte, error) {
				id, err := spanTraceID(span, pdataEncoded)
				if err != nil || !containsID(ids, id) {
					return nil, err
				}
				return span, nil
			})
		})
		if err != nil {
			return dst, err
		}
		if rs != nil {
			dst = protowire.AppendTag(dst, fieldResourceSpans, protowire.BytesType)
			dst = protowire.AppendBytes(dst, rs)
		}
	}
	return dst, nil
}

// containsID is a linear search: a chunk holds a few kept traces at a time.
func containsID(ids []pcommon.TraceID, id pcommon.TraceID) bool {
	for _, have := range ids {
		if have == id {
			return true
		}
	}
	return false
}

// filterNested rebuilds message msg keeping its fields other than child as
// they are, and each child field (an embedded message) as keep returns it;
// nil from keep drops that child. It returns nil when no child is left, and
// copies nothing until a child is kept.
func filterNested(msg []byte, child protowire.Number, keep func([]byte) ([]byte, error)) ([]byte, error) {
	var out []byte
	var othersBuf [4][]byte // resource or scope and a schema URL, usually
	others, othersLen := othersBuf[:0], 0
	for rest := msg; len(rest) > 0; {
		num, typ, raw, val, err := next(rest)
		if err != nil {
			return nil, err
		}
		rest = rest[len(raw):]
		if num != child || typ != protowire.BytesType {
			others = append(others, raw)
			othersLen += len(raw)
			continue
		}
		kept, err := keep(val)
		if err != nil {
			return nil, err
		}
		if kept == nil {
			continue
		}
		out = protowire.AppendTag(out, child, protowire.BytesType)
		out = protowire.AppendBytes(out, kept)
	}
	if out == nil {
		return nil, nil
	}
	// The other fields go first; field order does not matter to a decoder.
	head := make([]byte, 0, othersLen+len(out))
	for _, f := range others {
		head = append(head, f...)
	}
	return append(head, out...), nil
}

// next splits the first field off msg: its number, wire type, raw bytes
// (tag included) and, for a length-delimited field, its value. It reads as
// pdata's decoder does (consumeTag, consumeUnknown), so that what validate
// accepted is walked here without surprise.
func next(msg []byte) (protowire.Number, protowire.Type, []byte, []byte, error) {
	num, typ, pos, err := consumeTag(msg, 0)
	if err != nil {
		return 0, 0, nil, nil, fmt.Errorf("%w: %w", errMalformed, err)
	}
	if typ == wtLen {
		val, end, err := consumeLen(msg, pos)
		if err != nil {
			return 0, 0, nil, nil, fmt.Errorf("%w: %w", errMalformed, err)
		}
		return protowire.Number(num), protowire.BytesType, msg[:end], val, nil
	}
	end, err := consumeUnknown(msg, pos, typ)
	if err != nil {
		return 0, 0, nil, nil, fmt.Errorf("%w: %w", errMalformed, err)
	}
	return protowire.Number(num), protowire.Type(typ), msg[:end], nil, nil
}

// traceIDFieldLen is the encoded size of Span.trace_id: tag, length, 16 bytes.
const traceIDFieldLen = 2 + len(pcommon.TraceID{})

// spanTraceID reads the trace id of an encoded Span.
func spanTraceID(span []byte, pdataEncoded bool) (pcommon.TraceID, error) {
	if !pdataEncoded {
		return walkTraceID(span)
	}
	if id, ok := lastTraceID(span); ok {
		return id, nil
	}
	return walkTraceID(span)
}

// lastTraceID is the fast path of spanTraceID. Chunks are encoded by pdata's
// marshaler, which writes a message back to front and always writes the
// trace id, so it is the last field of every span. When the last bytes do
// not read as that field, walkTraceID finds it wherever it is.
func lastTraceID(span []byte) (pcommon.TraceID, bool) {
	var id pcommon.TraceID
	n := len(span)
	if n < traceIDFieldLen {
		return id, false
	}
	f := span[n-traceIDFieldLen:]
	if f[0] != byte(protowire.EncodeTag(fieldTraceID, protowire.BytesType)) || f[1] != byte(len(id)) {
		return id, false
	}
	copy(id[:], f[2:])
	return id, true
}

// walkTraceID reads the trace id of an encoded Span field by field; as in
// the decoder, the last trace_id field counts. An empty or absent trace_id
// is the zero id, as protobuf and pdata read it and as Ingest grouped the
// span: pdata encodes a span without a trace id as a field of 0 bytes, and
// refusing it here would fail the whole chunk.
func walkTraceID(span []byte) (pcommon.TraceID, error) {
	var id pcommon.TraceID
	for len(span) > 0 {
		num, typ, raw, val, err := next(span)
		if err != nil {
			return id, err
		}
		if num == fieldTraceID && typ == protowire.BytesType {
			if len(val) != 0 && len(val) != len(id) {
				return id, fmt.Errorf("%w: trace id of %d bytes", errMalformed, len(val))
			}
			id = pcommon.TraceID{}
			copy(id[:], val)
		}
		span = span[len(raw):]
	}
	return id, nil
}
