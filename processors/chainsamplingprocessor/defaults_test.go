package chainsamplingprocessor

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/chainotel/chainotel/processors/chainsamplingprocessor/internal/gen"
	"github.com/chainotel/chainotel/semconv"
)

// TestDefaultPoliciesOnChainTraffic runs the shipped policy file over
// generated chain traffic and checks each rule does what its comment says.
func TestDefaultPoliciesOnChainTraffic(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.PolicyFile = filepath.Join("..", "..", "collector", "sampling-policies.yaml")
	h := startHarness(t, cfg)

	g := gen.New(gen.Default(11))
	type facts struct {
		err, health, consensus bool
		spans                  int
	}
	sent := map[pcommon.TraceID]*facts{}
	for range 200 {
		td := g.Batch(25)
		forEach(td, func(s ptrace.Span) {
			f := sent[s.TraceID()]
			if f == nil {
				f = &facts{}
				sent[s.TraceID()] = f
			}
			f.spans++
			f.err = f.err || s.Status().Code() == ptrace.StatusCodeError
			f.health = f.health || attr(s, semconv.HTTPRouteKey) == "/health"
			f.consensus = f.consensus || s.Name() == semconv.SpanConsensusCommit
		})
		h.send(td)
	}
	h.shutdown()

	kept := h.kept()
	byRule := map[string]int{}
	for id, f := range sent {
		spans := kept[id]
		if len(spans) > 0 {
			require.Len(t, spans, f.spans, "a trace is kept whole")
			byRule[attr(spans[0], semconv.SamplingRuleKey)]++
		}
		switch {
		case f.err:
			require.NotEmpty(t, spans, "every error trace is kept")
			require.Equal(t, "errors", attr(spans[0], semconv.SamplingRuleKey))
		case f.health:
			require.Empty(t, spans, "health scrapes are not kept")
		}
	}
	// The generator's heights climb about one block every two traces, so
	// only the last couple of hundred consensus traces are near the head.
	require.Positive(t, byRule["consensus-near-head"])
	require.Less(t, byRule["consensus-near-head"], 400)
	require.Positive(t, byRule["transfers"])
	require.Positive(t, byRule["errors"])
	require.Zero(t, byRule["trigger:faults"], "the generated errors are refused transactions, which open no window")
}

func forEach(td ptrace.Traces, f func(ptrace.Span)) {
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		sss := rss.At(i).ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			spans := sss.At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				f(spans.At(k))
			}
		}
	}
}
