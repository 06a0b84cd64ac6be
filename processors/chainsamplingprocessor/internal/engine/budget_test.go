package engine

import (
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/sampling"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/chainotel/chainotel/processors/chainsamplingprocessor/internal/gen"
)

// singleSpans is one batch of n single-span traces.
func singleSpans(g *gen.Generator, n int) ptrace.Traces {
	td := ptrace.NewTraces()
	ss := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty()
	for range n {
		s := ss.Spans().AppendEmpty()
		s.SetTraceID(g.TraceID())
		s.SetParentSpanID(pcommon.SpanID{1})
	}
	return td
}

func TestBudgetFollowsIncomingSpans(t *testing.T) {
	e := newEngine(t, Config{DecisionWait: 10 * time.Second, MaxSpansPerSecond: 100}, "rules: [{name: all, keep: 0.5}]")
	g := gen.New(gen.Default(8))
	_, err := e.Ingest(singleSpans(g, 100), t0)
	require.NoError(t, err)
	_, err = e.Tick(t0) // opens the budget window
	require.NoError(t, err)
	_, err = e.Tick(t0.Add(10 * time.Second)) // the 100 traces are decided: 50 spans wanted
	require.NoError(t, err)
	require.Equal(t, 1.0, e.Stats().Scale, "kept spans alone are within the budget")

	// A surge arrives: 10000 traces a second for two seconds, none of them
	// decided yet. The spans decided in the window do not show it; the
	// incoming ones do, and the scale falls before the first is decided.
	_, err = e.Ingest(singleSpans(g, 100), t0.Add(11*time.Second))
	require.NoError(t, err)
	_, err = e.Ingest(singleSpans(g, 20_000), t0.Add(11*time.Second))
	require.NoError(t, err)
	_, err = e.Tick(t0.Add(12 * time.Second))
	require.NoError(t, err)
	// 20100 spans in at the last wanted share, 0.5, against 200 spans of budget
	// over the two-second window.
	require.InDelta(t, 200.0/10_050, e.Stats().Scale, 1e-9)
}

func TestBudgetShedsUnderMemoryPressure(t *testing.T) {
	g := gen.New(gen.Default(9))
	batch := singleSpans(g, 1000)
	probe := newEngine(t, Config{}, "rules: [{name: all, keep: 1}]")
	_, err := probe.Ingest(batch, t0)
	require.NoError(t, err)
	held := probe.Stats().Bytes

	// The batch fills 80% of max_bytes: the scale falls to (1-0.8)/(1-0.5).
	e := newEngine(t, Config{DecisionWait: 10 * time.Second, MaxBytes: held * 10 / 8, MaxSpansPerSecond: 1 << 20},
		"rules: [{name: errors, match: {error: true}, keep: 1, always: true}, {name: all, keep: 0.5}]")
	_, err = e.Tick(t0)
	require.NoError(t, err)
	_, err = e.Ingest(batch, t0)
	require.NoError(t, err)
	_, err = e.Tick(t0.Add(time.Second))
	require.NoError(t, err)
	require.InDelta(t, 0.4, e.Stats().Scale, 0.01, "80%% of max_bytes held")

	// Once decided, the memory is free and the scale is back to 1.
	_, err = e.Tick(t0.Add(10 * time.Second))
	require.NoError(t, err)
	_, err = e.Tick(t0.Add(11 * time.Second))
	require.NoError(t, err)
	require.Equal(t, 1.0, e.Stats().Scale)
}

// TestScaledThresholdIsHonest checks that under load shedding the threshold
// written on kept spans is the one that decided: every trace with randomness
// above it is kept and every other dropped, and its probability is the
// rule's keep times the scale.
func TestScaledThresholdIsHonest(t *testing.T) {
	e := newEngine(t, Config{DecisionWait: time.Second, MaxSpansPerSecond: 100}, "rules: [{name: all, keep: 0.5}]")
	g := gen.New(gen.Default(10))
	at := t0
	for range 3 { // two windows of 20000 spans wanted 10000: the scale settles at 1/50
		feed(t, e, g, at, 20_000)
		at = at.Add(2 * time.Second)
	}
	scale := e.Stats().Scale
	require.InDelta(t, 200.0/10_000, scale, 1e-9)

	td := singleSpans(g, 20_000)
	_, err := e.Ingest(td, at)
	require.NoError(t, err)
	out, err := e.Tick(at.Add(time.Second))
	require.NoError(t, err)

	kept := traceIDs(out)
	var th sampling.Threshold
	forEachSpan(out, func(_ ptrace.ResourceSpans, _ ptrace.ScopeSpans, s ptrace.Span) {
		w3c, err := sampling.NewW3CTraceState(s.TraceState().AsRaw())
		require.NoError(t, err)
		got, ok := w3c.OTelValue().TValueThreshold()
		require.True(t, ok, "a kept span carries ot=th")
		if th == (sampling.Threshold{}) {
			th = got
		}
		require.Equal(t, th, got, "one threshold for the window")
	})
	require.NotEmpty(t, kept)
	require.InDelta(t, 0.5*scale, th.Probability(), 1e-4, "the threshold written is the probability used")
	forEachSpan(td, func(_ ptrace.ResourceSpans, _ ptrace.ScopeSpans, s ptrace.Span) {
		_, isKept := kept[s.TraceID()]
		require.Equal(t, th.ShouldSample(sampling.TraceIDToRandomness(s.TraceID())), isKept,
			"trace %s decided by another threshold than the one written", s.TraceID())
	})
}
