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
	require.ElementsMatch(t, []string{semconv.SpanMempoolAdd, semconv.SpanValidateStateTransition}, names,
		"only the traced admission made spans")
}

// The state-transition check runs under the pool's lock, its span is made
// after it: it must still be mempool.add's child, inside its time, with the
// check's outcome.
func TestStateTransitionSpanIsInsideMempoolAdd(t *testing.T) {
	p, s, g, exp := tracedPool(t)

	ok := chain.Tx{From: "0xabc", To: "0xdef", Amount: 1, ID: "ok"}
	require.NoError(t, p.Add(context.Background(), ok, ok.Hash(), s, &g.Consensus))
	bad := chain.Tx{From: "0xabc", To: "0xdef", Amount: 1, Nonce: new(uint64), ID: "bad"} // nonce 0 is pending
	require.ErrorIs(t, p.Add(context.Background(), bad, bad.Hash(), s, &g.Consensus), chain.ErrBadNonce)

	spans := exp.GetSpans()
	require.Len(t, spans, 4)
	for i, wantErr := range []bool{false, true} {
		check, add := spans[2*i], spans[2*i+1] // a child ends before its parent
		require.Equal(t, semconv.SpanValidateStateTransition, check.Name)
		require.Equal(t, semconv.SpanMempoolAdd, add.Name)
		require.Equal(t, add.SpanContext.SpanID(), check.Parent.SpanID())
		require.False(t, check.StartTime.Before(add.StartTime), "starts inside mempool.add")
		require.False(t, check.EndTime.After(add.EndTime), "ends inside mempool.add")
		require.False(t, check.EndTime.Before(check.StartTime))
		attrs := map[string]any{}
		for _, kv := range append(check.Attributes, add.Attributes...) {
			attrs[string(kv.Key)] = kv.Value.AsInterface()
		}
		require.Equal(t, int64(i), attrs[semconv.AccountNonceKey], "nonce with the pending transactions")
		require.Equal(t, int64(i), attrs[semconv.MempoolSizeKey])
		if wantErr {
			require.Equal(t, codes.Error, check.Status.Code)
			require.Equal(t, semconv.ErrorValidation, attrs[semconv.ErrorTypeKey])
			require.Equal(t, codes.Error, add.Status.Code)
		} else {
			require.Equal(t, codes.Unset, check.Status.Code)
		}
	}
}
