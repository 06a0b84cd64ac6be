package chainenrichprocessor

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/chainotel/chainotel/semconv"
)

// source is one head report: a span (or, with log set, a log event) that
// says a node reached a block.
type source struct {
	chain, node, name string
	height            any // int or string, as the node may write either
	hash, root        string
	failed            bool
	log               bool
}

// want is an error from (chain, node) and the head it must be stamped with;
// height nil means no head known.
type want struct {
	chain, node string
	height      any
	hash, root  string
}

func TestHeadTracking(t *testing.T) {
	const c1, c2 = "chain-a", "chain-b"
	apply := func(chain, node string, h int, hash, root string) source {
		return source{chain: chain, node: node, name: semconv.SpanBlockApply, height: h, hash: hash, root: root}
	}
	for _, tc := range []struct {
		name    string
		batches [][]source
		errors  []want
	}{
		{
			name:    "in order",
			batches: [][]source{{apply(c1, "n0", 1, "h1", "r1")}, {apply(c1, "n0", 2, "h2", "r2")}, {apply(c1, "n0", 3, "h3", "r3")}},
			errors:  []want{{c1, "n0", int64(3), "h3", "r3"}},
		},
		{
			name:    "out of order heights never move the head back",
			batches: [][]source{{apply(c1, "n0", 5, "h5", "r5")}, {apply(c1, "n0", 3, "h3", "r3")}, {apply(c1, "n0", 4, "h4", "r4")}},
			errors:  []want{{c1, "n0", int64(5), "h5", "r5"}},
		},
		{
			name: "commit then apply of one height fill each other in",
			batches: [][]source{
				{{chain: c1, node: "n0", name: semconv.SpanConsensusCommit, height: 7, hash: "h7"}},
				{{chain: c1, node: "n0", name: semconv.SpanBlockApply, height: 7, root: "r7"}},
			},
			errors: []want{{c1, "n0", int64(7), "h7", "r7"}},
		},
		{
			name: "a failed block.apply does not move the head",
			batches: [][]source{
				{apply(c1, "n0", 2, "h2", "r2")},
				{{chain: c1, node: "n0", name: semconv.SpanBlockApply, height: 3, hash: "h3", root: "r3", failed: true}},
			},
			errors: []want{{c1, "n0", int64(2), "h2", "r2"}},
		},
		{
			name: "spans that are not sources do not move the head",
			batches: [][]source{
				{apply(c1, "n0", 2, "h2", "r2")},
				{{chain: c1, node: "n0", name: semconv.SpanConsensusPropose, height: 3, hash: "h3"}},
			},
			errors: []want{{c1, "n0", int64(2), "h2", "r2"}},
		},
		{
			name: "several chains and nodes each keep their own head",
			batches: [][]source{
				{apply(c1, "n0", 10, "a10", "ra10"), apply(c1, "n1", 8, "a8", "ra8"), apply(c2, "n0", 3, "b3", "rb3")},
				{apply(c1, "n1", 9, "a9", "ra9"), apply(c2, "n0", 2, "b2", "rb2")},
			},
			errors: []want{
				{c1, "n0", int64(10), "a10", "ra10"},
				{c1, "n1", int64(9), "a9", "ra9"},
				{c2, "n0", int64(3), "b3", "rb3"},
				{c2, "n1", nil, "", ""},
			},
		},
		{
			name:    "string heights count",
			batches: [][]source{{apply(c1, "n0", 4, "h4", "r4")}, {{chain: c1, node: "n0", name: semconv.SpanBlockApply, height: "12", hash: "h12", root: "r12"}}},
			errors:  []want{{c1, "n0", int64(12), "h12", "r12"}},
		},
		{
			name: "log events report heads too",
			batches: [][]source{
				{apply(c1, "n0", 4, "h4", "r4")},
				{{chain: c1, node: "n0", name: semconv.SpanBlockApply, height: 6, hash: "h6", root: "r6", log: true}},
			},
			errors: []want{{c1, "n0", int64(6), "h6", "r6"}},
		},
		{
			name:   "no head known: no stamp",
			errors: []want{{c1, "n9", nil, "", ""}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPipeline(t, defaultConfig())
			for _, batch := range tc.batches {
				td, ld := ptrace.NewTraces(), plog.NewLogs()
				for _, s := range batch {
					if s.log {
						lr := newLog(ld, s.chain, s.node, plog.SeverityNumberInfo, "block applied")
						lr.SetEventName(s.name)
						putHead(lr.Attributes().PutInt, lr.Attributes().PutStr, s)
						continue
					}
					sp := newSpan(td, s.chain, s.node, s.name)
					putHead(sp.Attributes().PutInt, sp.Attributes().PutStr, s)
					if s.failed {
						sp.Status().SetCode(ptrace.StatusCodeError)
					}
				}
				p.consumeTraces(td)
				p.consumeLogs(ld)
			}
			// Each expected error is checked as a span and as a log.
			td, ld := ptrace.NewTraces(), plog.NewLogs()
			for _, w := range tc.errors {
				newSpan(td, w.chain, w.node, semconv.SpanMempoolAdd).Status().SetCode(ptrace.StatusCodeError)
				newLog(ld, w.chain, w.node, plog.SeverityNumberError, "mempool add failed")
			}
			spans, logs := allSpans(p.consumeTraces(td)), allLogs(p.consumeLogs(ld))
			for i, w := range tc.errors {
				for what, attrs := range map[string]interface{ Get(string) (any, bool) }{
					"span": mapGetter{spans[i].Attributes()}, "log": mapGetter{logs[i].Attributes()},
				} {
					h, _ := attrs.Get(semconv.HeadHeightKey)
					assert.Equalf(t, w.height, h, "%s %d height", what, i)
					hash, _ := attrs.Get(semconv.HeadHashKey)
					root, _ := attrs.Get(semconv.HeadStateRootKey)
					if w.height == nil {
						assert.Nilf(t, hash, "%s %d hash", what, i)
						assert.Nilf(t, root, "%s %d root", what, i)
					} else {
						assert.Equalf(t, w.hash, hash, "%s %d hash", what, i)
						assert.Equalf(t, w.root, root, "%s %d root", what, i)
					}
					node, _ := attrs.Get(semconv.NodeIDKey)
					assert.Equalf(t, w.node, node, "%s %d node id", what, i)
				}
			}
		})
	}
}

func putHead(putInt func(string, int64), putStr func(string, string), s source) {
	switch h := s.height.(type) {
	case int:
		putInt(semconv.BlockHeightKey, int64(h))
	case string:
		putStr(semconv.BlockHeightKey, h)
	}
	if s.hash != "" {
		putStr(semconv.BlockHashKey, s.hash)
	}
	if s.root != "" {
		putStr(semconv.StateRootKey, s.root)
	}
}
