// Package engine buffers spans by trace, keeps a small summary per trace and
// decides each trace with the first matching rule of the policy in force.
//
// Spans are held as the marshalled OTLP batches they arrived in (chunks),
// shared by every trace with spans in the batch and released when the last
// of them is decided. Only the chunks of kept traces are ever decoded.
// Ingest takes pdata and encodes it into a chunk; IngestOTLP takes the
// encoded request as a receiver got it, reads it in place (wire.go) and
// holds it as it is. Both read spans through one view (spanView), so the
// summaries, triggers and commits are the same code either way.
package engine

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/sampling"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/chainotel/chainotel/processors/chainsamplingprocessor/internal/match"
	"github.com/chainotel/chainotel/processors/chainsamplingprocessor/internal/metadata"
	"github.com/chainotel/chainotel/processors/chainsamplingprocessor/internal/policy"
	"github.com/chainotel/chainotel/semconv"
)

// Config bounds the engine; the processor fills it from its own config.
type Config struct {
	DecisionWait          time.Duration
	DecisionWaitAfterRoot time.Duration // 0: only DecisionWait applies
	MaxTraces             int
	MaxBytes              int64
	DecisionCacheSize     int
	MaxSpansPerSecond     int // 0: no budget
	// Compression says when chunks are held s2-compressed: about a third
	// of the memory per buffered span for about a quarter more CPU.
	Compression Compression
	// RefuseWhenFull makes Ingest refuse a batch with ErrFull while
	// MaxTraces is reached or while taking it would pass MaxBytes, instead
	// of deciding the oldest traces early to make room for it.
	RefuseWhenFull bool
	// Logger receives the opening and closing of trigger windows; nil
	// logs nothing.
	Logger *zap.Logger

	// CommitGrace decides a trace this long after the first block.apply
	// span linking to it (its transaction committed) arrived, when that is
	// earlier than the waits above; 0 turns commit decisions off.
	CommitGrace time.Duration

	// PreviewTraces is how many decided traces are remembered for the
	// policy preview (recent.go); 0 remembers none.
	PreviewTraces int
}

// Compression is when the engine compresses the chunks it holds.
type Compression int

const (
	// CompressNever holds chunks as they were encoded.
	CompressNever Compression = iota
	// CompressAlways compresses every chunk.
	CompressAlways
	// CompressUnderPressure compresses chunks while more than half of
	// MaxBytes is in use: full speed while memory is plentiful, and about
	// three times the traces before MaxBytes forces early decisions.
	CompressUnderPressure
)

// chunk is one incoming batch, marshalled, shared by the traces in it.
type chunk struct {
	data       []byte
	refs       int  // undecided traces that hold it
	compressed bool // data is s2-compressed
	wire       bool // data came off the wire (IngestOTLP), not from pdata's marshaler
}

// trace is the engine's state for one buffered trace.
type trace struct {
	id      pcommon.TraceID
	sum     match.Summary
	chunks  []*chunk
	spans   int
	first   int64    // arrival of the first span, Unix nanoseconds
	nodes   []string // service.instance.id of its spans, for node-scoped triggers
	resGen  uint64   // the resource group its resource was last read from
	rnd     sampling.Randomness
	hasRV   bool // rnd came from an rv in tracestate
	rooted  bool // queued in byRoot
	decided bool

	committed bool // queued in byCommit
}

// decision is what the cache remembers about a decided trace.
type decision struct {
	rule string
	th   sampling.Threshold
	kept bool
}

// ruleState is a compiled rule with the engine's per-rule state.
type ruleState struct {
	policy.Rule
	threshold           sampling.Threshold // of Keep, when no load is shed
	limiter             *rate.Limiter
	keptSet, droppedSet decidedAttrs
}

// Engine is safe for concurrent use: Ingest, Tick, Flush and SetPolicy take
// one lock; decoding of kept traces happens outside it.
type Engine struct {
	cfg Config
	tel telemetry

	// pressure is true while more than half of MaxBytes is held; it is
	// read without the lock, to choose whether to compress before taking it.
	pressure atomic.Bool

	mu      sync.Mutex
	pol     *policy.Policy
	rules   []ruleState
	traces  map[pcommon.TraceID]*trace
	byFirst queue
	byRoot  queue
	cache   *simplelru.LRU[pcommon.TraceID, decision]
	intern  *interner
	scratch scratch
	budget  *budget
	trig    *triggers
	resGen  uint64 // counts resource groups ingested
	head    int64
	spans   int64
	bytes   int64

	// byCommit holds the traces whose commit was seen, by when it was
	// seen; commits is nil when commit decisions are off.
	byCommit queue
	commits  *commits

	recent *recentRing // nil when PreviewTraces is 0

	// wire is IngestOTLP's scratch, reused under the lock.
	wire struct {
		res    wireResource
		span   wireSpan
		scopes [][]byte // a ResourceSpans' encoded ScopeSpans
	}
}

// New returns an engine deciding with pol.
func New(cfg Config, pol *policy.Policy, tel *metadata.TelemetryBuilder) (*Engine, error) {
	cache, err := simplelru.NewLRU[pcommon.TraceID, decision](cfg.DecisionCacheSize, nil)
	if err != nil {
		return nil, fmt.Errorf("decision cache: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = zap.NewNop()
	}
	e := &Engine{
		trig:   newTriggers(log),
		cfg:    cfg,
		tel:    newTelemetry(tel),
		traces: make(map[pcommon.TraceID]*trace),
		cache:  cache,
		intern: newInterner(),
		budget: newBudget(cfg.MaxSpansPerSecond),
		recent: newRecentRing(cfg.PreviewTraces),
	}
	if cfg.CommitGrace > 0 {
		e.commits = newCommits()
	}
	e.install(pol)
	return e, nil
}

// Policy returns the policy in force.
func (e *Engine) Policy() *policy.Policy {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.pol
}

// SetPolicy puts pol in force for every trace not yet decided. Buffered
// traces are kept; if pol needs facts their summaries lack, they are
// summarised again from the held spans.
func (e *Engine) SetPolicy(pol *policy.Policy) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.pol.Keys.Equal(pol.Keys) {
		sums, head, err := e.resummarise(pol)
		if err != nil {
			return err // the policy in force stays, summaries untouched
		}
		// Every buffered trace gets a summary in the new layout (an empty
		// one if, impossibly, none of its spans were found): a summary in
		// the old layout would be read with the wrong slots.
		for _, t := range e.traces {
			t.sum = sums[t]
		}
		e.head = max(e.head, head)
	}
	e.install(pol)
	return nil
}

func (e *Engine) install(pol *policy.Policy) {
	e.pol = pol
	e.trig.install(pol.Triggers)
	e.rules = make([]ruleState, len(pol.Rules))
	for i, r := range pol.Rules {
		e.rules[i] = ruleState{Rule: r, threshold: policy.Threshold(r.Keep),
			keptSet: newDecidedAttrs(r.Name, true), droppedSet: newDecidedAttrs(r.Name, false)}
		if r.RateLimit > 0 {
			e.rules[i].limiter = rate.NewLimiter(rate.Limit(r.RateLimit), max(1, int(r.RateLimit)))
		}
	}
}

// Stats is a snapshot of what the engine holds.
type Stats struct {
	Traces, Spans, Bytes int64
	Head                 int64
	Scale                float64
}

// Stats returns what the engine holds now.
func (e *Engine) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	return Stats{Traces: int64(len(e.traces)), Spans: e.spans, Bytes: e.bytes, Head: e.head, Scale: e.budget.scale}
}

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

func (e *Engine) followHead(h float64) {
	if int64(h) > e.head {
		e.head = int64(h)
	}
}

// resummarise builds, from the held spans, the summaries of every buffered
// trace in the layout of pol, and the chain head they show. It changes
// nothing, so that a failure leaves the engine as it was.
func (e *Engine) resummarise(pol *policy.Policy) (map[*trace]match.Summary, int64, error) {
	byChunk := map[*chunk][]*trace{}
	for _, t := range e.traces {
		for _, c := range t.chunks {
			byChunk[c] = append(byChunk[c], t)
		}
	}
	sums := make(map[*trace]*match.Summary, len(e.traces))
	var head int64
	follow := func(h float64) { head = max(head, int64(h)) }
	var u ptrace.ProtoUnmarshaler
	for c, ts := range byChunk {
		var td ptrace.Traces
		err := e.withChunk(c, func(data []byte) error {
			var err error
			td, err = u.UnmarshalTraces(data)
			return err
		})
		if err != nil {
			return nil, 0, fmt.Errorf("re-summarise buffered spans: %w", err)
		}
		want := make(map[pcommon.TraceID]*trace, len(ts))
		for _, t := range ts {
			want[t.id] = t
		}
		forEachSpan(td, func(rs ptrace.ResourceSpans, _ ptrace.ScopeSpans, span ptrace.Span) {
			t, ok := want[span.TraceID()]
			if !ok {
				return
			}
			s := sums[t]
			if s == nil {
				s = &match.Summary{}
				sums[t] = s
			}
			s.AddResource(&pol.Keys, rs.Resource(), e.intern)
			s.AddSpan(&pol.Keys, span, e.intern, pol.HeightSlot, pol.HeadSlot, follow)
		})
	}
	out := make(map[*trace]match.Summary, len(sums))
	for t, s := range sums {
		out[t] = *s
	}
	return out, head, nil
}

// notePressure records whether more than half of MaxBytes is held. Called
// with the lock held whenever the buffered bytes change.
func (e *Engine) notePressure() {
	e.pressure.Store(e.bytes > e.cfg.MaxBytes/2)
}

// withChunk hands the encoded OTLP of a chunk, decompressed if need be, to
// use, which must not keep it.
func (e *Engine) withChunk(c *chunk, use func([]byte) error) error {
	if !c.compressed {
		return use(c.data)
	}
	return e.scratch.decompress(c.data, use)
}

func forEachSpan(td ptrace.Traces, f func(ptrace.ResourceSpans, ptrace.ScopeSpans, ptrace.Span)) {
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			ss := sss.At(j)
			spans := ss.Spans()
			for k := 0; k < spans.Len(); k++ {
				f(rs, ss, spans.At(k))
			}
		}
	}
}
