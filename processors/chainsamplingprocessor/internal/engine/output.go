package engine

import (
	"errors"
	"fmt"
	"strings"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/sampling"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/chainotel/chainotel/semconv"
)

// keptTrace is a trace decided as kept, with the chunks that hold its spans.
type keptTrace struct {
	id     pcommon.TraceID
	chunks []*chunk
	rule   string
	th     sampling.Threshold
}

// decodeKept takes the spans of the kept traces out of the chunks that hold
// them, decodes only those, and stamps them.
func (e *Engine) decodeKept(kept []keptTrace) (ptrace.Traces, error) {
	if len(kept) == 0 {
		return ptrace.NewTraces(), nil
	}
	// A chunk is shared by every trace of its batch: from each, take only
	// the spans of the traces kept now that hold it (not, say, late spans
	// of a trace already sent).
	byID := make(map[pcommon.TraceID]*keptTrace, len(kept))
	ids := map[*chunk][]pcommon.TraceID{}
	var order []*chunk
	for i := range kept {
		k := &kept[i]
		byID[k.id] = k
		for _, c := range k.chunks {
			if _, seen := ids[c]; !seen {
				order = append(order, c)
			}
			ids[c] = append(ids[c], k.id)
		}
	}
	// Encoded requests concatenate into one request holding all their
	// resource spans, so the kept spans of every chunk decode in one go.
	var buf []byte
	var errs []error
	for _, c := range order {
		err := e.withChunk(c, func(raw []byte) error {
			var err error
			buf, err = extract(buf, raw, ids[c], !c.wire)
			return err
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("select kept spans: %w", err))
		}
	}
	td, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(buf)
	if err != nil {
		return ptrace.NewTraces(), errors.Join(append(errs, fmt.Errorf("decode kept spans: %w", err))...)
	}
	var st stamper
	forEachSpan(td, func(_ ptrace.ResourceSpans, _ ptrace.ScopeSpans, span ptrace.Span) {
		k := byID[span.TraceID()]
		st.stamp(span, k.rule, k.th)
	})
	return td, errors.Join(errs...)
}

// stamper marks kept spans with their rule and adjusted count. It remembers
// each tracestate it rewrote: the spans of a trace, and most traces, carry
// the same one, so it is parsed and written once rather than once a span.
type stamper struct {
	memo map[stampKey]string
}

type stampKey struct {
	raw string
	th  sampling.Threshold
}

// stamp marks a kept span with its rule and its adjusted count. An upstream
// threshold that is already higher (a lower probability) is left in place:
// sampling may only lower a probability, never raise it.
func (st *stamper) stamp(span ptrace.Span, rule string, th sampling.Threshold) {
	span.Attributes().PutStr(semconv.SamplingRuleKey, rule)
	key := stampKey{raw: span.TraceState().AsRaw(), th: th}
	out, ok := st.memo[key]
	if !ok {
		out = withThreshold(key.raw, th)
		if st.memo == nil {
			st.memo = map[stampKey]string{}
		}
		st.memo[key] = out
	}
	if out != key.raw {
		span.TraceState().FromRaw(out)
	}
}

// withThreshold returns tracestate raw with th written into its ot value,
// or raw unchanged if it does not parse or already holds a higher threshold.
func withThreshold(raw string, th sampling.Threshold) string {
	w3c, err := sampling.NewW3CTraceState(raw)
	if err != nil {
		// An unparseable tracestate is left as it came; the rule
		// attribute still says why the span was kept.
		return raw
	}
	ot := w3c.OTelValue()
	if upstream, ok := ot.TValueThreshold(); ok && sampling.ThresholdGreater(upstream, th) {
		return raw
	}
	if err := ot.UpdateTValueWithSampling(th); err != nil {
		return raw
	}
	var sb strings.Builder
	if err := w3c.Serialize(&sb); err != nil {
		return raw
	}
	return sb.String()
}

// lateSpans collects spans of already-decided traces.
type lateSpans struct {
	out           ptrace.Traces
	stamper       stamper
	kept, dropped int64
}

func (l *lateSpans) add(rs ptrace.ResourceSpans, ss ptrace.ScopeSpans, span ptrace.Span, d decision) {
	if !d.kept {
		l.dropped++
		return
	}
	l.kept++
	// One resource and scope per late span keeps this simple; late spans
	// are rare and the batch processor downstream regroups them.
	nrs := l.out.ResourceSpans().AppendEmpty()
	rs.Resource().CopyTo(nrs.Resource())
	nrs.SetSchemaUrl(rs.SchemaUrl())
	nss := nrs.ScopeSpans().AppendEmpty()
	ss.Scope().CopyTo(nss.Scope())
	nss.SetSchemaUrl(ss.SchemaUrl())
	ns := nss.Spans().AppendEmpty()
	span.CopyTo(ns)
	l.stamper.stamp(ns, d.rule, d.th)
}

// count counts a late span of IngestOTLP, which sends the kept ones on
// with fromWire.
func (l *lateSpans) count(d decision) {
	if d.kept {
		l.kept++
	} else {
		l.dropped++
	}
}

// fromWire takes out of data the late spans of the kept traces among
// decided, decodes only those and stamps them with their decisions.
func (l *lateSpans) fromWire(data []byte, decided map[pcommon.TraceID]decision) error {
	var ids []pcommon.TraceID
	for id, d := range decided {
		if d.kept {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	buf, err := extract(nil, data, ids, false)
	if err != nil {
		return fmt.Errorf("select late spans: %w", err)
	}
	td, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(buf)
	if err != nil {
		return fmt.Errorf("decode late spans: %w", err)
	}
	forEachSpan(td, func(_ ptrace.ResourceSpans, _ ptrace.ScopeSpans, span ptrace.Span) {
		d := decided[span.TraceID()]
		l.stamper.stamp(span, d.rule, d.th)
	})
	td.ResourceSpans().MoveAndAppendTo(l.out.ResourceSpans())
	return nil
}

func (l *lateSpans) record(tel *telemetry) {
	if l.kept > 0 {
		tel.ProcessorChainsamplingLateSpans.Add(tel.ctx, l.kept, tel.lateKept)
	}
	if l.dropped > 0 {
		tel.ProcessorChainsamplingLateSpans.Add(tel.ctx, l.dropped, tel.lateDropped)
	}
}
