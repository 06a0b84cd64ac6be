package engine

import (
	"errors"
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

var errMalformed = errors.New("malformed OTLP in buffered chunk")

// extract copies out of an encoded ExportTraceServiceRequest only the spans
// whose trace id keep accepts, with their resources and scopes, still
// encoded. Walking the wire format and skipping the other spans costs far
// less than decoding the whole batch when one trace in it is kept.
func extract(data []byte, keep func(pcommon.TraceID) bool) ([]byte, error) {
	var out []byte
	err := eachField(data, func(num protowire.Number, typ protowire.Type, raw, val []byte) error {
		if num != fieldResourceSpans || typ != protowire.BytesType {
			return nil
		}
		rs, err := filterNested(val, fieldScopeSpans, func(ss []byte) ([]byte, error) {
			return filterNested(ss, fieldSpans, func(span []byte) ([]byte, error) {
				id, err := spanTraceID(span)
				if err != nil || !keep(id) {
					return nil, err
				}
				return span, nil
			})
		})
		if err != nil || rs == nil {
			return err
		}
		out = protowire.AppendTag(out, fieldResourceSpans, protowire.BytesType)
		out = protowire.AppendBytes(out, rs)
		return nil
	})
	return out, err
}

// filterNested rebuilds message msg keeping its fields other than child as
// they are, and each child field (an embedded message) as f returns it; nil
// from f drops that child. It returns nil when no child is left.
func filterNested(msg []byte, child protowire.Number, f func([]byte) ([]byte, error)) ([]byte, error) {
	var other, kids []byte
	err := eachField(msg, func(num protowire.Number, typ protowire.Type, raw, val []byte) error {
		if num != child || typ != protowire.BytesType {
			other = append(other, raw...)
			return nil
		}
		kept, err := f(val)
		if err != nil || kept == nil {
			return err
		}
		kids = protowire.AppendTag(kids, child, protowire.BytesType)
		kids = protowire.AppendBytes(kids, kept)
		return nil
	})
	if err != nil || kids == nil {
		return nil, err
	}
	return append(other, kids...), nil
}

// spanTraceID reads the trace id of an encoded Span. It is a plain loop
// rather than eachField because it runs once per span of every kept chunk.
func spanTraceID(span []byte) (pcommon.TraceID, error) {
	var id pcommon.TraceID
	for len(span) > 0 {
		num, typ, n := protowire.ConsumeTag(span)
		if n < 0 {
			return id, fmt.Errorf("%w: %w", errMalformed, protowire.ParseError(n))
		}
		span = span[n:]
		if num == fieldTraceID && typ == protowire.BytesType {
			val, m := protowire.ConsumeBytes(span)
			if m < 0 || len(val) != len(id) {
				return id, fmt.Errorf("%w: bad trace id", errMalformed)
			}
			copy(id[:], val)
			return id, nil
		}
		m := protowire.ConsumeFieldValue(num, typ, span)
		if m < 0 {
			return id, fmt.Errorf("%w: %w", errMalformed, protowire.ParseError(m))
		}
		span = span[m:]
	}
	return id, fmt.Errorf("%w: span without trace id", errMalformed)
}

// eachField calls f with every field of msg: its number, wire type, raw
// bytes (tag included) and, for length-delimited fields, the value.
func eachField(msg []byte, f func(num protowire.Number, typ protowire.Type, raw, val []byte) error) error {
	for len(msg) > 0 {
		num, typ, n := protowire.ConsumeTag(msg)
		if n < 0 {
			return fmt.Errorf("%w: %w", errMalformed, protowire.ParseError(n))
		}
		m := protowire.ConsumeFieldValue(num, typ, msg[n:])
		if m < 0 {
			return fmt.Errorf("%w: %w", errMalformed, protowire.ParseError(m))
		}
		var val []byte
		if typ == protowire.BytesType {
			val, _ = protowire.ConsumeBytes(msg[n:])
		}
		if err := f(num, typ, msg[:n+m], val); err != nil {
			return err
		}
		msg = msg[n+m:]
	}
	return nil
}
