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
	"fmt"
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
