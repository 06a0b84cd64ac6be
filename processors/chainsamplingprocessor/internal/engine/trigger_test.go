package engine

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/chainotel/chainotel/processors/chainsamplingprocessor/internal/metadata"
	"github.com/chainotel/chainotel/processors/chainsamplingprocessor/internal/policy"
	"github.com/chainotel/chainotel/semconv"
)

// trigEngine is an engine with real telemetry and an observed log, deciding
// 2 s after a trace's first span.
type trigEngine struct {
	*Engine
	tel  *componenttest.Telemetry
	logs *observer.ObservedLogs
}

func newTrigEngine(t *testing.T, pol string) *trigEngine {
	t.Helper()
	p, err := policy.Parse("test.yaml", []byte(pol))
	require.NoError(t, err)
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	tb, err := metadata.NewTelemetryBuilder(tel.NewTelemetrySettings())
	require.NoError(t, err)
	core, logs := observer.New(zapcore.InfoLevel)
	e, err := New(Config{DecisionWait: 2 * time.Second, MaxTraces: 1 << 10, MaxBytes: 1 << 24,
		DecisionCacheSize: 1 << 10, Logger: zap.New(core)}, p, tb)
	require.NoError(t, err)
	return &trigEngine{Engine: e, tel: tel, logs: logs}
}

// span is one hand-made span from node (no service.instance.id when empty).
type span struct {
	trace uint64
	node  string
	name  string
	attrs map[string]any
}

func (e *trigEngine) ingest(t *testing.T, at time.Duration, spans ...span) ptrace.Traces {
	t.Helper()
	td := ptrace.NewTraces()
	for i, sp := range spans {
		rs := td.ResourceSpans().AppendEmpty()
		if sp.node != "" {
			rs.Resource().Attributes().PutStr(semconv.ServiceInstanceIDKey, sp.node)
		}
		s := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
		s.SetTraceID(pcommon.TraceID{15: byte(sp.trace), 14: byte(sp.trace >> 8), 0: 0xee})
		s.SetSpanID(pcommon.SpanID{byte(i + 1)})
		s.SetParentSpanID(pcommon.SpanID{0xff}) // no root: only decision_wait applies
		s.SetName(sp.name)
		if s.Name() == "" {
			s.SetName(semconv.SpanMempoolAdd)
		}
		require.NoError(t, s.Attributes().FromRaw(sp.attrs))
	}
	out, err := e.Ingest(td, t0.Add(at))
	require.NoError(t, err)
	return out
}

// tick decides what is due at t0+at and returns the kept traces' rules.
func (e *trigEngine) tick(t *testing.T, at time.Duration) map[uint64]string {
	t.Helper()
	td, err := e.Tick(t0.Add(at))
	require.NoError(t, err)
	return keptRules(t, td)
}

func keptRules(t *testing.T, td ptrace.Traces) map[uint64]string {
	t.Helper()
	out := map[uint64]string{}
	forEachSpan(td, func(_ ptrace.ResourceSpans, _ ptrace.ScopeSpans, s ptrace.Span) {
		id := s.TraceID()
		rule, _ := s.Attributes().Get(semconv.SamplingRuleKey)
		out[uint64(id[15])|uint64(id[14])<<8] = rule.AsString()
		if strings.HasPrefix(rule.AsString(), "trigger:") {
			require.Equal(t, "ot=th:0", s.TraceState().AsRaw(), "a trigger keeps with probability 1")
		}
	})
	return out
}

func (e *trigEngine) counter(t *testing.T, name, trigger string) int64 {
	t.Helper()
	m, err := e.tel.GetMetric(name)
	require.NoError(t, err)
	var n int64
	for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
		if v, _ := dp.Attributes.Value(attribute.Key(attrTrigger)); v.AsString() == trigger {
			n += dp.Value
		}
	}
	return n
}

func (e *trigEngine) windowsOpen(t *testing.T, trigger string) int64 {
	t.Helper()
	m, err := e.tel.GetMetric("otelcol_processor_chainsampling_trigger_windows_open")
	require.NoError(t, err)
	for _, dp := range m.Data.(metricdata.Gauge[int64]).DataPoints {
		if v, _ := dp.Attributes.Value(attribute.Key(attrTrigger)); v.AsString() == trigger {
			return dp.Value
		}
	}
	t.Fatalf("no windows_open point for trigger %q", trigger)
	return 0
}

const dropAll = `
rules:
  - name: errors
    match: {error: true}
    keep: 1
  - name: default
    keep: 0
`

func TestTriggerErrorTypeKeepsTheNodesTraces(t *testing.T) {
	e := newTrigEngine(t, `
triggers:
  - name: consensus-timeout
    on: {error_type: consensus_timeout}
    window: 10s
    scope: node
`+dropAll)
	const s = time.Second
	timeout := map[string]any{semconv.ErrorTypeKey: semconv.ErrorConsensusTimeout}

	// Decided before the window opens: dropped, and its late span follows.
	e.ingest(t, -3*s, span{trace: 1, node: "node1"})
	require.Empty(t, e.tick(t, -1*s))
	// Buffered when the window opens, on node1 and node2.
	e.ingest(t, 0, span{trace: 2, node: "node1"}, span{trace: 3, node: "node2"})
	// The event, on node1, as the node writes it (no error status needed).
	e.ingest(t, 1*s, span{trace: 4, node: "node1", name: semconv.SpanConsensusTimeout, attrs: timeout})
	require.Len(t, e.logs.FilterMessageSnippet("window opened").All(), 1)
	require.Empty(t, e.ingest(t, 1500*time.Millisecond, span{trace: 1, node: "node1"}).ResourceSpans().Len(),
		"a trace decided before the window opened keeps its decision")
	require.Equal(t, map[uint64]string{2: "trigger:consensus-timeout"}, e.tick(t, 2*s))
	require.Equal(t, int64(1), e.windowsOpen(t, "consensus-timeout"))
	require.Equal(t, map[uint64]string{4: "trigger:consensus-timeout"}, e.tick(t, 3*s))

	// Inside the window: node1's traces are kept, node2's are not; a trace
	// that crosses both nodes touches node1.
	e.ingest(t, 5*s, span{trace: 5, node: "node1"}, span{trace: 6, node: "node2"},
		span{trace: 7, node: "node2"}, span{trace: 7, node: "node1"})
	require.Equal(t, map[uint64]string{5: "trigger:consensus-timeout", 7: "trigger:consensus-timeout"}, e.tick(t, 7*s))

	// After the window (1 s + 10 s): back to the rules; the close is logged.
	e.ingest(t, 12*s, span{trace: 8, node: "node1"})
	require.Empty(t, e.tick(t, 14*s))
	require.Equal(t, int64(0), e.windowsOpen(t, "consensus-timeout"))
	closed := e.logs.FilterMessageSnippet("window closed").All()
	require.Len(t, closed, 1)
	require.Equal(t, "node node1", closed[0].ContextMap()["scope"])
	require.Equal(t, int64(4), e.counter(t, "otelcol_processor_chainsampling_trigger_traces_kept", "consensus-timeout"))
}

func TestTriggerLeaderChangeCoversTheChain(t *testing.T) {
	e := newTrigEngine(t, `
triggers:
  - name: leader-change
    on: {leader_change: true}
    window: 5s
    scope: chain
`+dropAll)
	const s = time.Second
	term := func(n int) map[string]any { return map[string]any{semconv.ConsensusTermKey: n} }

	// The first term seen is where the collector came in: no change.
	e.ingest(t, 0, span{trace: 1, node: "node0", name: semconv.SpanConsensusCommit, attrs: term(3)})
	require.Empty(t, e.tick(t, 2*s))
	// A higher term is a change, and every trace of the chain is kept,
	// even one without a node.
	e.ingest(t, 3*s, span{trace: 2, node: "node1", name: semconv.SpanConsensusCommit, attrs: term(4)}, span{trace: 3})
	require.Equal(t, map[uint64]string{2: "trigger:leader-change", 3: "trigger:leader-change"}, e.tick(t, 5*s))
	// After it closes, a consensus.prevote (a node saw a new leader) opens it again.
	e.ingest(t, 9*s, span{trace: 4, node: "node2"})
	require.Empty(t, e.tick(t, 11*s))
	e.ingest(t, 12*s, span{trace: 5, node: "node2", name: semconv.SpanConsensusPrevote, attrs: term(4)})
	require.Equal(t, map[uint64]string{5: "trigger:leader-change"}, e.tick(t, 14*s))
	require.Len(t, e.logs.FilterMessageSnippet("window opened").All(), 2)
}

func TestTriggerReorgDepth(t *testing.T) {
	e := newTrigEngine(t, `
triggers:
  - name: deep-reorg
    on: {reorg_depth: 2}
    window: 5s
    scope: chain
`+dropAll)
	depth := func(n int) map[string]any { return map[string]any{semconv.PoWReorgDepthKey: n} }
	e.ingest(t, 0, span{trace: 1, node: "node0", name: semconv.SpanPoWReorg, attrs: depth(1)})
	require.Empty(t, e.tick(t, 2*time.Second), "a reorg of one block is below the depth")
	e.ingest(t, 3*time.Second, span{trace: 2, node: "node0", name: semconv.SpanPoWReorg, attrs: depth(2)})
	require.Equal(t, map[uint64]string{2: "trigger:deep-reorg"}, e.tick(t, 5*time.Second))
}

func TestTriggerStallPerNode(t *testing.T) {
	e := newTrigEngine(t, `
triggers:
  - name: stall
    on: {stall: 5s}
    window: 4s
    scope: node
`+dropAll)
	const s = time.Second
	h := func(n int) map[string]any { return map[string]any{semconv.BlockHeightKey: n} }

	e.ingest(t, 0, span{trace: 1, node: "node1", attrs: h(10)}, span{trace: 2, node: "node2", attrs: h(10)})
	e.ingest(t, 3*s, span{trace: 3, node: "node1", attrs: h(11)})
	require.Empty(t, e.tick(t, 4*s), "no stall yet")
	// node2 has stood at 10 for 6 s: its window opens; node1 moved 3 s ago.
	e.tick(t, 6*s)
	require.Equal(t, int64(1), e.windowsOpen(t, "stall"))
	opened := e.logs.FilterMessageSnippet("window opened").All()
	require.Len(t, opened, 1)
	require.Equal(t, "node node2", opened[0].ContextMap()["scope"])
	require.Equal(t, "10", opened[0].ContextMap()["stalled_at_height"])

	e.ingest(t, 7*s, span{trace: 4, node: "node1"}, span{trace: 5, node: "node2"})
	require.Equal(t, map[uint64]string{5: "trigger:stall"}, e.tick(t, 9*s))
	// One window per stall: still stuck after it closed, no second one.
	e.tick(t, 13*s)
	require.Len(t, e.logs.FilterMessageSnippet("window opened").All(), 2, "node1 stood still from 3 s to 8 s")
	require.Equal(t, "node node1", e.logs.FilterMessageSnippet("window opened").All()[1].ContextMap()["scope"])
	e.tick(t, 20*s)
	require.Len(t, e.logs.FilterMessageSnippet("window opened").All(), 2)
	// node2 moves on, then stalls again: a new window.
	e.ingest(t, 21*s, span{trace: 6, node: "node2", attrs: h(12)})
	e.tick(t, 27*s)
	require.Len(t, e.logs.FilterMessageSnippet("window opened").All(), 3)
}

func TestTriggerWindowsSurviveAReload(t *testing.T) {
	src := `
triggers:
  - name: faults
    on: {error_type: [consensus_timeout, p2p_disconnect]}
    window: 10s
    scope: node
` + dropAll
	e := newTrigEngine(t, src)
	e.ingest(t, 0, span{trace: 1, node: "node1", name: semconv.SpanP2PDisconnect,
		attrs: map[string]any{semconv.ErrorTypeKey: semconv.ErrorP2PDisconnect}})
	p, err := policy.Parse("edit.yaml", []byte(src))
	require.NoError(t, err)
	require.NoError(t, e.SetPolicy(p))
	e.ingest(t, time.Second, span{trace: 2, node: "node1"})
	require.Equal(t, map[uint64]string{1: "trigger:faults"}, e.tick(t, 2*time.Second))
	require.Equal(t, map[uint64]string{2: "trigger:faults"}, e.tick(t, 3*time.Second))

	p, err = policy.Parse("edit.yaml", []byte(dropAll))
	require.NoError(t, err)
	require.NoError(t, e.SetPolicy(p))
	e.ingest(t, 4*time.Second, span{trace: 3, node: "node1"})
	require.Empty(t, e.tick(t, 6*time.Second), "the trigger is gone, and its windows with it")
}

func TestResourceOfEveryGroupInABatch(t *testing.T) {
	// One batch, one trace, spans under two nodes' resources: the second
	// group's resource counts too.
	e := newTrigEngine(t, `
rules:
  - name: node2
    match: {resource: {key: service.instance.id, equals: node2}}
    keep: 1
  - name: default
    keep: 0
`)
	e.ingest(t, 0, span{trace: 1, node: "node1"}, span{trace: 1, node: "node2"})
	require.Equal(t, map[uint64]string{1: "node2"}, e.tick(t, 2*time.Second))
}
