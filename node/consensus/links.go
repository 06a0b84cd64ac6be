package consensus

import (
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/trace"

	"github.com/chainotel/chainotel/node/chain"
)

// TxLinks returns span links to the traces that submitted txs (each tx's
// traceparent rides in the block), at most max of them: a block's
// consensus.propose and block.apply spans link to their transactions this way.
func TxLinks(txs []chain.Tx, max int) []trace.Link {
	var links []trace.Link
	for i := range txs {
		if len(links) == max {
			break
		}
		if sc, ok := ParseTraceParent(txs[i].TraceParent); ok {
			links = append(links, trace.Link{SpanContext: sc})
		}
	}
	return links
}

// knownFlags are the trace flags the W3C propagator carries (sampled and
// random); it drops the other bits, and so do we.
const knownFlags = trace.FlagsSampled | trace.FlagsRandom

// ParseTraceParent reads a W3C traceparent ("00-<trace id>-<span id>-<flags>")
// as the node writes it into a transaction, marked remote as
// propagation.TraceContext marks what it extracts. It is that propagator's
// parsing without its carrier and context, which cost a map and a context per
// transaction of every block on every node. ok is false for anything that is
// not a valid version-00 traceparent (an empty string included).
func ParseTraceParent(s string) (sc trace.SpanContext, ok bool) {
	parts := strings.Split(s, "-")
	if len(parts) != 4 || parts[0] != "00" || len(parts[3]) != 2 {
		return trace.SpanContext{}, false
	}
	tid, err := trace.TraceIDFromHex(parts[1])
	if err != nil {
		return trace.SpanContext{}, false
	}
	sid, err := trace.SpanIDFromHex(parts[2])
	if err != nil {
		return trace.SpanContext{}, false
	}
	flags, err := strconv.ParseUint(parts[3], 16, 8)
	if err != nil {
		return trace.SpanContext{}, false
	}
	sc = trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid,
		TraceFlags: trace.TraceFlags(flags) & knownFlags, Remote: true})
	return sc, sc.IsValid()
}

// FormatTraceParent writes sc as a W3C traceparent, what
// propagation.TraceContext would inject, or "" when sc is not valid.
func FormatTraceParent(sc trace.SpanContext) string {
	if !sc.IsValid() {
		return ""
	}
	return "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-" + (sc.TraceFlags() & knownFlags).String()
}
