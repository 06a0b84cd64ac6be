package chainsamplingprocessor

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chainotel/chainotel/semconv"
)

// TestTriggerThroughTheFactory: a p2p.disconnect span from node0 opens a
// window; node0's other traces are kept at probability 1 and tagged, the
// window is counted and logged.
func TestTriggerThroughTheFactory(t *testing.T) {
	h, _ := newHarness(t, `
triggers:
  - name: faults
    on: {error_type: [consensus_timeout, p2p_disconnect]}
    window: 1h
    scope: node
`+keepErrorsOnly, nil)
	h.send(spans(t, spanSpec{id: 1, root: true, name: semconv.SpanP2PDisconnect,
		attrs: map[string]any{semconv.ErrorTypeKey: semconv.ErrorP2PDisconnect, semconv.PeerIDKey: "node2"}}))
	h.send(spans(t, spanSpec{id: 2, root: true, name: "POST /tx", attrs: map[string]any{semconv.TxTypeKey: semconv.TxTypeTransfer}}))
	h.shutdown()

	kept := h.kept()
	require.Len(t, kept, 2, "the event's own trace and node0's transfer")
	for _, id := range []uint64{1, 2} {
		s := kept[traceID(id)][0]
		require.Equal(t, "trigger:faults", attr(s, semconv.SamplingRuleKey))
		require.Equal(t, "ot=th:0", s.TraceState().AsRaw())
	}
	require.Equal(t, int64(2), h.counterWhere("otelcol_processor_chainsampling_trigger_traces_kept", "trigger", "faults"))
	require.Equal(t, int64(2), h.counterWhere("otelcol_processor_chainsampling_traces_decided", "rule", "trigger:faults"))
	opened := h.logs.FilterMessageSnippet("sampling trigger window opened").All()
	require.Len(t, opened, 1)
	require.Equal(t, "node node0", opened[0].ContextMap()["scope"])
	require.Equal(t, semconv.SpanP2PDisconnect, opened[0].ContextMap()["event"])
}
