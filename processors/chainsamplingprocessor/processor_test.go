package chainsamplingprocessor

import (
	"math"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/sampling"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/chainotel/chainotel/processors/chainsamplingprocessor/internal/gen"
	"github.com/chainotel/chainotel/semconv"
)

const errorsAndTenth = `
rules:
  - name: errors
    match: {error: true}
    keep: 1
    always: true
  - name: default
    keep: 0.1
`

func TestDecidesAfterWaitAndStampsKeptSpans(t *testing.T) {
	h, _ := newHarness(t, `
rules:
  - name: errors
    match: {error: true}
    keep: 1
  - name: default
    keep: 0
`, func(c *Config) { c.DecisionWait = 50 * time.Millisecond })

	h.send(spans(t,
		spanSpec{id: 1, root: true}, spanSpec{id: 1, err: true},
		spanSpec{id: 2, root: true}, spanSpec{id: 2}))

	require.Eventually(t, func() bool { return h.sink.SpanCount() == 2 }, waitFor, 5*time.Millisecond)
	got := h.kept()
	require.Len(t, got[traceID(1)], 2, "both spans of the error trace are kept")
	for _, s := range got[traceID(1)] {
		require.Equal(t, "errors", attr(s, semconv.SamplingRuleKey))
		require.Equal(t, "ot=th:0", s.TraceState().AsRaw(), "keep 1 is threshold 0, adjusted count 1")
	}
	h.shutdown()
	require.NotContains(t, h.kept(), traceID(2), "the default rule keeps nothing")
	require.Equal(t, int64(2), h.counter("otelcol_processor_chainsampling_traces_decided"))
}

func TestRootEndedDecidesEarly(t *testing.T) {
	h, _ := newHarness(t, errorsAndTenth, func(c *Config) {
		c.DecisionWaitAfterRoot = 20 * time.Millisecond
	})
	h.send(spans(t, spanSpec{id: 3, err: true}))             // no root yet: waits an hour
	h.send(spans(t, spanSpec{id: 4, err: true, root: true})) // root ended: decided soon
	require.Eventually(t, func() bool { return len(h.kept()[traceID(4)]) == 1 }, waitFor, 5*time.Millisecond)
	require.NotContains(t, h.kept(), traceID(3))
	h.shutdown()
	require.Contains(t, h.kept(), traceID(3), "shutdown decides buffered traces instead of losing them")
}

// decisions runs ids through a fresh processor, one single-span trace each,
// and returns the kept ones.
func decisions(t *testing.T, ids []pcommon.TraceID) map[pcommon.TraceID]ptrace.Span {
	h, _ := newHarness(t, errorsAndTenth, nil)
	const batch = 2000
	for start := 0; start < len(ids); start += batch {
		td := ptrace.NewTraces()
		ss := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty()
		for _, id := range ids[start:min(start+batch, len(ids))] {
			s := ss.Spans().AppendEmpty()
			s.SetTraceID(id)
			s.SetSpanID(pcommon.SpanID{1})
			s.SetName(semconv.SpanBlockApply)
		}
		h.send(td)
	}
	h.shutdown()
	out := map[pcommon.TraceID]ptrace.Span{}
	for id, ss := range h.kept() {
		require.Len(t, ss, 1)
		out[id] = ss[0]
	}
	return out
}

func TestConsistentDecisionsAndKeptFraction(t *testing.T) {
	const n = 100_000
	g := gen.New(gen.Default(42))
	ids := make([]pcommon.TraceID, n)
	for i := range ids {
		ids[i] = g.TraceID()
	}
	a := decisions(t, ids)
	b := decisions(t, ids)

	require.Equal(t, len(a), len(b))
	differ := 0
	for id := range a {
		if _, ok := b[id]; !ok {
			differ++
		}
	}
	require.Zero(t, differ, "two instances with the same policy decide the same way")
	// Binomial(n, 0.1): mean 10000, standard deviation 95. Five deviations
	// is a tolerance a correct sampler fails about once in 3.5 million runs.
	mean, sd := n*0.1, math.Sqrt(n*0.1*0.9)
	require.InDelta(t, mean, float64(len(a)), 5*sd)

	for _, s := range a {
		ts, err := sampling.NewW3CTraceState(s.TraceState().AsRaw())
		require.NoError(t, err)
		require.InDelta(t, 10, ts.OTelValue().AdjustedCount(), 1e-3, "keep 0.1 carries adjusted count 10")
		th, ok := ts.OTelValue().TValueThreshold()
		require.True(t, ok)
		require.True(t, th.ShouldSample(sampling.TraceIDToRandomness(s.TraceID())), "kept only where the trace randomness passes the threshold")
		require.Equal(t, "default", attr(s, semconv.SamplingRuleKey))
	}
}

func TestTraceStateFromUpstream(t *testing.T) {
	h, _ := newHarness(t, errorsAndTenth, nil)
	h.send(spans(t,
		// An upstream sampler kept this trace at 1%: keeping it at 100%
		// must not raise its probability back.
		spanSpec{id: 10, err: true, traceState: "ot=th:fd70a4;rv:ffffffffffffff"},
		// rv in tracestate is the trace's randomness: the highest value
		// passes every threshold, the lowest none but 100%.
		spanSpec{id: 11, traceState: "ot=rv:ffffffffffffff,vendor=x"},
		spanSpec{id: 12, traceState: "ot=rv:00000000000000"},
	))
	h.shutdown()
	got := h.kept()
	require.Equal(t, "ot=th:fd70a4;rv:ffffffffffffff", got[traceID(10)][0].TraceState().AsRaw())
	require.Len(t, got[traceID(11)], 1)
	require.Equal(t, "ot=rv:ffffffffffffff;th:e666,vendor=x", got[traceID(11)][0].TraceState().AsRaw())
	require.NotContains(t, got, traceID(12))
}

func TestLateSpansFollowTheDecision(t *testing.T) {
	h, _ := newHarness(t, `
rules:
  - name: errors
    match: {error: true}
    keep: 1
  - name: default
    keep: 0
`, func(c *Config) { c.DecisionWait = 20 * time.Millisecond })
	h.send(spans(t, spanSpec{id: 20, err: true, root: true}, spanSpec{id: 21, root: true}))
	// The counter moves before the kept trace reaches the sink: wait for both.
	require.Eventually(t, func() bool {
		return h.counter("otelcol_processor_chainsampling_traces_decided") == 2 && h.sink.SpanCount() == 1
	}, waitFor, 5*time.Millisecond)

	// Late spans pass through (or not) at once, with the cached decision.
	h.send(spans(t, spanSpec{id: 20, name: "late.kept"}, spanSpec{id: 21, name: "late.dropped"}))
	require.Equal(t, 2, h.sink.SpanCount())
	late := h.kept()[traceID(20)]
	require.Len(t, late, 2)
	require.Equal(t, "late.kept", late[1].Name())
	require.Equal(t, "errors", attr(late[1], semconv.SamplingRuleKey))
	require.Equal(t, "ot=th:0", late[1].TraceState().AsRaw())
	require.Equal(t, int64(2), h.counter("otelcol_processor_chainsampling_late_spans"))
}

func TestBoundsDecideOldestEarlyNeverDrop(t *testing.T) {
	h, _ := newHarness(t, `
rules:
  - name: all
    keep: 1
`, func(c *Config) {
		c.MaxTraces = 100
		c.MaxBytes = 64 << 10
	})
	g := gen.New(gen.Default(7))
	const batches, perBatch = 50, 40
	sent := 0
	for range batches {
		td := g.Batch(perBatch)
		sent += td.SpanCount()
		h.send(td)
	}
	// Nothing is decided by time (the wait is an hour): every kept span so
	// far was decided early to respect max_traces and max_bytes.
	early := h.counter("otelcol_processor_chainsampling_traces_decided_early")
	require.GreaterOrEqual(t, early, int64(batches*perBatch-100))
	require.Positive(t, h.sink.SpanCount())
	h.shutdown()
	require.Equal(t, sent, h.sink.SpanCount(), "every span of every trace was kept: none was dropped undecided")
}
