package engine

import (
	"github.com/hashicorp/golang-lru/v2/simplelru"
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/chainotel/chainotel/semconv"
)

// pendingCommits bounds the trace ids remembered as committed before any
// of their spans arrived (a node's block.apply span can overtake the
// submitting node's spans of the transaction).
const pendingCommits = 1 << 14

// commits follows the block.apply spans the nodes write for every block they
// apply: each links to the traces of the block's transactions (semconv,
// "Spans"), so its arrival says those traces are complete but for the spans
// still in the nodes' export queues. Called with the engine's lock held.
type commits struct {
	pending *simplelru.LRU[pcommon.TraceID, struct{}]
}

func newCommits() *commits {
	pending, _ := simplelru.NewLRU[pcommon.TraceID, struct{}](pendingCommits, nil) // size > 0: no error
	return &commits{pending: pending}
}

// isCommit reports whether span announces the commit of linked traces.
func isCommit[S spanView](span S) bool {
	return span.HasLinks() && span.Name() == semconv.SpanBlockApply
}

// observeCommit queues the buffered traces that span's links name for a
// decision CommitGrace from now, and remembers the others that are not
// decided yet for when their first span arrives. The first block.apply
// of a trace counts; those of the other nodes change nothing.
func observeCommit[S spanView](e *Engine, span S, nowNs int64) {
	span.RangeLinkTraceIDs(func(id pcommon.TraceID) {
		if t := e.traces[id]; t != nil {
			e.markCommitted(t, nowNs)
			return
		}
		if !e.cache.Contains(id) {
			e.commits.pending.Add(id, struct{}{})
		}
	})
}

// adoptCommit marks a new trace committed if its commit was seen first.
func (e *Engine) adoptCommit(t *trace, nowNs int64) {
	if e.commits.pending.Remove(t.id) {
		e.markCommitted(t, nowNs)
	}
}

func (e *Engine) markCommitted(t *trace, nowNs int64) {
	if t.committed {
		return
	}
	t.committed = true
	e.byCommit.push(t, nowNs)
}
