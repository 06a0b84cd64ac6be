package main

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/chainotel/chainotel/processors/chainsamplingprocessor/internal/engine"
	"github.com/chainotel/chainotel/processors/chainsamplingprocessor/internal/metadata"
	"github.com/chainotel/chainotel/processors/chainsamplingprocessor/internal/policy"
	"github.com/chainotel/chainotel/semconv"
)

// The commit benchmark replays, in simulated time, what a three-node raft
// chain sends the collector, and measures for each trace the time from its
// last span's arrival to its decision, and the bytes buffered, with commit
// decisions off and on. The model follows the node:
//   - a transaction's trace: POST /tx (the root; it answers at inclusion, so
//     it ends at the commit), validate.transaction and mempool.add on the
//     node it was sent to, and, when that is not the leader, the Forward
//     client span there and the Forward server span and mempool.add on the
//     leader;
//   - each block: on every node a consensus.commit span (a root) and its
//     block.apply child, linked to at most 64 of the block's transactions
//     (raft's maxLinks);
//   - each node exports a batch when 512 spans wait or 1 s after the last
//     batch (its telemetry defaults), so spans reach the collector up to a
//     second after they end.
const (
	simNodes        = 3
	simBlockEvery   = 200 * time.Millisecond
	simCommitDelay  = 50 * time.Millisecond // from a block cut to its commit
	simMaxLinks     = 64
	simBatchSpans   = 512
	simBatchTimeout = time.Second
	simTick         = 50 * time.Millisecond
)

type simSpan struct {
	node    int
	end     time.Duration // when it ended, on the node
	arrives time.Duration // when the collector receives it
	trace   pcommon.TraceID
	parent  bool // has a parent (not a root)
	name    string
	links   []pcommon.TraceID
}

// simulate builds txPerSecond transactions a second for d, and the spans of
// the blocks that commit them, with their arrival times.
func simulate(txPerSecond int, d time.Duration, seed uint64) ([]simSpan, int) {
	rng := rand.New(rand.NewPCG(seed, seed+1))
	id := func(kind byte) pcommon.TraceID {
		var t pcommon.TraceID
		binary.BigEndian.PutUint64(t[:8], rng.Uint64())
		binary.BigEndian.PutUint64(t[8:], rng.Uint64())
		t[0] = kind
		return t
	}
	var spans []simSpan
	n := int(float64(txPerSecond) * d.Seconds())
	const leader = 0
	var block []pcommon.TraceID
	var roots []int // of the POST /tx spans of the block being filled
	nextCut := simBlockEvery
	cut := func(at time.Duration) {
		commit := at + simCommitDelay
		links := block[:min(len(block), simMaxLinks)]
		for node := range simNodes {
			end := commit + time.Duration(rng.IntN(20))*time.Millisecond
			blk := id(0xb0)
			spans = append(spans,
				simSpan{node: node, end: end, trace: blk, name: semconv.SpanConsensusCommit},
				simSpan{node: node, end: end, trace: blk, parent: true, name: semconv.SpanBlockApply, links: links})
		}
		block = nil
	}
	for i := range n {
		at := time.Duration(i) * time.Second / time.Duration(txPerSecond)
		for at >= nextCut {
			// The block's transactions answer at its commit.
			for _, j := range roots {
				spans[j].end = nextCut + simCommitDelay + time.Duration(rng.IntN(5))*time.Millisecond
			}
			roots = roots[:0]
			cut(nextCut)
			nextCut += simBlockEvery
		}
		tx, node := id(0xa0), rng.IntN(simNodes)
		roots = append(roots, len(spans))
		spans = append(spans,
			simSpan{node: node, end: -1, trace: tx, name: "POST /tx"},
			simSpan{node: node, end: at + time.Millisecond, trace: tx, parent: true, name: semconv.SpanValidateTransaction},
			simSpan{node: node, end: at + 2*time.Millisecond, trace: tx, parent: true, name: semconv.SpanMempoolAdd})
		if node != leader {
			spans = append(spans,
				simSpan{node: node, end: at + 4*time.Millisecond, trace: tx, parent: true, name: "chainotel.p2p.v1.Peer/Forward"},
				simSpan{node: leader, end: at + 3*time.Millisecond, trace: tx, parent: true, name: "chainotel.p2p.v1.Peer/Forward"},
				simSpan{node: leader, end: at + 3*time.Millisecond, trace: tx, parent: true, name: semconv.SpanMempoolAdd})
		}
		block = append(block, tx)
	}
	for _, j := range roots {
		spans[j].end = nextCut + simCommitDelay
	}
	cut(nextCut)
	export(spans, seed)
	slices.SortStableFunc(spans, func(a, b simSpan) int { return cmp.Compare(a.arrives, b.arrives) })
	return spans, n
}

// export sets each span's arrival: its node's next batch.
func export(spans []simSpan, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, seed+2))
	for node := range simNodes {
		var idx []int
		for j := range spans {
			if spans[j].node == node {
				idx = append(idx, j)
			}
		}
		slices.SortFunc(idx, func(a, b int) int { return cmp.Compare(spans[a].end, spans[b].end) })
		last := time.Duration(rng.IntN(1000)) * time.Millisecond // the node's phase
		var batch []int
		flush := func(at time.Duration) {
			for _, j := range batch {
				spans[j].arrives = at + time.Millisecond
			}
			batch, last = batch[:0], at
		}
		for _, j := range idx {
			for spans[j].end >= last+simBatchTimeout {
				flush(last + simBatchTimeout)
			}
			batch = append(batch, j)
			if len(batch) == simBatchSpans {
				flush(spans[j].end)
			}
		}
		for len(batch) > 0 {
			flush(last + simBatchTimeout)
		}
	}
}

// commitResult is what one replay measured.
type commitResult struct {
	txP50, txP99, allP50, allP99 time.Duration
	lateSpans                    int
	meanBytes                    float64
}

// replay feeds the simulated spans to an engine deciding with commit grace
// grace (0: off), every trace kept so that each decision shows.
func replay(spans []simSpan, grace time.Duration) (commitResult, error) {
	pol, err := policy.Parse("bench.yaml", []byte("rules: [{name: all, keep: 1}]"))
	if err != nil {
		return commitResult{}, err
	}
	tel, err := metadata.NewTelemetryBuilder(componenttest.NewNopTelemetrySettings())
	if err != nil {
		return commitResult{}, err
	}
	e, err := engine.New(engine.Config{DecisionWait: 10 * time.Second, DecisionWaitAfterRoot: 2 * time.Second,
		CommitGrace: grace, MaxTraces: 1 << 20, MaxBytes: 1 << 32, DecisionCacheSize: 1 << 20}, pol, tel)
	if err != nil {
		return commitResult{}, err
	}
	base := time.Unix(1_700_000_000, 0)
	lastArrival := map[pcommon.TraceID]time.Duration{}
	decided := map[pcommon.TraceID]time.Duration{}
	var res commitResult
	var bytesSum float64
	var samples int
	collect := func(td ptrace.Traces, at time.Duration, late bool) {
		rss := td.ResourceSpans()
		for i := 0; i < rss.Len(); i++ {
			sss := rss.At(i).ScopeSpans()
			for j := 0; j < sss.Len(); j++ {
				ss := sss.At(j).Spans()
				for k := 0; k < ss.Len(); k++ {
					id := ss.At(k).TraceID()
					if late {
						res.lateSpans++
					} else if _, ok := decided[id]; !ok {
						decided[id] = at
					}
				}
			}
		}
	}
	tick := simTick
	for i := 0; i < len(spans); {
		at := spans[i].arrives
		for tick <= at {
			td, err := e.Tick(base.Add(tick))
			if err != nil {
				return res, err
			}
			collect(td, tick, false)
			if tick > 12*time.Second { // past the first decision_wait
				bytesSum += float64(e.Stats().Bytes)
				samples++
			}
			tick += simTick
		}
		td := ptrace.NewTraces()
		for ; i < len(spans) && spans[i].arrives == at; i++ {
			s := spans[i]
			rs := td.ResourceSpans().AppendEmpty()
			rs.Resource().Attributes().PutStr(semconv.ServiceInstanceIDKey, fmt.Sprintf("node%d", s.node))
			sp := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
			sp.SetName(s.name)
			sp.SetTraceID(s.trace)
			sp.SetSpanID(pcommon.SpanID{byte(i), byte(i >> 8), byte(i >> 16), 1})
			if s.parent {
				sp.SetParentSpanID(pcommon.SpanID{0xff})
			}
			sp.SetEndTimestamp(pcommon.NewTimestampFromTime(base.Add(s.end)))
			for _, l := range s.links {
				sp.Links().AppendEmpty().SetTraceID(l)
			}
			lastArrival[s.trace] = at
		}
		out, err := e.Ingest(td, base.Add(at))
		if err != nil {
			return res, err
		}
		collect(out, at, true)
	}
	td, err := e.Flush(base.Add(tick))
	if err != nil {
		return res, err
	}
	collect(td, tick, false)
	var tx, all []time.Duration
	for id, last := range lastArrival {
		d := max(0, decided[id]-last)
		all = append(all, d)
		if id[0] == 0xa0 {
			tx = append(tx, d)
		}
	}
	res.txP50, res.txP99 = percentile(tx, 0.5), percentile(tx, 0.99)
	res.allP50, res.allP99 = percentile(all, 0.5), percentile(all, 0.99)
	if samples > 0 {
		res.meanBytes = bytesSum / float64(samples)
	}
	return res, nil
}

func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return ds[min(len(ds)-1, int(p*float64(len(ds))))]
}

// commitBench prints the replay with commit decisions off and on.
func commitBench(txPerSecond int, d time.Duration) error {
	spans, txs := simulate(txPerSecond, d, 7)
	fmt.Printf("\ndecide at commit: %d tx/s for %s on 3 raft nodes (%d transactions, %d spans), simulated time;\n",
		txPerSecond, d, txs, len(spans))
	fmt.Printf("decision_wait 10s, decision_wait_after_root 2s; the nodes export every 1 s or 512 spans\n\n")
	fmt.Printf("%-26s %22s %22s %12s %16s\n", "", "tx traces p50 / p99", "all traces p50 / p99", "late spans", "bytes buffered")
	for _, grace := range []time.Duration{0, time.Second, 500 * time.Millisecond} {
		r, err := replay(spans, grace)
		if err != nil {
			return err
		}
		name := "commit_grace 0s (off)"
		if grace > 0 {
			name = "commit_grace " + grace.String()
		}
		fmt.Printf("%-26s %10s / %-9s %10s / %-9s %12d %16.0f\n", name, r.txP50, r.txP99, r.allP50, r.allP99, r.lateSpans, r.meanBytes)
	}
	fmt.Println("(time from a trace's last span to its decision; late spans arrived after their trace was decided)")
	return nil
}

// commitBenches replays 200 tx/s, where every block links all its
// transactions, and txPerSecond.
func commitBenches(txPerSecond int) error {
	for _, r := range []int{200, txPerSecond} {
		if err := commitBench(r, 40*time.Second); err != nil {
			return err
		}
	}
	return nil
}
