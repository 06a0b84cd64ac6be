package engine

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/chainotel/chainotel/processors/chainsamplingprocessor/internal/gen"
	"github.com/chainotel/chainotel/processors/chainsamplingprocessor/internal/metadata"
	"github.com/chainotel/chainotel/processors/chainsamplingprocessor/internal/policy"
	"github.com/chainotel/chainotel/semconv"
)

var t0 = time.Unix(1_700_000_000, 0)

func newEngine(t *testing.T, cfg Config, pol string) *Engine {
	t.Helper()
	p, err := policy.Parse("test.yaml", []byte(pol))
	require.NoError(t, err)
	tel, err := metadata.NewTelemetryBuilder(componenttest.NewNopTelemetrySettings())
	require.NoError(t, err)
	if cfg.DecisionWait == 0 {
		cfg.DecisionWait = time.Hour
	}
	if cfg.MaxTraces == 0 {
		cfg.MaxTraces = 1 << 20
	}
	if cfg.MaxBytes == 0 {
		cfg.MaxBytes = 1 << 30
	}
	if cfg.DecisionCacheSize == 0 {
		cfg.DecisionCacheSize = 1 << 16
	}
	e, err := New(cfg, p, tel)
	require.NoError(t, err)
	return e
}

func traceIDs(td ptrace.Traces) map[pcommon.TraceID]int {
	out := map[pcommon.TraceID]int{}
	forEachSpan(td, func(_ ptrace.ResourceSpans, _ ptrace.ScopeSpans, s ptrace.Span) { out[s.TraceID()]++ })
	return out
}

func TestMemoryBoundUnderFlood(t *testing.T) {
	for _, compression := range []Compression{CompressNever, CompressAlways, CompressUnderPressure} {
		t.Run(fmt.Sprintf("compression=%d", compression), func(t *testing.T) {
			const maxTraces, maxBytes = 200, 128 << 10
			e := newEngine(t, Config{MaxTraces: maxTraces, MaxBytes: maxBytes, Compression: compression}, "rules: [{name: all, keep: 1}]")
			g := gen.New(gen.Default(3))
			sent, out := 0, 0
			for range 120 {
				td := g.Batch(25)
				sent += td.SpanCount()
				res, err := e.Ingest(td, t0)
				require.NoError(t, err)
				out += res.SpanCount()
				st := e.Stats()
				require.LessOrEqual(t, st.Traces, int64(maxTraces))
				require.LessOrEqual(t, st.Bytes, int64(maxBytes))
			}
			res, err := e.Flush(t0)
			require.NoError(t, err)
			out += res.SpanCount()
			require.Equal(t, sent, out, "under the flood, traces were decided early, never dropped")
			require.Zero(t, e.Stats().Spans)
			require.Zero(t, e.Stats().Bytes)
		})
	}
}

func TestResummariseFromCompressedChunks(t *testing.T) {
	e := newEngine(t, Config{Compression: CompressAlways}, "rules: [{name: none, keep: 0}]")
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr(semconv.ServiceInstanceIDKey, "node2")
	s := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	s.SetTraceID(pcommon.TraceID{7})
	s.Attributes().PutInt(semconv.BlockHeightKey, 90)
	_, err := e.Ingest(td, t0)
	require.NoError(t, err)
	require.Zero(t, e.Stats().Head, "the first policy reads no heights")

	p, err := policy.Parse("new.yaml", []byte(`
rules:
  - name: node2-near-head
    match:
      resource: {key: service.instance.id, equals: node2}
      block_height: {within_head: 5}
    keep: 1
  - name: default
    keep: 0
`))
	require.NoError(t, err)
	require.NoError(t, e.SetPolicy(p))
	require.Equal(t, int64(90), e.Stats().Head, "re-summarising followed the head too")
	res, err := e.Flush(t0)
	require.NoError(t, err)
	require.Equal(t, 1, res.SpanCount())
}

func TestCompressesUnderPressureOnly(t *testing.T) {
	e := newEngine(t, Config{MaxBytes: 64 << 10, Compression: CompressUnderPressure}, "rules: [{name: all, keep: 1}]")
	g := gen.New(gen.Default(8))
	held := func() (plain, compressed int) {
		e.mu.Lock()
		defer e.mu.Unlock()
		for _, t := range e.traces {
			for _, c := range t.chunks {
				if c.compressed {
					compressed++
				} else {
					plain++
				}
			}
		}
		return plain, compressed
	}
	for i := 0; !e.pressure.Load(); i++ {
		require.Less(t, i, 100, "half of max_bytes is never reached")
		_, err := e.Ingest(g.Batch(5), t0)
		require.NoError(t, err)
	}
	plain, compressed := held()
	require.Positive(t, plain)
	require.Zero(t, compressed, "chunks stay plain while under half of max_bytes is held")

	_, err := e.Ingest(g.Batch(5), t0)
	require.NoError(t, err)
	_, compressed = held()
	require.Positive(t, compressed, "and are compressed beyond it")
	res, err := e.Flush(t0)
	require.NoError(t, err)
	require.Positive(t, res.SpanCount())
}

func TestOldestDecidedFirst(t *testing.T) {
	e := newEngine(t, Config{MaxTraces: 2}, "rules: [{name: all, keep: 1}]")
	g := gen.New(gen.Default(4))
	var first []pcommon.TraceID
	for range 3 {
		td := g.Batch(1)
		for id := range traceIDs(td) {
			first = append(first, id)
		}
		res, err := e.Ingest(td, t0)
		require.NoError(t, err)
		if len(first) == 3 {
			require.Equal(t, map[pcommon.TraceID]int{first[0]: traceIDs(res)[first[0]]}, traceIDs(res),
				"the third trace pushes out the first, and only it")
		} else {
			require.Zero(t, res.SpanCount())
		}
	}
}

func TestTickHonoursBothWaits(t *testing.T) {
	e := newEngine(t, Config{DecisionWait: 10 * time.Second, DecisionWaitAfterRoot: time.Second},
		"rules: [{name: all, keep: 1}]")
	td := ptrace.NewTraces()
	ss := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty()
	child := ss.Spans().AppendEmpty()
	child.SetTraceID(pcommon.TraceID{1})
	child.SetParentSpanID(pcommon.SpanID{1})
	root := ss.Spans().AppendEmpty()
	root.SetTraceID(pcommon.TraceID{2})
	_, err := e.Ingest(td, t0)
	require.NoError(t, err)

	res, err := e.Tick(t0.Add(999 * time.Millisecond))
	require.NoError(t, err)
	require.Zero(t, res.SpanCount())
	res, err = e.Tick(t0.Add(time.Second))
	require.NoError(t, err)
	require.Equal(t, map[pcommon.TraceID]int{{2}: 1}, traceIDs(res), "the rooted trace goes after decision_wait_after_root")
	res, err = e.Tick(t0.Add(10 * time.Second))
	require.NoError(t, err)
	require.Equal(t, map[pcommon.TraceID]int{{1}: 1}, traceIDs(res), "the other after decision_wait")
}

func TestRateLimit(t *testing.T) {
	e := newEngine(t, Config{}, `
rules:
  - name: capped
    match: {tx_type: transfer}
    keep: 1
    rate_limit: 5
  - name: default
    keep: 0
`)
	td := ptrace.NewTraces()
	ss := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty()
	for i := range 50 {
		s := ss.Spans().AppendEmpty()
		s.SetTraceID(pcommon.TraceID{byte(i + 1)})
		s.Attributes().PutStr(semconv.TxTypeKey, semconv.TxTypeTransfer)
	}
	_, err := e.Ingest(td, t0)
	require.NoError(t, err)
	res, err := e.Flush(t0)
	require.NoError(t, err)
	require.Equal(t, 5, res.SpanCount(), "a burst keeps rate_limit traces")
}

// feed ingests one second of traffic, n single-span traces, and decides it.
func feed(t *testing.T, e *Engine, g *gen.Generator, at time.Time, n int) (kept int) {
	t.Helper()
	td := ptrace.NewTraces()
	ss := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty()
	for range n {
		s := ss.Spans().AppendEmpty()
		s.SetTraceID(g.TraceID())
	}
	_, err := e.Ingest(td, at)
	require.NoError(t, err)
	res, err := e.Tick(at.Add(2 * time.Second))
	require.NoError(t, err)
	return res.SpanCount()
}

func TestBudgetScalesDownAndBackUp(t *testing.T) {
	e := newEngine(t, Config{DecisionWait: time.Second, MaxSpansPerSecond: 100}, "rules: [{name: all, keep: 0.5}]")
	g := gen.New(gen.Default(5))
	at := t0
	step := func(n int) int {
		at = at.Add(2 * time.Second)
		return feed(t, e, g, at, n)
	}
	step(10) // opens the first budget window
	require.Equal(t, 1.0, e.Stats().Scale)

	// 10000 traces a second at 50% would keep 5000 spans a second: twenty
	// times the budget of 100. Over two-second windows the scale settles
	// at 200/5000.
	step(10_000)
	step(10_000)
	require.InDelta(t, 200.0/5000, e.Stats().Scale, 1e-9)
	kept := step(10_000)
	require.InDelta(t, 200, kept, 60, "kept spans fall to the budget")

	// Load falls below the budget: the scale goes back to 1.
	step(20)
	step(20)
	require.Equal(t, 1.0, e.Stats().Scale)
}

func TestAlwaysRulesAreNotShed(t *testing.T) {
	e := newEngine(t, Config{DecisionWait: time.Second, MaxSpansPerSecond: 10}, `
rules:
  - name: all
    keep: 1
    always: true
`)
	g := gen.New(gen.Default(6))
	at := t0
	for range 4 {
		at = at.Add(2 * time.Second)
		require.Equal(t, 1000, feed(t, e, g, at, 1000))
	}
}

// A batch with more new traces than max_traces: each span comes out once,
// whether its trace was decided early or at the flush.
func TestBatchLargerThanMaxTraces(t *testing.T) {
	e := newEngine(t, Config{MaxTraces: 3}, "rules: [{name: all, keep: 1}]")
	td := gen.New(gen.Default(9)).Batch(10)
	res, err := e.Ingest(td, t0)
	require.NoError(t, err)
	require.LessOrEqual(t, e.Stats().Traces, int64(3))
	rest, err := e.Flush(t0)
	require.NoError(t, err)
	require.Equal(t, td.SpanCount(), res.SpanCount()+rest.SpanCount())
	require.Zero(t, e.Stats().Bytes)
}
