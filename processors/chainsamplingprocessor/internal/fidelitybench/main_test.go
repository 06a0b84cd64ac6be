package main

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/chainotel/chainotel/processors/chainsamplingprocessor/internal/match"
	"github.com/chainotel/chainotel/processors/chainsamplingprocessor/internal/policy"
)

type noIntern struct{}

func (noIntern) Intern(s string) string { return s }

// Every generated trace is decided by its class's rule of the estimates
// policy, and the truth the generator reports is what it sent.
func TestClassesMatchTheirRules(t *testing.T) {
	pol, err := policy.Parse("estimates.yaml", []byte(estimatesPolicy))
	require.NoError(t, err)
	for _, text := range []string{budgetPolicy, scaleOutPolicy} {
		_, err := policy.Parse("policy.yaml", []byte(text))
		require.NoError(t, err)
	}
	g := newGenerator(1, [classes]float64{0.25, 0.25, 0.25, 0.25})
	byNode, truth := g.batch(2000)
	sums := map[pcommon.TraceID]*match.Summary{}
	got := map[pcommon.TraceID]traceInfo{}
	for i, td := range byNode {
		rs := td.ResourceSpans().At(0)
		spans := rs.ScopeSpans().At(0).Spans()
		for j := range spans.Len() {
			s := spans.At(j)
			sum := sums[s.TraceID()]
			if sum == nil {
				sum = &match.Summary{}
				sums[s.TraceID()] = sum
			}
			sum.AddResource(&pol.Keys, rs.Resource(), noIntern{})
			sum.AddSpan(&pol.Keys, s, noIntern{}, pol.HeightSlot, pol.HeadSlot, nil)
			info := got[s.TraceID()]
			info.spans++
			info.nodes |= 1 << i
			got[s.TraceID()] = info
		}
	}
	require.Len(t, sums, len(truth))
	perClass := map[class]int{}
	for id, want := range truth {
		rule := pol.Rules[pol.First(sums[id], match.Env{})].Name
		require.Equal(t, ruleOf[want.class], rule, "trace %s of class %d", id, want.class)
		require.Equal(t, want.spans, got[id].spans)
		require.Equal(t, want.nodes, got[id].nodes)
		perClass[want.class]++
	}
	require.Len(t, perClass, int(classes), "every class is drawn")
}

func TestFaultSpanIsAnError(t *testing.T) {
	td, id := newGenerator(1, [classes]float64{0, 0, 0, 1}).faultSpan()
	s := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
	require.Equal(t, id, s.TraceID())
	require.Equal(t, ptrace.StatusCodeError, s.Status().Code())
}
