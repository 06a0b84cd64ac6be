// Package gen generates chain-shaped traces, as the blockchain node emits
// them, for the processor's tests and benchmark.
package gen

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/chainotel/chainotel/semconv"
)

// Options shape the generated traffic.
type Options struct {
	Seed      uint64
	MinSpans  int     // spans per trace, at least
	MaxSpans  int     // spans per trace, at most
	ErrorRate float64 // fraction of traces with an error span
	Nodes     int     // nodes the spans of a trace spread over
	// HeadLag, when > 0, makes every span with a chain.block.height also
	// carry the head its node reports (chain.head.height): the chain's
	// height when the trace began plus a lag drawn per span from
	// [0, HeadLag), as nodes that committed further blocks while the
	// trace ran would write.
	HeadLag int
}

// Default is the benchmark's traffic: 10–30 spans a trace, 1% errors, three
// nodes.
func Default(seed uint64) Options {
	return Options{Seed: seed, MinSpans: 10, MaxSpans: 30, ErrorRate: 0.01, Nodes: 3}
}

// Generator makes traces. It is not safe for concurrent use.
type Generator struct {
	opts   Options
	rng    *rand.Rand
	height int64
	now    time.Time
	res    []pcommon.Resource
}

// New returns a generator; the same options give the same traces.
func New(opts Options) *Generator {
	g := &Generator{opts: opts, rng: rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15)), height: 1000,
		now: time.Unix(1_700_000_000, 0)}
	for i := range max(1, opts.Nodes) {
		r := pcommon.NewResource()
		a := r.Attributes()
		a.PutStr(semconv.ServiceNameKey, semconv.ServiceName)
		a.PutStr(semconv.ServiceInstanceIDKey, fmt.Sprintf("node%d", i))
		a.PutStr(semconv.ServiceVersionKey, "0.3.0")
		a.PutStr(semconv.DeploymentEnvironmentKey, "dev")
		a.PutStr(semconv.ChainIDKey, "chainotel-dev")
		a.PutStr(semconv.ChainConsensusKey, semconv.ConsensusRaft)
		g.res = append(g.res, r)
	}
	return g
}

// TraceID returns a random trace id from the generator's stream.
func (g *Generator) TraceID() pcommon.TraceID { return RandomTraceID(g.rng) }

// RandomTraceID returns a trace id drawn from rng (two Uint64s).
func RandomTraceID(rng *rand.Rand) pcommon.TraceID {
	var id pcommon.TraceID
	binary.BigEndian.PutUint64(id[:8], rng.Uint64())
	binary.BigEndian.PutUint64(id[8:], rng.Uint64())
	return id
}

// AppendSpan appends to spans a span of trace id whose span id is drawn
// from rng (one Uint64, made odd so that it is never empty) and whose
// parent is root, unless root is empty (the span is then a root).
func AppendSpan(spans ptrace.SpanSlice, id pcommon.TraceID, root pcommon.SpanID, rng *rand.Rand) ptrace.Span {
	span := spans.AppendEmpty()
	span.SetTraceID(id)
	var sid pcommon.SpanID
	binary.BigEndian.PutUint64(sid[:], rng.Uint64()|1)
	span.SetSpanID(sid)
	if !root.IsEmpty() {
		span.SetParentSpanID(root)
	}
	return span
}

// Batch returns the spans of n new traces in one OTLP batch, grouped by
// node, the way an exporter sends them.
func (g *Generator) Batch(n int) ptrace.Traces {
	td := ptrace.NewTraces()
	scopes := make([]ptrace.SpanSlice, len(g.res))
	for i, r := range g.res {
		rs := td.ResourceSpans().AppendEmpty()
		r.CopyTo(rs.Resource())
		ss := rs.ScopeSpans().AppendEmpty()
		ss.Scope().SetName("github.com/chainotel/chainotel/node")
		scopes[i] = ss.Spans()
	}
	for range n {
		g.trace(scopes)
	}
	return td
}

// trace appends one trace's spans, spread over the nodes.
func (g *Generator) trace(scopes []ptrace.SpanSlice) {
	id := g.TraceID()
	nspans := g.opts.MinSpans + g.rng.IntN(g.opts.MaxSpans-g.opts.MinSpans+1)
	errAt := -1
	if g.rng.Float64() < g.opts.ErrorRate {
		errAt = 1 + g.rng.IntN(nspans-1)
	}
	g.now = g.now.Add(time.Millisecond)
	g.height += int64(g.rng.IntN(2))
	kind := g.rng.IntN(100)
	txType := semconv.TxTypes[g.rng.IntN(len(semconv.TxTypes))]
	if kind < 60 {
		txType = semconv.TxTypeTransfer
	}
	start := g.now
	var root pcommon.SpanID
	for i := range nspans {
		node := g.rng.IntN(len(scopes))
		if i == 0 {
			node = 0
		}
		span := AppendSpan(scopes[node], id, root, g.rng)
		if i == 0 {
			root = span.SpanID()
		}
		s := start.Add(time.Duration(i) * 200 * time.Microsecond)
		span.SetStartTimestamp(pcommon.NewTimestampFromTime(s))
		span.SetEndTimestamp(pcommon.NewTimestampFromTime(s.Add(time.Duration(50+g.rng.IntN(2000)) * time.Microsecond)))
		g.fill(span, kind, i, txType)
		if g.opts.HeadLag > 0 {
			if _, ok := span.Attributes().Get(semconv.BlockHeightKey); ok {
				span.Attributes().PutInt(semconv.HeadHeightKey, g.height+int64(g.rng.IntN(g.opts.HeadLag)))
			}
		}
		if i == errAt {
			span.Status().SetCode(ptrace.StatusCodeError)
			// A refused transaction: the commonest error of a running
			// chain, and one no trigger of the shipped policy reads.
			span.Status().SetMessage("nonce too low")
			span.Attributes().PutStr(semconv.ErrorTypeKey, semconv.ErrorValidation)
		}
	}
}

// fill names a span and gives it the attributes the node writes for its
// stage. kind picks the trace's shape: transactions (0–69), consensus rounds
// (70–89), sync (90–94) and health scrapes (95–99).
func (g *Generator) fill(span ptrace.Span, kind, i int, txType string) {
	a := span.Attributes()
	switch {
	case kind >= 95:
		if i == 0 {
			span.SetName("GET /health")
			span.SetKind(ptrace.SpanKindServer)
			a.PutStr(semconv.HTTPRouteKey, "/health")
			return
		}
		span.SetName("health.check")
	case kind >= 90:
		span.SetName([]string{semconv.SpanSyncFetch, semconv.SpanSyncApply}[i%2])
		a.PutStr(semconv.SyncHeightRangeKey, fmt.Sprintf("%d-%d", g.height-60, g.height))
		a.PutStr(semconv.PeerIDKey, "node1")
		a.PutInt(semconv.BlockHeightKey, g.height-int64(i))
	case kind >= 70:
		names := []string{semconv.SpanConsensusPropose, semconv.SpanConsensusCommit, semconv.SpanBlockApply}
		span.SetName(names[i%len(names)])
		a.PutInt(semconv.BlockHeightKey, g.height)
		a.PutInt(semconv.ConsensusTermKey, 3)
		a.PutInt(semconv.ConsensusIndexKey, g.height*2)
		if i%3 == 2 {
			a.PutStr(semconv.BlockHashKey, "0x5f3a9c1e2b7d4a8f")
		}
	default:
		switch {
		case i == 0:
			span.SetName("POST /tx")
			span.SetKind(ptrace.SpanKindServer)
			a.PutStr(semconv.HTTPRouteKey, "/tx")
			a.PutStr(semconv.TxTypeKey, txType)
			a.PutStr(semconv.TxHashKey, "0x9a8b7c6d5e4f3a2b")
		case i%4 == 1:
			span.SetName(semconv.SpanValidateTransaction)
			a.PutStr(semconv.TxTypeKey, txType)
			a.PutStr(semconv.TxHashKey, "0x9a8b7c6d5e4f3a2b")
		case i%4 == 2:
			span.SetName("chainotel.p2p.v1.Peer/Forward")
			span.SetKind(ptrace.SpanKindClient)
			a.PutStr(semconv.RPCSystemKey, "grpc")
			a.PutStr(semconv.RPCServiceKey, "chainotel.p2p.v1.Peer")
			a.PutStr(semconv.RPCMethodKey, "chainotel.p2p.v1.Peer/Forward")
			a.PutStr(semconv.PeerIDKey, "node2")
		case i%4 == 3:
			span.SetName(semconv.SpanBlockApply)
			a.PutInt(semconv.BlockHeightKey, g.height)
			a.PutStr(semconv.BlockHashKey, "0x5f3a9c1e2b7d4a8f")
		default:
			span.SetName(semconv.SpanMempoolAdd)
			a.PutInt(semconv.MempoolSizeKey, int64(g.rng.IntN(500)))
		}
	}
}
