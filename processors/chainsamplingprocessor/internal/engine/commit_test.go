package engine

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/chainotel/chainotel/semconv"
)

// txSpan is a span of transaction trace tx from node (not its root, so that
// decision_wait_after_root does not apply).
func txSpan(td ptrace.Traces, tx byte, node string) {
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr(semconv.ServiceInstanceIDKey, node)
	s := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	s.SetName(semconv.SpanMempoolAdd)
	s.SetTraceID(pcommon.TraceID{0xa0, 15: tx})
	s.SetSpanID(pcommon.SpanID{tx, 1})
	s.SetParentSpanID(pcommon.SpanID{0xff})
}

// applySpan is a node's block.apply span in block trace blk, linked to the
// traces of the block's transactions, as the node writes it.
func applySpan(td ptrace.Traces, blk byte, node string, txs ...byte) {
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr(semconv.ServiceInstanceIDKey, node)
	s := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	s.SetName(semconv.SpanBlockApply)
	s.SetTraceID(pcommon.TraceID{0xb0, 15: blk})
	s.SetSpanID(pcommon.SpanID{blk, 2})
	s.SetParentSpanID(pcommon.SpanID{0xfe})
	s.Attributes().PutInt(semconv.BlockHeightKey, int64(blk))
	for _, tx := range txs {
		l := s.Links().AppendEmpty()
		l.SetTraceID(pcommon.TraceID{0xa0, 15: tx})
		l.SetSpanID(pcommon.SpanID{tx, 1})
	}
}

func ingestAt(t *testing.T, e *Engine, at time.Duration, build func(td ptrace.Traces)) {
	t.Helper()
	td := ptrace.NewTraces()
	build(td)
	_, err := e.Ingest(td, t0.Add(at))
	require.NoError(t, err)
}

// decidedAt ticks at t0+at and returns the transaction traces that came out.
func decidedAt(t *testing.T, e *Engine, at time.Duration) []byte {
	t.Helper()
	td, err := e.Tick(t0.Add(at))
	require.NoError(t, err)
	var txs []byte
	for id := range traceIDs(td) {
		if id[0] == 0xa0 {
			txs = append(txs, id[15])
		}
	}
	return txs
}

func TestCommitDecidesAfterGrace(t *testing.T) {
	const grace = time.Second
	e := newEngine(t, Config{DecisionWait: 10 * time.Second, CommitGrace: grace}, "rules: [{name: all, keep: 1}]")
	ingestAt(t, e, 0, func(td ptrace.Traces) { txSpan(td, 1, "node0"); txSpan(td, 2, "node0"); txSpan(td, 3, "node0") })
	// node1 applies the block holding transactions 1 and 2 first; node2's
	// apply of the same block, later, moves nothing.
	ingestAt(t, e, 300*time.Millisecond, func(td ptrace.Traces) { applySpan(td, 7, "node1", 1, 2) })
	ingestAt(t, e, 800*time.Millisecond, func(td ptrace.Traces) { applySpan(td, 7, "node2", 1, 2); txSpan(td, 2, "node2") })

	require.Empty(t, decidedAt(t, e, 300*time.Millisecond+grace-time.Nanosecond))
	require.ElementsMatch(t, []byte{1, 2}, decidedAt(t, e, 300*time.Millisecond+grace),
		"committed traces are decided commit_grace after the first block.apply naming them")
	require.Empty(t, decidedAt(t, e, 9*time.Second), "an uncommitted trace waits")
	require.Equal(t, []byte{3}, decidedAt(t, e, 10*time.Second), "an uncommitted trace is decided after decision_wait")
}

func TestCommitDecidedTraceKeepsItsLateSpans(t *testing.T) {
	e := newEngine(t, Config{DecisionWait: 10 * time.Second, CommitGrace: time.Second}, "rules: [{name: all, keep: 1}]")
	ingestAt(t, e, 0, func(td ptrace.Traces) { txSpan(td, 1, "node0"); applySpan(td, 7, "node0", 1) })
	require.Equal(t, []byte{1}, decidedAt(t, e, time.Second))
	td := ptrace.NewTraces()
	txSpan(td, 1, "node2")
	out, err := e.Ingest(td, t0.Add(3*time.Second))
	require.NoError(t, err)
	require.Equal(t, 1, out.SpanCount(), "a span past the grace follows the cached decision")
}

func TestCommitSeenBeforeTheTrace(t *testing.T) {
	e := newEngine(t, Config{DecisionWait: 10 * time.Second, CommitGrace: time.Second}, "rules: [{name: all, keep: 1}]")
	ingestAt(t, e, 0, func(td ptrace.Traces) { applySpan(td, 7, "node1", 4) })
	ingestAt(t, e, 500*time.Millisecond, func(td ptrace.Traces) { txSpan(td, 4, "node0") })
	require.Empty(t, decidedAt(t, e, 1499*time.Millisecond))
	require.Equal(t, []byte{4}, decidedAt(t, e, 1500*time.Millisecond),
		"a trace whose commit came first is decided commit_grace after its first span")
}

func TestCommitDecisionsOff(t *testing.T) {
	e := newEngine(t, Config{DecisionWait: 10 * time.Second}, "rules: [{name: all, keep: 1}]")
	ingestAt(t, e, 0, func(td ptrace.Traces) { txSpan(td, 1, "node0"); applySpan(td, 7, "node0", 1) })
	require.Empty(t, decidedAt(t, e, 9*time.Second), "commit_grace 0: the commit changes nothing")
	require.Equal(t, []byte{1}, decidedAt(t, e, 10*time.Second))
}
