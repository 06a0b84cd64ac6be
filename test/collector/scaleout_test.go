//go:build integration

package collector

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
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
// its own. Every trace must be decided whole, by one tier collector: a kept
// trace arrives with both spans at exactly one sink, and the transfers kept are
// exactly those the 50% threshold keeps by consistent probability sampling.
func TestScaleOutRoutesWholeTracesToOneSampler(t *testing.T) {
	policyFile := filepath.Join(t.TempDir(), "sampling-policies.yaml")
	require.NoError(t, os.WriteFile(policyFile, []byte(policy("0.5")), 0o644))
	sinks := []*otlpsink.Sink{otlpsink.Start(t), otlpsink.Start(t)}
	var tier []string
	for _, sink := range sinks {
		col := collectorproc.Start(t, sampler(t, policyFile, sink))
		tier = append(tier, col.OTLPGRPC)
	}
	submitter := collectorproc.Start(t, sidecar(t, tier))
	leader := collectorproc.Start(t, sidecar(t, tier))
	submitterTracer := newTracer(t, submitter.OTLPGRPC)
	leaderTracer := newTracer(t, leader.OTLPGRPC)

	ctx := context.Background()
	const n = 100
	var transfers, failed []trace.TraceID
	for i := range n {
		id := forwardedTx(ctx, submitterTracer, leaderTracer, i%10 == 0)
		if i%10 == 0 {
			failed = append(failed, id)
		} else {
			transfers = append(transfers, id)
		}
	}
	want := append(consistentlyKept(t, transfers, 0.5), failed...)

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
	var got []pcommon.TraceID
	for i, s := range sinks {
		ids := s.TraceIDs()
		require.NotEmpty(t, ids, "tier collector %d receives a share of the traces", i)
		got = append(got, ids...)
	}
	require.ElementsMatch(t, traceIDs(want), got, "exactly the errors and the transfers under the threshold")
}

// forwardedTx makes the trace of a transaction submitted to one node and
// applied by the leader: the HTTP span goes out through the submitter's
// sidecar, the leader's span (its child) through the leader's.
func forwardedTx(ctx context.Context, submitter, leader trace.Tracer, failed bool) trace.TraceID {
	ctx, root := submitter.Start(ctx, "POST /tx", trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String(semconv.TxTypeKey, semconv.TxTypeTransfer)))
	_, apply := leader.Start(ctx, semconv.SpanBlockApply,
		trace.WithAttributes(attribute.Int64(semconv.BlockHeightKey, 7)))
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
