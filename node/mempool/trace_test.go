package mempool

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/chainotel/chainotel/node/chain"
	"github.com/chainotel/chainotel/node/consensus"
	"github.com/chainotel/chainotel/node/store"
	"github.com/chainotel/chainotel/semconv"
)

// tracedPool is a pool whose spans go to exp, over a store at genesis g.
func tracedPool(t *testing.T) (*Pool, *store.Store, *chain.Genesis, *tracetest.InMemoryExporter) {
	t.Helper()
	s, err := store.Open(t.TempDir(), nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	g := chain.DevGenesis([]string{"node0"}, time.Unix(1_700_000_000, 0))
	require.NoError(t, s.InitGenesis(g))
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	return New(10, tp.Tracer("test")), s, g, exp
}

func TestAddTracesAndAddUntracedDoesNot(t *testing.T) {
	p, s, g, exp := tracedPool(t)
	ctx := context.Background()

	traced := chain.Tx{From: "0xabc", To: "0xdef", Amount: 1, ID: "traced"}
	require.NoError(t, p.Add(ctx, traced, traced.Hash(), s, &g.Consensus))
	quiet := chain.Tx{From: "0xabc", To: "0xdef", Amount: 1, ID: "quiet"}
	require.NoError(t, p.AddUntraced(quiet, quiet.Hash(), s, &g.Consensus))
	bad := chain.Tx{From: "0xabc", To: "0xdef", Amount: 1, Nonce: new(uint64), ID: "bad"} // nonce 0 is taken by the pending ones
	require.ErrorIs(t, p.AddUntraced(bad, bad.Hash(), s, &g.Consensus), chain.ErrBadNonce, "untraced still validates")
	require.Equal(t, 2, p.Len())

	var names []string
	for _, sp := range exp.GetSpans() {
		names = append(names, sp.Name)
	}
	require.ElementsMatch(t, []string{semconv.SpanMempoolAdd, semconv.SpanValidateStateTransition, semconv.SpanValidateGasUsage}, names,
		"only the traced admission made spans")
}

// The checks run under the pool's lock, their spans are made after it: with
// no validate.transaction in the trace, the chain state_transition ->
// gas_usage hangs under mempool.add, each child inside its parent's
// time, with the checks' outcome; a failed state transition has no gas stage.
func TestValidationStagesAreOneChain(t *testing.T) {
	p, s, g, exp := tracedPool(t)
	tp := sdktrace.NewTracerProvider()
	ctx, root := tp.Tracer("test").Start(context.Background(), "request")

	ok := chain.Tx{From: "0xabc", To: "0xdef", Amount: 1, ID: "ok"}
	require.NoError(t, p.Add(ctx, ok, ok.Hash(), s, &g.Consensus))
	bad := chain.Tx{From: "0xabc", To: "0xdef", Amount: 1, Nonce: new(uint64), ID: "bad"} // nonce 0 is pending
	require.ErrorIs(t, p.Add(ctx, bad, bad.Hash(), s, &g.Consensus), chain.ErrBadNonce)

	spans := exp.GetSpans()
	require.Len(t, spans, 5)
	gas, check, add := spans[0], spans[1], spans[2] // a child ends before its parent
	require.Equal(t, semconv.SpanValidateGasUsage, gas.Name)
	require.Equal(t, semconv.SpanValidateStateTransition, check.Name)
	require.Equal(t, semconv.SpanMempoolAdd, add.Name)
	require.Equal(t, root.SpanContext().SpanID(), add.Parent.SpanID())
	require.Equal(t, add.SpanContext.SpanID(), check.Parent.SpanID(), "no validate.transaction: under mempool.add")
	require.Equal(t, check.SpanContext.SpanID(), gas.Parent.SpanID(), "gas_usage is state_transition's child")
	within(t, gas, check)
	within(t, check, add)
	require.Equal(t, map[string]any{semconv.TxGasKey: int64(g.Consensus.GasPerTx), semconv.TxFeeKey: int64(0)}, attrsOf(gas))
	require.Equal(t, map[string]any{semconv.AccountNonceKey: int64(0)}, attrsOf(check))
	require.Equal(t, int64(0), attrsOf(add)[semconv.MempoolSizeKey])
	require.Equal(t, codes.Unset, check.Status.Code)

	check, add = spans[3], spans[4]
	require.Equal(t, semconv.SpanValidateStateTransition, check.Name, "no gas stage after a failed transition")
	within(t, check, add)
	require.Equal(t, codes.Error, check.Status.Code)
	require.Equal(t, map[string]any{semconv.AccountNonceKey: int64(1), semconv.ErrorTypeKey: semconv.ErrorValidation}, attrsOf(check))
	require.Equal(t, codes.Error, add.Status.Code)
}

// A transaction carrying the traceparent of its validate.transaction span
// (same trace as the admission's context) gets its stages under that span.
func TestValidationStagesContinueValidateTransaction(t *testing.T) {
	p, s, g, exp := tracedPool(t)
	tracer := sdktrace.NewTracerProvider().Tracer("test")
	ctx, root := tracer.Start(context.Background(), "request")
	_, validate := tracer.Start(ctx, semconv.SpanValidateTransaction)
	tx := chain.Tx{From: "0xabc", To: "0xdef", Amount: 1, ID: "v", TraceParent: consensus.FormatTraceParent(validate.SpanContext())}
	require.NoError(t, p.Add(ctx, tx, tx.Hash(), s, &g.Consensus))
	spans := exp.GetSpans()
	require.Len(t, spans, 3)
	require.Equal(t, validate.SpanContext().SpanID(), spans[1].Parent.SpanID(), "state_transition under validate.transaction")
	require.Equal(t, spans[1].SpanContext.SpanID(), spans[0].Parent.SpanID())
	require.Equal(t, root.SpanContext().SpanID(), spans[2].Parent.SpanID(), "mempool.add stays under the request")

	// A traceparent of another trace (a re-admission after a reorg) is not followed.
	exp.Reset()
	other := chain.Tx{From: "0xabc", To: "0xdef", Amount: 1, ID: "o", TraceParent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
	require.NoError(t, p.Add(ctx, other, other.Hash(), s, &g.Consensus))
	spans = exp.GetSpans()
	require.Equal(t, spans[2].SpanContext.SpanID(), spans[1].Parent.SpanID(), "under mempool.add")
}

func within(t *testing.T, child, parent tracetest.SpanStub) {
	t.Helper()
	require.False(t, child.StartTime.Before(parent.StartTime), "%s starts inside %s", child.Name, parent.Name)
	require.False(t, child.EndTime.After(parent.EndTime), "%s ends inside %s", child.Name, parent.Name)
	require.False(t, child.EndTime.Before(child.StartTime))
}

func attrsOf(s tracetest.SpanStub) map[string]any {
	m := map[string]any{}
	for _, kv := range s.Attributes {
		m[string(kv.Key)] = kv.Value.AsInterface()
	}
	return m
}
