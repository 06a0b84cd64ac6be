package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/chainotel/chainotel/processors/chainsamplingprocessor/internal/gen"
	"github.com/chainotel/chainotel/semconv"
)

// nodes is how many nodes the generated traces cross: each has its own
// resource (service.instance.id) and, in the scale-out scenario, its own
// sidecar.
const nodes = 3

// class is what a generated trace is, and so which rule must decide it.
type class int

const (
	classError class = iota
	classTransfer
	classConsensus
	classOther
	classes
)

// ruleOf names the rule of the scenarios' policies that decides each class.
var ruleOf = [classes]string{"errors", "transfers", "consensus", "default"}

// traceInfo is the truth about one generated trace.
type traceInfo struct {
	class class
	spans int
	nodes uint8 // bit i: a span of node i
}

// generator makes small chain traces (1-3 spans over the nodes) of known
// class. It is not safe for concurrent use.
type generator struct {
	rng    *rand.Rand
	share  [classes]float64 // cumulative
	res    [nodes]pcommon.Resource
	height int64
	now    time.Time
}

// newGenerator draws classes with the given shares (they sum to 1).
func newGenerator(seed uint64, shares [classes]float64) *generator {
	g := &generator{rng: rand.New(rand.NewPCG(seed, seed^0x5bd1e995)), height: 1000, now: time.Now()}
	sum := 0.0
	for c, s := range shares {
		sum += s
		g.share[c] = sum
	}
	for i := range nodes {
		r := pcommon.NewResource()
		a := r.Attributes()
		a.PutStr(semconv.ServiceNameKey, semconv.ServiceName)
		a.PutStr(semconv.ServiceInstanceIDKey, fmt.Sprintf("node%d", i))
		a.PutStr(semconv.ChainIDKey, "chainotel-dev")
		a.PutStr(semconv.ChainConsensusKey, semconv.ConsensusRaft)
		g.res[i] = r
	}
	return g
}

// batch returns one OTLP request per node holding n new traces' spans (a
// node without spans gets an empty request), and the truth about each.
func (g *generator) batch(n int) ([nodes]ptrace.Traces, map[pcommon.TraceID]traceInfo) {
	var out [nodes]ptrace.Traces
	var spans [nodes]ptrace.SpanSlice
	for i := range nodes {
		out[i] = ptrace.NewTraces()
		rs := out[i].ResourceSpans().AppendEmpty()
		g.res[i].CopyTo(rs.Resource())
		ss := rs.ScopeSpans().AppendEmpty()
		ss.Scope().SetName("github.com/chainotel/chainotel/node")
		spans[i] = ss.Spans()
	}
	truth := make(map[pcommon.TraceID]traceInfo, n)
	for range n {
		id, info := g.trace(&spans)
		truth[id] = info
	}
	return out, truth
}

func (g *generator) pick() class {
	x := g.rng.Float64()
	for c := range classes {
		if x < g.share[c] {
			return c
		}
	}
	return classOther
}

func (g *generator) trace(spans *[nodes]ptrace.SpanSlice) (pcommon.TraceID, traceInfo) {
	id := gen.RandomTraceID(g.rng)
	info := traceInfo{class: g.pick(), spans: 1 + g.rng.IntN(3)}
	g.now = g.now.Add(10 * time.Microsecond)
	if g.rng.IntN(4) == 0 {
		g.height++
	}
	var root pcommon.SpanID
	for i := range info.spans {
		node := g.rng.IntN(nodes)
		info.nodes |= 1 << node
		span := gen.AppendSpan(spans[node], id, root, g.rng)
		if i == 0 {
			root = span.SpanID()
		}
		start := g.now.Add(time.Duration(i) * 100 * time.Microsecond)
		span.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
		span.SetEndTimestamp(pcommon.NewTimestampFromTime(start.Add(500 * time.Microsecond)))
		g.fill(span, info.class, i)
	}
	return id, info
}

// fill gives a span the name and attributes of its class's stage, so that
// exactly the class's rule matches the trace.
func (g *generator) fill(span ptrace.Span, c class, i int) {
	a := span.Attributes()
	switch c {
	case classConsensus:
		span.SetName([]string{semconv.SpanConsensusPropose, semconv.SpanConsensusCommit, semconv.SpanBlockApply}[i])
		a.PutInt(semconv.BlockHeightKey, g.height)
		a.PutInt(semconv.HeadHeightKey, g.height)
		a.PutInt(semconv.ConsensusTermKey, 3)
		return
	case classError, classTransfer, classOther:
	}
	txType := semconv.TxTypeStake
	if c == classTransfer {
		txType = semconv.TxTypeTransfer
	}
	switch i {
	case 0:
		span.SetName("POST /tx")
		span.SetKind(ptrace.SpanKindServer)
		a.PutStr(semconv.HTTPRouteKey, "/tx")
		a.PutStr(semconv.TxTypeKey, txType)
	case 1:
		span.SetName(semconv.SpanValidateTransaction)
		a.PutStr(semconv.TxTypeKey, txType)
	default:
		span.SetName(semconv.SpanMempoolAdd)
		a.PutInt(semconv.MempoolSizeKey, int64(g.rng.IntN(500)))
	}
	if c == classError && i == 0 {
		span.Status().SetCode(ptrace.StatusCodeError)
		span.Status().SetMessage("nonce too low")
		a.PutStr(semconv.ErrorTypeKey, semconv.ErrorValidation)
	}
}

// faultSpan is the span of a consensus timeout on node 1 (an event the
// trigger scenario's trigger opens a window on), a trace of its own.
func (g *generator) faultSpan() (ptrace.Traces, pcommon.TraceID) {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	g.res[1].CopyTo(rs.Resource())
	span := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	id := gen.RandomTraceID(g.rng)
	span.SetTraceID(id)
	span.SetSpanID(pcommon.SpanID{1})
	span.SetName(semconv.SpanConsensusTimeout)
	now := time.Now()
	span.SetStartTimestamp(pcommon.NewTimestampFromTime(now))
	span.SetEndTimestamp(pcommon.NewTimestampFromTime(now))
	span.Status().SetCode(ptrace.StatusCodeError)
	span.Attributes().PutStr(semconv.ErrorTypeKey, semconv.ErrorConsensusTimeout)
	span.Attributes().PutInt(semconv.ConsensusTermKey, 3)
	return td, id
}

// client sends OTLP/gRPC requests to one collector.
type client struct {
	conn *grpc.ClientConn
	otlp ptraceotlp.GRPCClient
}

func dial(endpoint string) (*client, error) {
	conn, err := grpc.NewClient(endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(64<<20)))
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", endpoint, err)
	}
	return &client{conn: conn, otlp: ptraceotlp.NewGRPCClient(conn)}, nil
}

func (c *client) close() { _ = c.conn.Close() }

// send exports td, again while the collector answers with a retryable
// refusal (as an SDK's exporter would), for up to a minute.
func (c *client) send(ctx context.Context, td ptrace.Traces) error {
	if td.SpanCount() == 0 {
		return nil
	}
	req := ptraceotlp.NewExportRequestFromTraces(td)
	deadline := time.Now().Add(time.Minute)
	for {
		_, err := c.otlp.Export(ctx, req)
		if err == nil {
			return nil
		}
		code := status.Code(err)
		if (code != codes.Unavailable && code != codes.ResourceExhausted) || time.Now().After(deadline) {
			return fmt.Errorf("export %d spans: %w", td.SpanCount(), err)
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
