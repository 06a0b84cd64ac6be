package engine

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"

	"github.com/chainotel/chainotel/processors/chainsamplingprocessor/internal/metadata"
	"github.com/chainotel/chainotel/processors/chainsamplingprocessor/internal/policy"
	"github.com/chainotel/chainotel/processors/chainsamplingprocessor/preview"
	"github.com/chainotel/chainotel/semconv"
)

// newPreviewEngine is an engine remembering n decided traces, deciding
// each trace 2 s after its first span, driven through the trigger tests'
// helpers.
func newPreviewEngine(t *testing.T, n int, pol string) *trigEngine {
	t.Helper()
	p, err := policy.Parse("live.yaml", []byte(pol))
	require.NoError(t, err)
	tb, err := metadata.NewTelemetryBuilder(componenttest.NewNopTelemetrySettings())
	require.NoError(t, err)
	e, err := New(Config{DecisionWait: 2 * time.Second, MaxTraces: 1 << 10, MaxBytes: 1 << 24,
		DecisionCacheSize: 1 << 10, PreviewTraces: n}, p, tb)
	require.NoError(t, err)
	return &trigEngine{Engine: e}
}

func mustParse(t *testing.T, file, pol string) *policy.Policy {
	t.Helper()
	p, err := policy.Parse(file, []byte(pol))
	require.NoError(t, err)
	return p
}

func TestRecentRingIsBounded(t *testing.T) {
	const s = time.Second
	e := newPreviewEngine(t, 3, "rules: [{name: all, keep: 1}]")
	for i := range 5 {
		spans := make([]span, i+1) // trace i has i+1 spans
		for j := range spans {
			spans[j] = span{trace: uint64(i + 1)}
		}
		e.ingest(t, time.Duration(i)*s, spans...)
		e.tick(t, time.Duration(i+2)*s)
	}
	recent := e.Recent()
	require.Len(t, recent, 3, "the ring holds preview_traces traces")
	for k, r := range recent {
		require.Equal(t, k+3, r.Spans, "the newest three, oldest first")
		require.Equal(t, t0.Add(time.Duration(k+4)*s).UnixNano(), r.At)
	}

	off := newPreviewEngine(t, 0, "rules: [{name: all, keep: 1}]")
	off.ingest(t, 0, span{trace: 1})
	off.tick(t, 2*s)
	require.Empty(t, off.Recent(), "preview_traces 0 remembers nothing")
}

const livePolicy = `
rules:
  - name: commits
    match: {span_name: consensus.commit}
    keep: 1
  - name: transfers
    match: {tx_type: transfer}
    keep: 0.5
  - name: default
    keep: 0.1
`

// knownTraces decides, one a second over 9 s, one commit trace of 3 spans,
// four transfer traces of 2 spans and five other traces of 1 span.
func knownTraces(t *testing.T, e *trigEngine) {
	t.Helper()
	const s = time.Second
	transfer := map[string]any{semconv.TxTypeKey: "transfer"}
	for i := range 10 {
		id := uint64(i + 1)
		var spans []span
		switch {
		case i == 0:
			spans = []span{{trace: id, name: semconv.SpanConsensusCommit}, {trace: id}, {trace: id}}
		case i <= 4:
			spans = []span{{trace: id, attrs: transfer}, {trace: id}}
		default:
			spans = []span{{trace: id}}
		}
		e.ingest(t, time.Duration(i)*s, spans...)
		e.tick(t, time.Duration(i+2)*s)
	}
	require.Len(t, e.Recent(), 10)
}

func rule(rep preview.Report, name string) preview.Rule {
	for _, r := range rep.Rules {
		if r.Name == name {
			return r
		}
	}
	return preview.Rule{}
}

func TestEvaluateKnownTraces(t *testing.T) {
	e := newPreviewEngine(t, 100, livePolicy)
	knownTraces(t, e)
	live := e.Policy()
	recent := e.Recent()

	rep := Evaluate(recent, live, live)
	require.Equal(t, 10, rep.Traces)
	require.Equal(t, int64(3+4*2+5), rep.Spans)
	require.InDelta(t, 9, rep.WindowSeconds, 1e-9, "decisions from 2 s to 11 s")
	require.Equal(t, preview.Rule{Name: "commits", Keep: 1, Matched: 1, KeptTraces: 1, KeptSpans: 3,
		TracesPerSecond: 1.0 / 9, SpansPerSecond: 3.0 / 9}, rule(rep, "commits"))
	tr := rule(rep, "transfers")
	require.Equal(t, 4, tr.Matched)
	require.InDelta(t, 2, tr.KeptTraces, 1e-9, "four traces at keep 0.5")
	require.InDelta(t, 4, tr.KeptSpans, 1e-9)
	def := rule(rep, "default")
	require.Equal(t, 5, def.Matched)
	require.InDelta(t, 0.5, def.KeptTraces, 1e-9)
	require.InDelta(t, 3.5, rep.KeptTraces, 1e-9)
	require.InDelta(t, 3.5/9, rep.TracesPerSecond, 1e-9)
	require.InDelta(t, 7.5/9, rep.SpansPerSecond, 1e-9)
	require.Empty(t, rep.Unrecorded)

	// Keeping more: every transfer, and more of the rest.
	more := Evaluate(recent, mustParse(t, "more.yaml", `
rules:
  - {name: commits, match: {span_name: consensus.commit}, keep: 1}
  - {name: transfers, match: {tx_type: transfer}, keep: 1}
  - {name: default, keep: 0.2}
`), live)
	require.Equal(t, "more.yaml", more.File)
	require.InDelta(t, 4, rule(more, "transfers").KeptTraces, 1e-9)
	require.InDelta(t, 8, rule(more, "transfers").KeptSpans, 1e-9)
	require.InDelta(t, 1, rule(more, "default").KeptTraces, 1e-9)
	require.Greater(t, more.TracesPerSecond, rep.TracesPerSecond)

	// Keeping less: commits dropped, so the commit trace falls to default.
	less := Evaluate(recent, mustParse(t, "less.yaml", `
rules:
  - {name: transfers, match: {tx_type: transfer}, keep: 0.25}
  - {name: default, keep: 0.1}
`), live)
	require.InDelta(t, 1, rule(less, "transfers").KeptTraces, 1e-9)
	require.Equal(t, 6, rule(less, "default").Matched)
	require.InDelta(t, 0.8, rule(less, "default").KeptSpans, 1e-9, "(3+5 spans) at 0.1")
	require.Less(t, less.SpansPerSecond, rep.SpansPerSecond)

	// A rate_limit caps what a rule keeps: 0.2/s over 9 s.
	capped := Evaluate(recent, mustParse(t, "capped.yaml", `
rules:
  - {name: transfers, match: {tx_type: transfer}, keep: 1, rate_limit: 0.2}
  - {name: default, keep: 0}
`), live)
	require.True(t, rule(capped, "transfers").RateLimited)
	require.InDelta(t, 1.8, rule(capped, "transfers").KeptTraces, 1e-9)
	require.InDelta(t, 3.6, rule(capped, "transfers").KeptSpans, 1e-9)
	require.InDelta(t, 0.2, rule(capped, "transfers").TracesPerSecond, 1e-9)

	// A fact no live rule reads was not recorded: said, and not matched.
	unrec := Evaluate(recent, mustParse(t, "fee.yaml", `
rules:
  - {name: fees, match: {attribute: {key: chain.tx.fee, min: 1}}, keep: 1}
  - {name: transfers, match: {tx_type: transfer}, keep: 1}
  - {name: default, keep: 0}
`), live)
	require.Equal(t, []string{"span attribute chain.tx.fee"}, unrec.Unrecorded)
	require.Zero(t, rule(unrec, "fees").Matched)
	require.Equal(t, 4, rule(unrec, "transfers").Matched, "the recorded facts are read in the candidate's slots")
}

func TestEvaluateReplaysTriggers(t *testing.T) {
	const s = time.Second
	trig := `
triggers:
  - name: timeout
    on: {error_type: consensus_timeout}
    window: 10s
    scope: chain
`
	e := newPreviewEngine(t, 100, trig+dropAll)
	timeout := map[string]any{semconv.ErrorTypeKey: semconv.ErrorConsensusTimeout}
	e.ingest(t, 0, span{trace: 1, node: "node1", attrs: timeout})
	e.ingest(t, 1*s, span{trace: 2, node: "node2"}, span{trace: 2, node: "node1"})
	require.Len(t, e.tick(t, 4*s), 2)
	e.ingest(t, 20*s, span{trace: 3, node: "node1"}) // after the window
	require.Empty(t, e.tick(t, 22*s))
	recent, live := e.Recent(), e.Policy()
	require.Len(t, recent, 3)

	rep := Evaluate(recent, live, live)
	require.Equal(t, []preview.Trigger{{Name: "timeout", KeptTraces: 2, KeptSpans: 3,
		TracesPerSecond: 2.0 / 18, SpansPerSecond: 3.0 / 18, Replayed: true}}, rep.Triggers)
	require.Equal(t, 1, rule(rep, "default").Matched, "only the trace after the window reaches the rules")

	// Without the trigger, its traces are decided by the rules.
	without := Evaluate(recent, mustParse(t, "c.yaml", dropAll), live)
	require.Empty(t, without.Triggers)
	require.Equal(t, 3, rule(without, "default").Matched)
	require.Zero(t, without.KeptTraces)

	// A changed trigger has no history to replay.
	changed := Evaluate(recent, mustParse(t, "c.yaml", `
triggers:
  - name: timeout
    on: {error_type: consensus_timeout}
    window: 1m
    scope: chain
`+dropAll), live)
	require.Equal(t, []preview.Trigger{{Name: "timeout"}}, changed.Triggers)
	require.Equal(t, 3, rule(changed, "default").Matched)
}
