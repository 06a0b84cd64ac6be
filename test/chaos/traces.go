package chaos

import (
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/chainotel/chainotel/internal/otlpsink"
	"github.com/chainotel/chainotel/semconv"
)

// traceWait bounds the wait for the kept traces of the last transfers: the
// node's export batch, the collector's decision wait and batch.
const traceWait = 30 * time.Second

// TraceCheck is the judgement of one transfer's kept trace.
type TraceCheck struct {
	Kept    bool   // the collector exported spans of the trace
	Whole   bool   // it holds spans of every node it crossed
	Missing string // which node's spans are missing, when not whole
}

// checkTrace judges the kept trace of transfer a: every node the trace
// called into (a client span naming a p2p.peer_id) must have contributed
// spans of its own, and the acknowledging node must be in it.
func checkTrace(sink *otlpsink.Sink, a Ack) (TraceCheck, error) {
	raw, err := hex.DecodeString(a.TraceID)
	if err != nil || len(raw) != 16 {
		return TraceCheck{}, fmt.Errorf("trace id %q: not 32 hex digits", a.TraceID)
	}
	spans := sink.Trace(pcommon.TraceID(raw))
	if len(spans) == 0 {
		return TraceCheck{}, nil
	}
	nodes := map[string]bool{}
	for _, s := range spans {
		if id, ok := s.ResourceAttr(semconv.ServiceInstanceIDKey); ok {
			nodes[id] = true
		}
	}
	want := []string{a.Node}
	for _, s := range spans {
		if s.Kind() != ptrace.SpanKindClient {
			continue
		}
		if peer, ok := s.Attr(semconv.PeerIDKey); ok {
			want = append(want, peer)
		}
	}
	for _, id := range want {
		if !nodes[id] {
			return TraceCheck{Kept: true, Missing: id}, nil
		}
	}
	return TraceCheck{Kept: true, Whole: true}, nil
}

// judgeTraces fills each row's Traces column: whole traces out of the kept
// ones, among the transfers acknowledged in the row's window. Rows whose
// fault stopped the collector are not judged (spans made while it was down
// may be lost by design); neither is anything when no node exported a span.
// A trace missing only the spans of a node that died in the row is counted
// apart: a SIGKILL takes the node's unexported spans with it.
func (s *Suite) judgeTraces(acks []Ack) ([]string, error) {
	sink := s.Env.Sink
	if sink == nil {
		for _, r := range s.Rows {
			r.Traces = "not run"
		}
		return nil, nil
	}
	if len(sink.Spans()) == 0 {
		for _, r := range s.Rows {
			r.Traces = "no spans"
		}
		return nil, nil
	}
	var split []string
	for _, r := range s.Rows {
		if r.CollectorDown {
			r.Traces = "n/a (collector down)"
			continue
		}
		kept, whole, died := 0, 0, 0
		for _, a := range acks {
			if a.Return < r.Inject || a.Return > r.Settled {
				continue
			}
			tc, err := checkTrace(sink, a)
			if err != nil {
				return nil, err
			}
			if tc.Kept {
				kept++
			}
			switch {
			case tc.Whole:
				whole++
			case !tc.Kept:
			case contains(r.Died, tc.Missing):
				// A killed or crashed node loses the spans it had not
				// exported yet: that trace was cut by the fault, not split
				// by the pipeline.
				died++
				kept--
			default:
				if len(split) < 5 {
					split = append(split, fmt.Sprintf("%s (tx %s via %s): no spans of %s", a.TraceID, a.Hash, a.Node, tc.Missing))
				}
			}
		}
		r.Traces = fmt.Sprintf("%d/%d whole", whole, kept)
		if died > 0 {
			r.Traces += fmt.Sprintf(" (+%d lost with %s)", died, strings.Join(r.Died, ","))
		}
	}
	return split, nil
}
