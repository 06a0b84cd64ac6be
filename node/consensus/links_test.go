package consensus

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/chainotel/chainotel/node/chain"
)

// The hand-rolled traceparent parsing must agree with the propagator it
// replaces on everything a version-00 traceparent can be.
func TestParseTraceParentAgreesWithThePropagator(t *testing.T) {
	for _, s := range []string{
		"00-4bf92f3577b34da6a3ce929e0e4736aa-00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929e0e4736aa-00f067aa0ba902b7-00",
		"00-4bf92f3577b34da6a3ce929e0e4736aa-00f067aa0ba902b7-03", // reserved bit set
		"00-00000000000000000000000000000000-00f067aa0ba902b7-01", // zero trace id
		"00-4bf92f3577b34da6a3ce929e0e4736aa-0000000000000000-01", // zero span id
		"00-4bf92f3577b34da6a3ce929e0e4736a-00f067aa0ba902b7-01",  // short trace id
		"00-4bf92f3577b34da6a3ce929e0e4736aa-00f067aa0ba902b7-1",  // short flags
		"00-4bf92f3577b34da6a3ce929e0e4736zz-00f067aa0ba902b7-01", // not hex
		"00-4bf92f3577b34da6a3ce929e0e4736aa-00f067aa0ba902b7-zz",
		"ff-4bf92f3577b34da6a3ce929e0e4736aa-00f067aa0ba902b7-01", // forbidden version
		"00-4bf92f3577b34da6a3ce929e0e4736aa-00f067aa0ba902b7",
		"", "-", "00---", "garbage",
	} {
		want := trace.SpanContextFromContext(propagation.TraceContext{}.Extract(context.Background(),
			propagation.MapCarrier{"traceparent": s}))
		got, ok := ParseTraceParent(s)
		require.Equal(t, want.IsValid(), ok, "%q", s)
		if ok {
			require.True(t, want.Equal(got), "%q: propagator %v, parsed %v", s, want, got)
		}
	}
}

func TestFormatTraceParentIsWhatThePropagatorInjects(t *testing.T) {
	for _, flags := range []trace.TraceFlags{0, trace.FlagsSampled, trace.FlagsSampled | trace.FlagsRandom, 0x80} {
		sc := trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: trace.TraceID{0x4b, 0xf9, 1}, SpanID: trace.SpanID{0, 0xf0, 2}, TraceFlags: flags})
		carrier := propagation.MapCarrier{}
		propagation.TraceContext{}.Inject(trace.ContextWithSpanContext(context.Background(), sc), carrier)
		require.Equal(t, carrier["traceparent"], FormatTraceParent(sc))
		back, ok := ParseTraceParent(FormatTraceParent(sc))
		require.True(t, ok)
		require.True(t, sc.WithRemote(true).WithTraceFlags(flags&knownFlags).Equal(back))
	}
	require.Empty(t, FormatTraceParent(trace.SpanContext{}))
}

func TestTxLinksSkipsTransactionsWithoutContextAndStopsAtMax(t *testing.T) {
	tp := func(i byte) string {
		return FormatTraceParent(trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: trace.TraceID{i, 1}, SpanID: trace.SpanID{i, 2}, TraceFlags: trace.FlagsSampled}))
	}
	txs := []chain.Tx{{TraceParent: tp(1)}, {}, {TraceParent: "garbage"}, {TraceParent: tp(2)}, {TraceParent: tp(3)}}
	links := TxLinks(txs, 2)
	require.Len(t, links, 2)
	require.Equal(t, trace.TraceID{1, 1}, links[0].SpanContext.TraceID())
	require.Equal(t, trace.TraceID{2, 1}, links[1].SpanContext.TraceID())
	require.Len(t, TxLinks(txs, 10), 3)
}
