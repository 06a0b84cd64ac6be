package engine

// Ingest and IngestOTLP: how a batch, decoded or as it came, is folded into
// the buffered traces. Both go through batch (begin, group, ingestSpan, end)
// and read spans through spanView.

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/sampling"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/chainotel/chainotel/processors/chainsamplingprocessor/internal/match"
	"github.com/chainotel/chainotel/semconv"
)

// Ingest buffers the spans of td. Spans of traces already decided follow the
// cached decision: the kept ones come back in the result, ready to send on,
// together with any traces decided early because a bound was reached.
// td is only read.
func (e *Engine) Ingest(td ptrace.Traces, now time.Time) (ptrace.Traces, error) {
	if td.SpanCount() == 0 {
		return ptrace.NewTraces(), nil
	}
	// Marshal outside the lock: it is the costliest step of ingest and
	// needs no shared state.
	data, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	if err != nil {
		return ptrace.NewTraces(), fmt.Errorf("encode spans for buffering: %w", err)
	}
	late := lateSpans{out: ptrace.NewTraces()}
	b, err := e.begin(data, false, td.SpanCount(), now)
	if err != nil {
		return ptrace.NewTraces(), err
	}
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		res := match.PResource{Resource: rs.Resource()}
		node := b.group(res)
		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			spans := sss.At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				span := spans.At(k)
				if d, isLate := ingestSpan(b, res, node, pdataSpan{match.PSpan{Span: span}}); isLate {
					late.add(rs, sss.At(j), span, d)
				}
			}
		}
	}
	kept := b.end()
	e.mu.Unlock()
	return e.finishIngest(b, kept, &late)
}

// IngestOTLP is Ingest of an encoded OTLP ExportTraceServiceRequest, as a
// receiver gets it off the wire: the request is checked as pdata's decoder
// would check it (ErrMalformed otherwise), read in place for what the policy
// needs, and held as it is; only the spans of kept traces are ever decoded.
// The engine keeps data: the caller must not change it afterwards.
func (e *Engine) IngestOTLP(data []byte, now time.Time) (ptrace.Traces, int, error) {
	var st requestStats
	if err := validate(data, msgRequest, &st); err != nil {
		return ptrace.NewTraces(), 0, err
	}
	if st.deprecated {
		// A pre-1.0 client's instrumentation_library_spans: pdata's
		// decoder moves them where they belong; take that path.
		td, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(data)
		if err != nil {
			return ptrace.NewTraces(), 0, fmt.Errorf("%w: %w", ErrMalformed, err)
		}
		out, err := e.Ingest(td, now)
		return out, td.SpanCount(), err
	}
	if st.spans == 0 {
		return ptrace.NewTraces(), 0, nil
	}
	late := lateSpans{out: ptrace.NewTraces()}
	b, err := e.begin(data, true, st.spans, now)
	if err != nil {
		return ptrace.NewTraces(), st.spans, err
	}
	res, span := &e.wire.res, &e.wire.span
	var lateIDs map[pcommon.TraceID]decision
	rangeFields(data, func(rsf field) bool {
		if rsf.num != fReqResourceSpans {
			return true
		}
		res.attrs, e.wire.scopes = res.attrs[:0], e.wire.scopes[:0]
		rangeFields(rsf.val, func(fl field) bool {
			switch fl.num {
			case fRSResource:
				res.add(fl.val)
			case fRSScopeSpans:
				e.wire.scopes = append(e.wire.scopes, fl.val)
			}
			return true
		})
		node := b.group(res)
		for _, ss := range e.wire.scopes {
			rangeFields(ss, func(sf field) bool {
				if sf.num != fSSSpans {
					return true
				}
				span.reset(sf.val)
				if d, isLate := ingestSpan(b, res, node, span); isLate {
					if lateIDs == nil {
						lateIDs = map[pcommon.TraceID]decision{}
					}
					lateIDs[span.traceID] = d
					late.count(d)
				}
				return true
			})
		}
		return true
	})
	kept := b.end()
	e.mu.Unlock()
	// The batch is buffered and kept traces are decided whatever the late
	// spans' decoding says: send those on, and report its error beside.
	lateErr := late.fromWire(data, lateIDs)
	out, err := e.finishIngest(b, kept, &late)
	return out, st.spans, errors.Join(err, lateErr)
}

// batch is one Ingest in progress; it lives under the engine's lock, from
// begin to end.
type batch struct {
	e         *Engine
	c         *chunk
	spans     int
	now       time.Time
	nowNs     int64
	newTraces int64
	last      *trace
	observe   bool
}

// begin takes the lock for a batch of spans encoded as data (off the wire,
// or by pdata's marshaler), unless the buffer is full and the engine refuses
// batches then (ErrFull, unlocked).
func (e *Engine) begin(data []byte, wire bool, spans int, now time.Time) (*batch, error) {
	c := &chunk{data: data, wire: wire}
	if e.cfg.Compression == CompressAlways || (e.cfg.Compression == CompressUnderPressure && e.pressure.Load()) {
		c.data, c.compressed = e.scratch.compress(data), true
	}
	e.mu.Lock()
	if reason := e.full(int64(len(c.data))); reason != "" && e.cfg.RefuseWhenFull {
		e.mu.Unlock()
		e.tel.ProcessorChainsamplingSpansRefused.Add(e.tel.ctx, int64(spans), e.tel.early[reason])
		return nil, fmt.Errorf("%w (%s)", ErrFull, reason)
	}
	return &batch{e: e, c: c, spans: spans, now: now, nowNs: now.UnixNano()}, nil
}

// group starts a resource's group of spans and returns its node when
// triggers need it.
func (b *batch) group(res match.ResourceView) string {
	e := b.e
	e.resGen++
	b.observe = e.trig.enabled()
	if b.observe || e.trig.needNodes {
		return nodeOf(res, e.intern)
	}
	return ""
}

// spanView is what the engine reads of a span, over pdata (pdataSpan) or
// over the wire bytes (wireSpan).
type spanView interface {
	match.SpanView
	TraceID() pcommon.TraceID
	// RawTraceState is the W3C tracestate; it may be valid only until the
	// view moves on.
	RawTraceState() string
	HasLinks() bool
	RangeLinkTraceIDs(f func(pcommon.TraceID))
}

// pdataSpan is the spanView of a pdata span.
type pdataSpan struct{ match.PSpan }

func (s pdataSpan) RawTraceState() string { return s.TraceState().AsRaw() }
func (s pdataSpan) HasLinks() bool        { return s.Links().Len() > 0 }
func (s pdataSpan) RangeLinkTraceIDs(f func(pcommon.TraceID)) {
	links := s.Links()
	for i := 0; i < links.Len(); i++ {
		f(links.At(i).TraceID())
	}
}

// ingestSpan folds one span of the batch in. A span of a trace already
// decided is late: it returns that decision and true, and the caller sends
// the span on or drops it.
func ingestSpan[S spanView, R match.ResourceView](b *batch, res R, node string, span S) (decision, bool) {
	e := b.e
	if b.observe {
		// Every span, late ones too: the chain's progress and its
		// events do not wait for a trace's decision.
		observe(e.trig, node, span, b.nowNs)
	}
	if e.commits != nil && isCommit(span) {
		observeCommit(e, span, b.nowNs)
	}
	id := span.TraceID()
	t := b.last
	if t == nil || t.id != id {
		t = e.traces[id]
	}
	if t == nil {
		if d, ok := e.cache.Get(id); ok {
			return d, true
		}
		t = &trace{id: id, first: b.nowNs}
		e.traces[id] = t
		e.byFirst.push(t, b.nowNs)
		b.newTraces++
		if e.commits != nil {
			e.adoptCommit(t, b.nowNs)
		}
	}
	b.last = t
	addSpan(e, t, b.c, res, node, span)
	if t.sum.RootEnded && !t.rooted && e.cfg.DecisionWaitAfterRoot > 0 {
		t.rooted = true
		e.byRoot.push(t, b.nowNs)
	}
	return decision{}, false
}

// end accounts for the batch and makes room; the lock stays held.
func (b *batch) end() []keptTrace {
	e := b.e
	if b.c.refs > 0 {
		e.bytes += int64(len(b.c.data))
	}
	e.budget.ingested(b.spans)
	// Make room only once the whole batch is in: a trace decided halfway
	// through it would see the rest of its spans in this batch twice, once
	// from the chunk and once as late spans.
	var kept []keptTrace
	for len(e.traces) > e.cfg.MaxTraces {
		kept = e.decideOldest(kept, b.now, reasonMaxTraces)
	}
	for e.bytes > e.cfg.MaxBytes && len(e.traces) > 0 {
		kept = e.decideOldest(kept, b.now, reasonMaxBytes)
	}
	e.notePressure()
	return kept
}

// finishIngest, outside the lock, counts the batch and decodes what it sends on.
func (e *Engine) finishIngest(b *batch, kept []keptTrace, late *lateSpans) (ptrace.Traces, error) {
	if b.newTraces > 0 {
		e.tel.ProcessorChainsamplingTracesReceived.Add(e.tel.ctx, b.newTraces)
	}
	late.record(&e.tel)
	out, err := e.decodeKept(kept)
	late.out.ResourceSpans().MoveAndAppendTo(out.ResourceSpans())
	return out, err
}

// full names the bound that taking a chunk of size bytes would pass, or is
// "" when there is room. An empty buffer always has room, so that a batch
// larger than MaxBytes on its own is decided early rather than refused
// forever. Called with the lock held.
func (e *Engine) full(size int64) string {
	switch {
	case len(e.traces) == 0:
		return ""
	case len(e.traces) >= e.cfg.MaxTraces:
		return reasonMaxTraces
	case e.bytes+size > e.cfg.MaxBytes:
		return reasonMaxBytes
	}
	return ""
}

// addSpan folds one span into its trace. The chunk is attached once per
// trace and batch, and counted in the buffer's bytes by the caller.
// node is the resource's service.instance.id when node-scoped triggers need it.
func addSpan[S spanView, R match.ResourceView](e *Engine, t *trace, c *chunk, res R, node string, span S) {
	if n := len(t.chunks); n == 0 || t.chunks[n-1] != c {
		t.chunks = append(t.chunks, c)
		c.refs++
	}
	if t.resGen != e.resGen {
		// Resource attributes are the same for the whole group; reading
		// them once per trace and group is enough. (A batch may hold the
		// groups of several nodes, so once per batch is not.)
		t.resGen = e.resGen
		match.AddResourceView(&t.sum, &e.pol.Keys, res, e.intern)
		if e.trig.needNodes && node != "" && len(t.nodes) < maxTraceNodes && !containsString(t.nodes, node) {
			t.nodes = append(t.nodes, e.intern.Intern(node))
		}
	}

	t.spans++
	e.spans++
	match.AddSpanView(&t.sum, &e.pol.Keys, span, e.intern, e.pol.HeightSlot, e.pol.HeadSlot, e.followHead)
	if !t.hasRV {
		if ts := span.RawTraceState(); ts != "" && strings.Contains(ts, "rv:") {
			if w3c, err := sampling.NewW3CTraceState(ts); err == nil {
				if rnd, ok := w3c.OTelValue().RValueRandomness(); ok {
					t.rnd, t.hasRV = rnd, true
				}
			}
		}
	}
}

// nodeOf is the node that emitted a group of spans: its service.instance.id
// when that is a string, in the interner's copy.
func nodeOf[R match.ResourceView](res R, in *interner) string {
	if v, ok := res.Attr(semconv.ServiceInstanceIDKey); ok && v.Kind == match.KindStr {
		return in.Intern(v.Str)
	}
	return ""
}
