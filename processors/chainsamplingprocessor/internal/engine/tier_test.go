package engine

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/chainotel/chainotel/processors/chainsamplingprocessor/internal/gen"
	"github.com/chainotel/chainotel/semconv"
)

// TestWithinHeadAcrossCollectors measures how often two collectors that
// each receive the spans of some of the nodes (node0's, and node1's and
// node2's) decide a within_head rule differently for the same trace: each
// follows the head from the heights it saw.
func TestWithinHeadAcrossCollectors(t *testing.T) {
	const pol = `
rules:
  - name: near-head
    match: {block_height: {within_head: 20}}
    keep: 1
  - name: default
    keep: 0
`
	a := newEngine(t, Config{DecisionWait: 2 * time.Second}, pol)
	b := newEngine(t, Config{DecisionWait: 2 * time.Second}, pol)
	g := gen.New(gen.Default(11))
	keptA, keptB := map[pcommon.TraceID]bool{}, map[pcommon.TraceID]bool{}
	seenA, seenB := map[pcommon.TraceID]bool{}, map[pcommon.TraceID]bool{}
	at := t0
	for range 40 {
		td := g.Batch(50)
		toA, toB := ptrace.NewTraces(), ptrace.NewTraces()
		rss := td.ResourceSpans()
		for i := 0; i < rss.Len(); i++ {
			rs := rss.At(i)
			node, _ := rs.Resource().Attributes().Get(semconv.ServiceInstanceIDKey)
			dst, seen := toB, seenB
			if node.Str() == "node0" {
				dst, seen = toA, seenA
			}
			forEachSpan(td, func(r ptrace.ResourceSpans, _ ptrace.ScopeSpans, s ptrace.Span) {
				if r == rs {
					seen[s.TraceID()] = true
				}
			})
			rs.CopyTo(dst.ResourceSpans().AppendEmpty())
		}
		// node0's spans reach collector A a little later than the others
		// reach B, as exports do.
		_, err := b.Ingest(toB, at)
		require.NoError(t, err)
		_, err = a.Ingest(toA, at.Add(300*time.Millisecond))
		require.NoError(t, err)
		at = at.Add(500 * time.Millisecond)
		for e, kept := range map[*Engine]map[pcommon.TraceID]bool{a: keptA, b: keptB} {
			out, err := e.Tick(at)
			require.NoError(t, err)
			for id := range traceIDs(out) {
				kept[id] = true
			}
		}
	}
	for e, kept := range map[*Engine]map[pcommon.TraceID]bool{a: keptA, b: keptB} {
		out, err := e.Flush(at.Add(time.Hour))
		require.NoError(t, err)
		for id := range traceIDs(out) {
			kept[id] = true
		}
	}
	both, differ := 0, 0
	for id := range seenA {
		if !seenB[id] {
			continue
		}
		both++
		if keptA[id] != keptB[id] {
			differ++
		}
	}
	share := float64(differ) / float64(both)
	t.Logf("traces split across the two collectors: %d; decided differently: %d (%.2f%%); heads %d and %d",
		both, differ, 100*share, a.Stats().Head, b.Stats().Head)
	require.Greater(t, both, 1000)
	// Only traces whose heights sit within the heads' lag of the rule's
	// boundary can differ: a few per thousand here (the README says so).
	require.Less(t, share, 0.01)
}

// TestWithinHeadReportedHeadDecidesAlike: when the nodes report their head
// on their spans (chain.head.height), a within_head rule reads the trace's
// own head, so two collectors that each receive whole traces decide every
// trace alike, whatever else they saw and whenever the spans came: here B
// has seen a block far above the others (its observed head would drop
// every trace) and receives each batch's node groups in the reverse order,
// later.
func TestWithinHeadReportedHeadDecidesAlike(t *testing.T) {
	const pol = `
rules:
  - name: near-head
    match: {block_height: {within_head: 35}}
    keep: 1
  - name: default
    keep: 0
`
	a := newEngine(t, Config{DecisionWait: 2 * time.Second}, pol)
	b := newEngine(t, Config{DecisionWait: 2 * time.Second}, pol)
	opts := gen.Default(12)
	opts.HeadLag = 40
	g := gen.New(opts)

	far := ptrace.NewTraces()
	span := far.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	span.SetTraceID(g.TraceID())
	span.Attributes().PutInt(semconv.BlockHeightKey, 1_000_000)
	_, err := b.Ingest(far, t0)
	require.NoError(t, err)

	keptA, keptB := map[pcommon.TraceID]bool{}, map[pcommon.TraceID]bool{}
	collect := func(kept map[pcommon.TraceID]bool, out ptrace.Traces) {
		for id := range traceIDs(out) {
			kept[id] = true
		}
	}
	all := map[pcommon.TraceID]bool{}
	at := t0
	for range 40 {
		td := g.Batch(50)
		for id := range traceIDs(td) {
			all[id] = true
		}
		out, err := a.Ingest(td, at)
		require.NoError(t, err)
		collect(keptA, out)
		rss := td.ResourceSpans()
		for i := rss.Len() - 1; i >= 0; i-- {
			one := ptrace.NewTraces()
			rss.At(i).CopyTo(one.ResourceSpans().AppendEmpty())
			out, err := b.Ingest(one, at.Add(300*time.Millisecond))
			require.NoError(t, err)
			collect(keptB, out)
		}
		at = at.Add(500 * time.Millisecond)
		for e, kept := range map[*Engine]map[pcommon.TraceID]bool{a: keptA, b: keptB} {
			out, err := e.Tick(at)
			require.NoError(t, err)
			collect(kept, out)
		}
	}
	for e, kept := range map[*Engine]map[pcommon.TraceID]bool{a: keptA, b: keptB} {
		out, err := e.Flush(at.Add(time.Hour))
		require.NoError(t, err)
		collect(kept, out)
	}
	differ := 0
	for id := range all {
		if keptA[id] != keptB[id] {
			differ++
		}
	}
	t.Logf("traces: %d; kept by A %d, by B %d; decided differently: %d; observed heads %d and %d",
		len(all), len(keptA), len(keptB), differ, a.Stats().Head, b.Stats().Head)
	require.Zero(t, differ, "the decision reads the trace's own spans only")
	// The rule must both keep and drop, or the test shows nothing.
	require.Greater(t, len(keptA), len(all)/20)
	require.Less(t, len(keptA), len(all)*9/10)
}
