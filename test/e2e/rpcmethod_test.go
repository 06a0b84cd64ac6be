//go:build integration

package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/chainotel/chainotel/internal/otlpsink"
	"github.com/chainotel/chainotel/node/p2p"
	"github.com/chainotel/chainotel/processors/chainsamplingprocessor/preview"
	"github.com/chainotel/chainotel/semconv"
)

// forwardOnly keeps the traces with a Forward RPC, by its bare method name,
// and nothing else.
const forwardOnly = `rules:
  - name: forward
    match: {rpc_method: Forward}
    keep: 1
  - name: default
    keep: 0
`

// livePreview asks the collector's chainpolicypreview for the live policy's
// figures.
func livePreview(p *pair) (preview.Report, error) {
	var rep preview.Report
	resp, err := httpClient().Get(p.col.PolicyPreviewURL)
	if err != nil {
		return rep, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return rep, fmt.Errorf("GET %s: %s", p.col.PolicyPreviewURL, resp.Status)
	}
	return rep, json.NewDecoder(resp.Body).Decode(&rep)
}

// TestRPCMethodRuleKeepsAForwardedTransaction: with a policy that keeps only
// traces with a Forward RPC, a transaction posted to a follower (which
// forwards it to the leader over gRPC) is kept whole at the sink, by that
// rule.
func TestRPCMethodRuleKeepsAForwardedTransaction(t *testing.T) {
	p := startPair(t)
	writeAtomically(t, p.policy, forwardOnly)
	// The preview shows the policy in force: wait for the edit to be it.
	p.sink.WaitFor(t, policyWithin, "the forward-only policy in force", func() error {
		rep, err := livePreview(p)
		if err != nil {
			return err
		}
		if len(rep.Rules) == 0 || rep.Rules[0].Name != "forward" {
			return fmt.Errorf("live rules %+v", rep.Rules)
		}
		return nil
	})

	tid := newTraceID()
	postTx(t, p.follower, tid, 7)
	var spans []otlpsink.Span
	var client, srv *otlpsink.Span
	p.sink.WaitFor(t, traceWithin, "the forwarded transaction's trace with both Forward spans", func() error {
		spans = p.sink.Trace(tid)
		client, srv = nil, nil
		for i, s := range spans {
			if m, _ := s.Attr(semconv.RPCMethodKey); m != p2p.ServiceName+"/Forward" {
				continue
			}
			switch {
			case s.Kind() == ptrace.SpanKindClient && instance(s) == p.follower.ID:
				client = &spans[i]
			case s.Kind() == ptrace.SpanKindServer && instance(s) == p.leader.ID:
				srv = &spans[i]
			}
		}
		if client == nil || srv == nil {
			return fmt.Errorf("no Forward client span of %s and server span of %s with rpc.method %s/Forward:%s",
				p.follower.ID, p.leader.ID, p2p.ServiceName, describe(spans))
		}
		return nil
	})
	for _, s := range spans {
		if rule, _ := s.Attr(semconv.SamplingRuleKey); rule != "forward" {
			t.Errorf("%s %s on %s: sampling.rule %q, want forward", s.Name(), s.Kind(), instance(s), rule)
		}
	}

	// The preview, through the collector: the rule decided traces and the
	// default rule keeps none.
	rep, err := livePreview(p)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rules[0].Matched == 0 || rep.Rules[1].KeptTraces != 0 {
		t.Errorf("preview of the live policy: %+v", rep.Rules)
	}
}
