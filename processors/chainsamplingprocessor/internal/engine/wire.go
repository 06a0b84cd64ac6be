package engine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"unsafe"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/chainotel/chainotel/processors/chainsamplingprocessor/internal/match"
)

// ErrMalformed is returned by IngestOTLP for bytes that pdata's OTLP decoder
// would refuse too; the receiver answers it as the core otlp receiver
// answers a request it cannot decode (gRPC InvalidArgument, HTTP 400).
var ErrMalformed = errors.New("malformed OTLP trace export request")

// The wire walker reads an ExportTraceServiceRequest without decoding it.
// validate checks the request the way pdata's decoder reads it, field by
// field (wire types of the known fields, lengths, id sizes, nested messages,
// unknown fields skipped the same way), so that a request IngestOTLP takes
// is one pdata decodes when its kept spans are extracted, and one it refuses
// is one the core otlp receiver refuses. The walk then reads only the fields
// the policy needs, in place.

// wireType is a protobuf wire type, as pdata's decoder names them.
type wireType int8

const (
	wtVarint     wireType = 0
	wtI64        wireType = 1
	wtLen        wireType = 2
	wtStartGroup wireType = 3
	wtEndGroup   wireType = 4
	wtI32        wireType = 5
)

// msgType names the OTLP messages of a trace export request.
type msgType uint8

const (
	msgScalar msgType = iota // not a message
	msgRequest
	msgResourceSpans
	msgResource
	msgEntityRef
	msgScopeSpans
	msgScope
	msgSpan
	msgEvent
	msgLink
	msgStatus
	msgKeyValue
	msgAnyValue
	msgArray
	msgKVList
)

var msgNames = [...]string{"scalar", "ExportTraceServiceRequest", "ResourceSpans", "Resource", "EntityRef",
	"ScopeSpans", "InstrumentationScope", "Span", "Span.Event", "Span.Link", "Status", "KeyValue", "AnyValue",
	"ArrayValue", "KeyValueList"}

// fieldSpec is what pdata's decoder expects of a known field.
type fieldSpec struct {
	typ   wireType
	child msgType // for an embedded message
	idLen int     // for a trace (16) or span (8) id: 0 or this many bytes
	known bool
}

func f(typ wireType) fieldSpec   { return fieldSpec{typ: typ, known: true} }
func fm(child msgType) fieldSpec { return fieldSpec{typ: wtLen, child: child, known: true} }
func fid(n int) fieldSpec        { return fieldSpec{typ: wtLen, idLen: n, known: true} }
func fields(m map[int32]fieldSpec) [32]fieldSpec {
	var out [32]fieldSpec
	for n, s := range m {
		out[n] = s
	}
	return out
}

const traceIDLen, spanIDLen = 16, 8

// Field numbers the walk reads.
const (
	fReqResourceSpans       = 1
	fRSResource             = 1
	fRSScopeSpans           = 2
	fRSDeprecatedScopeSpans = 1000
	fResAttributes          = 1
	fSSSpans                = 2
	fSpanTraceID            = 1
	fSpanTraceState         = 3
	fSpanParentID           = 4
	fSpanName               = 5
	fSpanStart              = 7
	fSpanEnd                = 8
	fSpanAttributes         = 9
	fSpanLinks              = 13
	fSpanStatus             = 15
	fStatusCode             = 3
	fLinkTraceID            = 1
	fKVKey                  = 1
	fKVValue                = 2
	fAnyString              = 1
	fAnyBool                = 2
	fAnyInt                 = 3
	fAnyDouble              = 4
	fAnyArray               = 5
	fAnyKVList              = 6
	fAnyBytes               = 7
)

// schema lists, by message and field number, the fields pdata's decoder
// knows (pdata v1.67.0, internal/generated_proto_*.go). Field 1000 of
// ResourceSpans (the deprecated instrumentation_library_spans) is handled
// apart: its number does not fit the table.
var schema = [...][32]fieldSpec{
	msgRequest:       fields(map[int32]fieldSpec{1: fm(msgResourceSpans)}),
	msgResourceSpans: fields(map[int32]fieldSpec{1: fm(msgResource), 2: fm(msgScopeSpans), 3: f(wtLen)}),
	msgResource:      fields(map[int32]fieldSpec{1: fm(msgKeyValue), 2: f(wtVarint), 3: fm(msgEntityRef)}),
	msgEntityRef:     fields(map[int32]fieldSpec{1: f(wtLen), 2: f(wtLen), 3: f(wtLen), 4: f(wtLen)}),
	msgScopeSpans:    fields(map[int32]fieldSpec{1: fm(msgScope), 2: fm(msgSpan), 3: f(wtLen)}),
	msgScope:         fields(map[int32]fieldSpec{1: f(wtLen), 2: f(wtLen), 3: fm(msgKeyValue), 4: f(wtVarint)}),
	msgSpan: fields(map[int32]fieldSpec{1: fid(traceIDLen), 2: fid(spanIDLen), 3: f(wtLen), 4: fid(spanIDLen),
		16: f(wtI32), 5: f(wtLen), 6: f(wtVarint), 7: f(wtI64), 8: f(wtI64), 9: fm(msgKeyValue), 10: f(wtVarint),
		11: fm(msgEvent), 12: f(wtVarint), 13: fm(msgLink), 14: f(wtVarint), 15: fm(msgStatus)}),
	msgEvent: fields(map[int32]fieldSpec{1: f(wtI64), 2: f(wtLen), 3: fm(msgKeyValue), 4: f(wtVarint)}),
	msgLink: fields(map[int32]fieldSpec{1: fid(traceIDLen), 2: fid(spanIDLen), 3: f(wtLen), 4: fm(msgKeyValue),
		5: f(wtVarint), 6: f(wtI32)}),
	msgStatus:   fields(map[int32]fieldSpec{2: f(wtLen), 3: f(wtVarint)}),
	msgKeyValue: fields(map[int32]fieldSpec{1: f(wtLen), 2: fm(msgAnyValue), 3: f(wtVarint)}),
	msgAnyValue: fields(map[int32]fieldSpec{1: f(wtLen), 2: f(wtVarint), 3: f(wtVarint), 4: f(wtI64),
		5: fm(msgArray), 6: fm(msgKVList), 7: f(wtLen), 8: f(wtVarint)}),
	msgArray:  fields(map[int32]fieldSpec{1: fm(msgAnyValue)}),
	msgKVList: fields(map[int32]fieldSpec{1: fm(msgKeyValue)}),
}

func specOf(m msgType, num int32) fieldSpec {
	if m == msgResourceSpans && num == fRSDeprecatedScopeSpans {
		return fm(msgScopeSpans)
	}
	if num < 0 || int(num) >= len(schema[m]) {
		return fieldSpec{}
	}
	return schema[m][num]
}

// wireError says what is wrong and where.
func wireError(m msgType, pos int, format string, args ...any) error {
	return fmt.Errorf("%w: %s at byte %d: %s", ErrMalformed, msgNames[m], pos, fmt.Sprintf(format, args...))
}

// requestStats is what validate learns of a request on the way.
type requestStats struct {
	spans      int
	deprecated bool // some ResourceSpans uses field 1000
}

// validate checks data as an encoded message m the way pdata decodes it.
func validate(data []byte, m msgType, st *requestStats) error {
	for pos := 0; pos < len(data); {
		start := pos
		num, typ, p, err := consumeTag(data, pos)
		if err != nil {
			return wireError(m, start, "%v", err)
		}
		pos = p
		spec := specOf(m, num)
		if !spec.known {
			if pos, err = consumeUnknown(data, pos, typ); err != nil {
				return wireError(m, start, "field %d: %v", num, err)
			}
			continue
		}
		if typ != spec.typ {
			return wireError(m, start, "wrong wire type %d for field %d", typ, num)
		}
		switch typ {
		case wtVarint:
			_, pos, err = consumeVarint(data, pos)
		case wtI64:
			pos, err = consumeFixed(data, pos, 8)
		case wtI32:
			pos, err = consumeFixed(data, pos, 4)
		case wtLen:
			var val []byte
			val, pos, err = consumeLen(data, pos)
			if err != nil {
				break
			}
			switch {
			case spec.idLen > 0 && len(val) != 0 && len(val) != spec.idLen:
				err = fmt.Errorf("id of %d bytes in field %d, want %d", len(val), num, spec.idLen)
			case spec.child != msgScalar:
				if m == msgScopeSpans && num == fSSSpans {
					st.spans++
				}
				if m == msgResourceSpans && num == fRSDeprecatedScopeSpans {
					st.deprecated = true
				}
				if err := validate(val, spec.child, st); err != nil {
					return err
				}
			}
		}
		if err != nil {
			return wireError(m, start, "field %d: %v", num, err)
		}
	}
	return nil
}

var (
	errIntOverflow = errors.New("varint overflows 64 bits")
	errBadLength   = errors.New("negative length")
)

// The consume functions read as pdata's internal/proto does, errors and all.

func consumeVarint(buf []byte, pos int) (uint64, int, error) {
	var num uint64
	for shift := uint(0); ; shift += 7 {
		if shift >= 64 {
			return 0, 0, errIntOverflow
		}
		if pos >= len(buf) {
			return 0, 0, io.ErrUnexpectedEOF
		}
		b := buf[pos]
		pos++
		num |= uint64(b&0x7F) << shift
		if b < 0x80 {
			return num, pos, nil
		}
	}
}

func consumeTag(buf []byte, pos int) (int32, wireType, int, error) {
	tag, pos, err := consumeVarint(buf, pos)
	if err != nil {
		return 0, 0, 0, err
	}
	num := int32(tag >> 3) //nolint:gosec // as pdata reads it: a number past int32 wraps and is refused below
	if num <= 0 {
		return 0, 0, 0, fmt.Errorf("illegal field number %d", num)
	}
	return num, wireType(tag & 0x7), pos, nil
}

func consumeLen(buf []byte, pos int) ([]byte, int, error) {
	n, pos, err := consumeVarint(buf, pos)
	if err != nil {
		return nil, 0, err
	}
	length := int(n) //nolint:gosec // checked right below, as pdata does
	if length < 0 {
		return nil, 0, errBadLength
	}
	end := pos + length
	if end < 0 || end > len(buf) {
		return nil, 0, io.ErrUnexpectedEOF
	}
	return buf[pos:end], end, nil
}

func consumeFixed(buf []byte, pos, n int) (int, error) {
	pos += n
	if pos < 0 || pos > len(buf) {
		return 0, io.ErrUnexpectedEOF
	}
	return pos, nil
}

// consumeUnknown skips an unknown field's value (groups included).
func consumeUnknown(buf []byte, pos int, typ wireType) (int, error) {
	var err error
	depth := 0
	for pos < len(buf) {
		switch typ {
		case wtVarint:
			_, pos, err = consumeVarint(buf, pos)
			return pos, err
		case wtI64:
			return consumeFixed(buf, pos, 8)
		case wtLen:
			_, pos, err = consumeLen(buf, pos)
			return pos, err
		case wtStartGroup:
			depth++
		case wtEndGroup:
			if depth == 0 {
				return 0, errors.New("unexpected end of group")
			}
			depth--
		case wtI32:
			return consumeFixed(buf, pos, 4)
		default:
			return 0, fmt.Errorf("illegal wire type %d", typ)
		}
		if depth == 0 {
			return pos, nil
		}
		if _, typ, pos, err = consumeTag(buf, pos); err != nil {
			return 0, err
		}
	}
	return 0, io.ErrUnexpectedEOF
}

// field is one field of a validated message.
type field struct {
	num int32
	typ wireType
	val []byte // a length-delimited field's value
	u   uint64 // a varint's or fixed field's value
}

// nextField reads the field at pos of a message validate accepted; it
// returns pos past the end when the message is done.
func nextField(buf []byte, pos int) (field, int) {
	// The common case first: a one-byte tag and, for a length-delimited
	// field, a one-byte length (field numbers under 16, values under 128
	// bytes: most fields of a span).
	if pos+1 < len(buf) && buf[pos] < 0x80 && buf[pos] >= 8 {
		tag := buf[pos]
		switch typ := wireType(tag & 7); typ {
		case wtLen:
			if n := int(buf[pos+1]); n < 0x80 && pos+2+n <= len(buf) {
				return field{num: int32(tag >> 3), typ: typ, val: buf[pos+2 : pos+2+n]}, pos + 2 + n
			}
		case wtI64:
			if pos+9 <= len(buf) {
				return field{num: int32(tag >> 3), typ: typ, u: binary.LittleEndian.Uint64(buf[pos+1:])}, pos + 9
			}
		case wtVarint:
			if b := buf[pos+1]; b < 0x80 {
				return field{num: int32(tag >> 3), typ: typ, u: uint64(b)}, pos + 2
			}
		}
	}
	return nextFieldSlow(buf, pos)
}

// nextFieldSlow is nextField for any field.
func nextFieldSlow(buf []byte, pos int) (field, int) {
	num, typ, pos, err := consumeTag(buf, pos)
	if err != nil {
		return field{}, len(buf) + 1
	}
	fl := field{num: num, typ: typ}
	switch typ {
	case wtVarint:
		fl.u, pos, err = consumeVarint(buf, pos)
	case wtI64:
		if pos+8 <= len(buf) {
			fl.u = binary.LittleEndian.Uint64(buf[pos:])
		}
		pos, err = consumeFixed(buf, pos, 8)
	case wtI32:
		if pos+4 <= len(buf) {
			fl.u = uint64(binary.LittleEndian.Uint32(buf[pos:]))
		}
		pos, err = consumeFixed(buf, pos, 4)
	case wtLen:
		fl.val, pos, err = consumeLen(buf, pos)
	default:
		pos, err = consumeUnknown(buf, pos, typ)
	}
	if err != nil {
		return field{}, len(buf) + 1
	}
	return fl, pos
}

// rangeFields calls f with each field of a validated message.
func rangeFields(msg []byte, f func(field) bool) {
	for pos := 0; pos < len(msg); {
		var fl field
		fl, pos = nextField(msg, pos)
		if pos > len(msg) || !f(fl) {
			return
		}
	}
}

// str is the string of b without a copy: valid while b is, and never kept
// past the batch (the interner copies what it keeps).
func str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// keyValueOf reads an encoded KeyValue whose key is among keys: the index
// of its key (or -1, its value then unread) and its value as a summary
// records it.
func keyValueOf(kv []byte, keys []string) (int, match.Value, bool) {
	// The key is read first, wherever it is (the last one counts), so
	// that the value of an attribute no rule mentions is never read.
	var key []byte
	rangeFields(kv, func(fl field) bool {
		if fl.num == fKVKey && fl.typ == wtLen {
			key = fl.val
		}
		return true
	})
	i := -1
	for j, k := range keys {
		if string(key) == k {
			i = j
			break
		}
	}
	if i < 0 {
		return -1, match.Value{}, false
	}
	var v match.Value
	ok := false
	rangeFields(kv, func(fl field) bool {
		if fl.num == fKVValue && fl.typ == wtLen {
			// A repeated value merges into the one before, as in the
			// decoder: a later oneof field replaces an earlier one.
			v, ok = anyValue(fl.val, v, ok)
		}
		return true
	})
	return i, v, ok
}

// anyValue converts an encoded AnyValue as match.ValueOf converts pdata's,
// over the value v, ok read so far: the last of its oneof fields wins, as in
// the decoder.
func anyValue(av []byte, v match.Value, ok bool) (match.Value, bool) {
	rangeFields(av, func(fl field) bool {
		switch fl.num {
		case fAnyString:
			v, ok = match.Value{Str: str(fl.val), Kind: match.KindStr}, true
		case fAnyBool:
			v, ok = match.Value{Kind: match.KindBool}, true
			if fl.u != 0 {
				v.Num = 1
			}
		case fAnyInt:
			v, ok = match.Value{Num: float64(int64(fl.u)), Kind: match.KindNum}, true //nolint:gosec // int64 on the wire
		case fAnyDouble:
			v, ok = match.Value{Num: math.Float64frombits(fl.u), Kind: match.KindNum}, true
		case fAnyArray, fAnyKVList, fAnyBytes:
			v, ok = match.Value{}, false
		}
		return true
	})
	return v, ok
}

// wireResource is the ResourceView of an encoded Resource: its attributes.
type wireResource struct {
	attrs [][]byte // encoded KeyValues, reused from group to group
}

// add appends the attributes of res, an encoded Resource: a repeated
// resource field merges, so its attributes add up.
func (r *wireResource) add(res []byte) {
	rangeFields(res, func(fl field) bool {
		if fl.num == fResAttributes && fl.typ == wtLen {
			r.attrs = append(r.attrs, fl.val)
		}
		return true
	})
}

// Attr implements match.ResourceView; as pdata's Get, the first of
// repeated keys counts.
func (r *wireResource) Attr(key string) (match.Value, bool) {
	keys := [1]string{key}
	for _, kv := range r.attrs {
		if i, v, ok := keyValueOf(kv, keys[:]); i == 0 {
			return v, ok
		}
	}
	return match.Value{}, false
}

// wireSpan is the spanView of an encoded Span.
type wireSpan struct {
	traceID    pcommon.TraceID
	rootSpan   bool
	name       string
	traceState string
	start, end uint64
	errStatus  bool
	attrs      [][]byte // encoded KeyValues, reused from span to span
	links      [][]byte // encoded Links, reused likewise
}

func (s *wireSpan) reset(span []byte) {
	*s = wireSpan{rootSpan: true, attrs: s.attrs[:0], links: s.links[:0]}
	rangeFields(span, func(fl field) bool {
		switch fl.num {
		case fSpanTraceID:
			s.traceID = pcommon.TraceID{}
			copy(s.traceID[:], fl.val)
		case fSpanParentID:
			s.rootSpan = len(fl.val) == 0 || [spanIDLen]byte(fl.val) == [spanIDLen]byte{}
		case fSpanName:
			s.name = str(fl.val)
		case fSpanTraceState:
			s.traceState = str(fl.val)
		case fSpanStart:
			s.start = fl.u
		case fSpanEnd:
			s.end = fl.u
		case fSpanAttributes:
			s.attrs = append(s.attrs, fl.val)
		case fSpanLinks:
			s.links = append(s.links, fl.val)
		case fSpanStatus:
			// Repeated, it merges: only a code present changes the code.
			rangeFields(fl.val, func(st field) bool {
				if st.num == fStatusCode && st.typ == wtVarint {
					s.errStatus = int32(st.u) == 2 //nolint:gosec // the enum is an int32 on the wire; 2 is STATUS_CODE_ERROR
				}
				return true
			})
		}
		return true
	})
}

var _ spanView = (*wireSpan)(nil)

func (s *wireSpan) Times() (uint64, uint64)  { return s.start, s.end }
func (s *wireSpan) IsError() bool            { return s.errStatus }
func (s *wireSpan) IsRoot() bool             { return s.rootSpan }
func (s *wireSpan) Name() string             { return s.name }
func (s *wireSpan) TraceID() pcommon.TraceID { return s.traceID }
func (s *wireSpan) RawTraceState() string    { return s.traceState }
func (s *wireSpan) HasLinks() bool           { return len(s.links) > 0 }

func (s *wireSpan) RangeAttrs(keys []string, f func(i int, v match.Value, ok bool)) {
	for _, kv := range s.attrs {
		if i, v, ok := keyValueOf(kv, keys); i >= 0 {
			f(i, v, ok)
		}
	}
}

func (s *wireSpan) RangeLinkTraceIDs(f func(pcommon.TraceID)) {
	for _, l := range s.links {
		var id pcommon.TraceID
		rangeFields(l, func(fl field) bool {
			if fl.num == fLinkTraceID && fl.typ == wtLen {
				id = pcommon.TraceID{}
				copy(id[:], fl.val)
			}
			return true
		})
		f(id)
	}
}
