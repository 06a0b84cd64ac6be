//go:build integration

package collector

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/chainotel/chainotel/internal/collectorproc"
	"github.com/chainotel/chainotel/internal/otlpsink"
	"github.com/chainotel/chainotel/internal/testproc"
	"github.com/chainotel/chainotel/semconv"
)

// Two sidecars each see half of every trace (the submitting node's span and a
// peer's span, as when a transaction is forwarded to the leader) and route by
// trace id to a tier of two sampling collectors, each exporting to a sink of
// its own. The tier runs the wire path (the chainotlp receiver, as
// deploy/collector/sampler.yaml does): the sidecars are where every span is
// seen. Every trace must be decided whole, by one tier collector: a kept
// trace arrives with both spans at exactly one sink. And every trace is
// decided as its own spans say, whichever collector received it: the leader's
// span reports its node's head (chain.head.height) and a within_head rule
// keeps the traces whose block is near it, although both tier collectors have
// seen a block far above (their own head would keep none); the transfers
// kept are exactly those the 50% threshold keeps by consistent probability
// sampling. The traces decided otherwise than their spans say are counted
// (the tier's disagreement) and must be none.
func TestScaleOutRoutesWholeTracesToOneSampler(t *testing.T) {
	policyFile := filepath.Join(t.TempDir(), "sampling-policies.yaml")
	require.NoError(t, os.WriteFile(policyFile, []byte(scaleOutPolicy), 0o644))
	sinks := []*otlpsink.Sink{otlpsink.Start(t), otlpsink.Start(t)}
	var tier []string
	ctx := context.Background()
	var far []pcommon.TraceID
	for _, sink := range sinks {
		col := collectorproc.Start(t, wireSampler(t, policyFile, sink))
		tier = append(tier, col.OTLPGRPC)
		// A block far above the traces' ones, straight to the tier
		// collector: the head it observes.
		_, span := newTracer(t, col.OTLPGRPC).Start(ctx, semconv.SpanBlockApply,
			trace.WithAttributes(attribute.Int64(semconv.BlockHeightKey, 1_000_000)))
		span.End()
		far = append(far, pcommon.TraceID(span.SpanContext().TraceID()))
	}
	submitter := collectorproc.Start(t, sidecar(t, tier))
	leader := collectorproc.Start(t, sidecar(t, tier))
	submitterTracer := newTracer(t, submitter.OTLPGRPC)
	leaderTracer := newTracer(t, leader.OTLPGRPC)

	const n = 100
	var transfers, failed, nearHead []trace.TraceID
	for i := range n {
		// The leader's head is 0 to 24 blocks above the trace's block:
		// within 10 for 11 lags of 25.
		lag := int64(i*7) % 25
		id := forwardedTx(ctx, submitterTracer, leaderTracer, i%10 == 0, scaleOutBlock+lag)
		switch {
		case i%10 == 0:
			failed = append(failed, id)
		case lag <= scaleOutWithinHead:
			nearHead = append(nearHead, id)
		default:
			transfers = append(transfers, id)
		}
	}
	require.NotEmpty(t, nearHead)
	want := append(consistentlyKept(t, transfers, 0.5), failed...)
	want = append(want, nearHead...)

	atSink := func(id trace.TraceID) (spans, sinksWithIt int) {
		for _, s := range sinks {
			if got := len(s.Trace(pcommon.TraceID(id))); got > 0 {
				spans += got
				sinksWithIt++
			}
		}
		return spans, sinksWithIt
	}
	// Polled rather than woken by one sink: the traces arrive at either.
	testproc.WaitFor(t, arriveWait, fmt.Sprintf("%d kept traces, whole, across the tier", len(want)), func() error {
		for _, id := range want {
			if spans, _ := atSink(id); spans < 2 {
				return fmt.Errorf("trace %s: %d of 2 spans (%s; %s)", id, spans, sinks[0], sinks[1])
			}
		}
		return nil
	})
	for _, id := range want {
		spans, sinksWithIt := atSink(id)
		require.Equal(t, 2, spans, "trace %s arrives whole, once", id)
		require.Equal(t, 1, sinksWithIt, "trace %s is decided by one tier collector", id)
	}
	for _, s := range sinks {
		requireRule(t, s, nearHead, "near-head")
	}
	var got []pcommon.TraceID
	for i, s := range sinks {
		ids := slices.DeleteFunc(s.TraceIDs(), func(id pcommon.TraceID) bool { return slices.Contains(far, id) })
		require.NotEmpty(t, ids, "tier collector %d receives a share of the traces", i)
		got = append(got, ids...)
	}
	wantIDs := traceIDs(want)
	differ := 0
	for _, id := range got {
		if !slices.Contains(wantIDs, id) {
			differ++ // kept, though its spans say drop
		}
	}
	for _, id := range wantIDs {
		if !slices.Contains(got, id) {
			differ++ // dropped, though its spans say keep
		}
	}
	t.Logf("tier decisions: %d traces, %d kept (%d near the head their spans report); decided otherwise than their spans say: %d",
		n, len(got), len(nearHead), differ)
	require.Zero(t, differ, "every trace is decided as its own spans say")
	require.ElementsMatch(t, wantIDs, got, "exactly the errors, the traces near their head and the transfers under the threshold")
}

const (
	scaleOutBlock      = 7
	scaleOutWithinHead = 10
)

var scaleOutPolicy = fmt.Sprintf(`# written by test/collector
rules:
  - name: %s
    match: {error: true}
    keep: 1
    always: true
  - name: near-head
    match: {block_height: {within_head: %d}}
    keep: 1
  - name: %s
    match: {tx_type: [%s]}
    keep: 0.5
  - name: %s
    keep: 0
`, ruleErrors, scaleOutWithinHead, ruleTransfers, semconv.TxTypeTransfer, ruleDefault)

// forwardedTx makes the trace of a transaction submitted to one node and
// applied by the leader: the HTTP span goes out through the submitter's
// sidecar, the leader's span (its child) through the leader's. The leader's
// span is at block scaleOutBlock and reports the leader's head.
func forwardedTx(ctx context.Context, submitter, leader trace.Tracer, failed bool, head int64) trace.TraceID {
	ctx, root := submitter.Start(ctx, "POST /tx", trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String(semconv.TxTypeKey, semconv.TxTypeTransfer)))
	_, apply := leader.Start(ctx, semconv.SpanBlockApply,
		trace.WithAttributes(attribute.Int64(semconv.BlockHeightKey, scaleOutBlock), attribute.Int64(semconv.HeadHeightKey, head)))
	if failed {
		apply.SetStatus(codes.Error, "state root mismatch")
	}
	apply.End()
	root.End()
	return root.SpanContext().TraceID()
}

// sidecar starts a node's sidecar collector in the scale-out layout
// (testdata/sidecar_scaleout.yaml), routing by trace id to the two samplers
// of tier.
func sidecar(t *testing.T, tier []string) collectorproc.Options {
	require.Len(t, tier, 2, "testdata/sidecar_scaleout.yaml names two samplers")
	return collectorproc.Options{
		ConfigFiles: []string{collectorproc.Testdata(t, "sidecar_scaleout.yaml")},
		Env:         []string{"SAMPLER_0=" + tier[0], "SAMPLER_1=" + tier[1]},
	}
}
