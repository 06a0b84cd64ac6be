package mempool

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/chainotel/chainotel/node/chain"
	"github.com/chainotel/chainotel/node/store"
	"github.com/chainotel/chainotel/semconv"
)

func TestAddTracesAndAddUntracedDoesNot(t *testing.T) {
	s, err := store.Open(t.TempDir(), nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	g := chain.DevGenesis([]string{"node0"}, time.Unix(1_700_000_000, 0))
	require.NoError(t, s.InitGenesis(g))
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	p := New(10, tp.Tracer("test"))
	ctx := context.Background()

	traced := chain.Tx{From: "0xabc", To: "0xdef", Amount: 1, ID: "traced"}
	require.NoError(t, p.Add(ctx, traced, traced.Hash(), s, &g.Consensus))
	quiet := chain.Tx{From: "0xabc", To: "0xdef", Amount: 1, ID: "quiet"}
	require.NoError(t, p.AddUntraced(ctx, quiet, quiet.Hash(), s, &g.Consensus))
	bad := chain.Tx{From: "0xabc", To: "0xdef", Amount: 1, Nonce: new(uint64), ID: "bad"} // nonce 0 is taken by the pending ones
	require.ErrorIs(t, p.AddUntraced(ctx, bad, bad.Hash(), s, &g.Consensus), chain.ErrBadNonce, "untraced still validates")
	require.Equal(t, 2, p.Len())

	var names []string
	for _, sp := range exp.GetSpans() {
		names = append(names, sp.Name)
	}
	require.ElementsMatch(t, []string{semconv.SpanMempoolAdd, semconv.SpanValidateStateTransition}, names,
		"only the traced admission made spans")
}
