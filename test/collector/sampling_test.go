//go:build integration

package collector

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/sampling"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/otel/trace"

	"github.com/chainotel/chainotel/internal/collectorproc"
	"github.com/chainotel/chainotel/internal/otlpsink"
	"github.com/chainotel/chainotel/internal/testproc"
	"github.com/chainotel/chainotel/semconv"
)

const (
	// arriveWait bounds the wait for kept traces: decision_wait plus the
	// hops, with room for a loaded machine.
	arriveWait = 30 * time.Second
	// reloadWait bounds the wait for an edit of the policy file to be in
	// force (the processor promises about a second).
	reloadWait = 10 * time.Second

	reloadsMetric        = "otelcol_processor_chainsampling_policy_reloads"
	reloadFailuresMetric = "otelcol_processor_chainsampling_policy_reload_failures"

	ruleErrors    = "errors"
	ruleTransfers = "transfers"
	ruleDefault   = "default"
)

// policy keeps errors always, transfers with probability transfers, and
// nothing else.
func policy(transfers string) string {
	return fmt.Sprintf(`# written by test/collector
rules:
  - name: %s
    match: {error: true}
    keep: 1
    always: true
  - name: %s
    match: {tx_type: [%s]}
    keep: %s
  - name: %s
    keep: 0
`, ruleErrors, ruleTransfers, semconv.TxTypeTransfer, transfers, ruleDefault)
}

// The core test of the distribution: the policy file is edited while the
// collector runs, and what reaches the downstream receiver follows each edit
// at once; an invalid edit is refused and the policy in force stays.
func TestPolicyEditsApplyLive(t *testing.T) {
	sink := otlpsink.Start(t)
	policyFile := filepath.Join(t.TempDir(), "sampling-policies.yaml")
	require.NoError(t, os.WriteFile(policyFile, []byte(policy("1")), 0o644))
	col := collectorproc.Start(t, sampler(t, policyFile, sink))
	tracer := newTracer(t, col.OTLPGRPC)
	ctx := context.Background()

	t.Log("phase 1: transfers kept 100%, stakes (default rule) 0%")
	stake := txTrace(ctx, tracer, semconv.TxTypeStake, false)
	transfers := sendTransfers(ctx, tracer, 20)
	marker := txTrace(ctx, tracer, semconv.TxTypeTransfer, true)
	waitWhole(t, sink, append(transfers, marker))
	requireRule(t, sink, transfers, ruleTransfers)
	requireRule(t, sink, []trace.TraceID{marker}, ruleErrors)
	require.Empty(t, sink.Trace(pcommon.TraceID(stake)), "the default rule keeps 0%")

	t.Log("phase 2: edit to transfers 50%: exactly the traces whose randomness passes the threshold")
	editPolicy(t, col, policyFile, policy("0.5"))
	sink.Reset()
	transfers = sendTransfers(ctx, tracer, 200)
	marker = txTrace(ctx, tracer, semconv.TxTypeTransfer, true)
	want := consistentlyKept(t, transfers, 0.5)
	require.NotEmpty(t, want)
	require.Less(t, len(want), len(transfers))
	waitWhole(t, sink, append(want, marker))
	require.ElementsMatch(t, traceIDs(append(want, marker)), sink.TraceIDs(),
		"kept: the %d of %d transfers below the 50%% threshold, and the error", len(want), len(transfers))
	requireRule(t, sink, want, ruleTransfers)
	for _, s := range sink.Trace(pcommon.TraceID(want[0])) {
		require.Contains(t, s.TraceState().AsRaw(), "ot=th:8", "the adjusted count of a 50%% keep")
	}

	t.Log("phase 3: edit to transfers 0%: no transfer arrives, errors still do")
	editPolicy(t, col, policyFile, policy("0"))
	sink.Reset()
	sendTransfers(ctx, tracer, 20)
	marker = txTrace(ctx, tracer, semconv.TxTypeTransfer, true)
	waitWhole(t, sink, []trace.TraceID{marker})
	require.Equal(t, traceIDs([]trace.TraceID{marker}), sink.TraceIDs(), "only the error trace is kept")
	requireRule(t, sink, []trace.TraceID{marker}, ruleErrors)

	t.Log("phase 4: an invalid edit is refused, named in the log, and 0% stays in force")
	failures := metricOrZero(t, col, reloadFailuresMetric)
	writeAtomically(t, policyFile, "rules:\n  - name: errors\n    keep: [not a number\n")
	testproc.WaitFor(t, reloadWait, "the invalid edit to be refused", func() error {
		return metricAbove(col, reloadFailuresMetric, failures)
	})
	require.Contains(t, col.Log(), filepath.Base(policyFile), "the refusal names the file")
	sink.Reset()
	sendTransfers(ctx, tracer, 20)
	marker = txTrace(ctx, tracer, semconv.TxTypeTransfer, true)
	waitWhole(t, sink, []trace.TraceID{marker})
	require.Equal(t, traceIDs([]trace.TraceID{marker}), sink.TraceIDs(), "the previous policy (transfers 0%) stays")

	require.NoError(t, col.Stop(30*time.Second), "a clean shutdown on SIGTERM")
}

func sendTransfers(ctx context.Context, tracer trace.Tracer, n int) []trace.TraceID {
	ids := make([]trace.TraceID, n)
	for i := range ids {
		ids[i] = txTrace(ctx, tracer, semconv.TxTypeTransfer, false)
	}
	return ids
}

// consistentlyKept returns the trace ids that OpenTelemetry consistent
// probability sampling keeps at probability p, from their randomness (the
// trace id's low 56 bits): what any collector with this policy must keep.
func consistentlyKept(t *testing.T, ids []trace.TraceID, p float64) []trace.TraceID {
	t.Helper()
	th, err := sampling.ProbabilityToThreshold(p)
	require.NoError(t, err)
	var kept []trace.TraceID
	for _, id := range ids {
		if th.ShouldSample(sampling.TraceIDToRandomness(pcommon.TraceID(id))) {
			kept = append(kept, id)
		}
	}
	return kept
}

// waitWhole waits until both spans of each trace (txTrace makes two) arrived.
func waitWhole(t *testing.T, sink *otlpsink.Sink, ids []trace.TraceID) {
	t.Helper()
	sink.WaitFor(t, arriveWait, fmt.Sprintf("%d whole traces at the sink", len(ids)), func() error {
		for _, id := range ids {
			if n := len(sink.Trace(pcommon.TraceID(id))); n < 2 {
				return fmt.Errorf("trace %s: %d of 2 spans", id, n)
			}
		}
		return nil
	})
}

func requireRule(t *testing.T, sink *otlpsink.Sink, ids []trace.TraceID, rule string) {
	t.Helper()
	for _, id := range ids {
		for _, s := range sink.Trace(pcommon.TraceID(id)) {
			got, ok := s.Attr(semconv.SamplingRuleKey)
			require.True(t, ok, "span %s of trace %s has no %s", s.Name(), id, semconv.SamplingRuleKey)
			require.Equal(t, rule, got, "span %s of trace %s", s.Name(), id)
		}
	}
}

func traceIDs(ids []trace.TraceID) []pcommon.TraceID {
	out := make([]pcommon.TraceID, len(ids))
	for i, id := range ids {
		out[i] = pcommon.TraceID(id)
	}
	return out
}

// editPolicy saves text the way editors do (write a new file, rename it over
// the old one) and waits until the processor reports the reload.
func editPolicy(t *testing.T, col *collectorproc.Collector, path, text string) {
	t.Helper()
	before := metricOrZero(t, col, reloadsMetric)
	writeAtomically(t, path, text)
	testproc.WaitFor(t, reloadWait, "the policy edit to be in force", func() error {
		return metricAbove(col, reloadsMetric, before)
	})
}

func writeAtomically(t *testing.T, path, text string) {
	t.Helper()
	tmp := path + ".swp"
	require.NoError(t, os.WriteFile(tmp, []byte(text), 0o644))
	require.NoError(t, os.Rename(tmp, path))
}

func metricOrZero(t *testing.T, col *collectorproc.Collector, name string) float64 {
	t.Helper()
	v, err := col.Metric(context.Background(), name, nil)
	if errors.Is(err, collectorproc.ErrNoMetric) {
		return 0
	}
	require.NoError(t, err)
	return v
}

func metricAbove(col *collectorproc.Collector, name string, before float64) error {
	v, err := col.Metric(context.Background(), name, nil)
	if err != nil {
		return err
	}
	if v <= before {
		return fmt.Errorf("%s is %v, still not above %v", name, v, before)
	}
	return nil
}

// sampler starts the test's sampling collector (testdata/sampling.yaml):
// chainsampling with policyFile and a short decision wait, exporting to sink.
func sampler(t *testing.T, policyFile string, sink *otlpsink.Sink) collectorproc.Options {
	return collectorproc.Options{
		ConfigFiles: []string{collectorproc.Testdata(t, "sampling.yaml")},
		Env:         []string{"POLICY_FILE=" + policyFile, "SINK_ENDPOINT=" + sink.Addr()},
	}
}

// wireSampler is sampler on the wire path (testdata/sampling_wire.yaml): the
// chainotlp receiver samples the requests' bytes with policyFile, exporting
// the kept traces to sink.
func wireSampler(t *testing.T, policyFile string, sink *otlpsink.Sink) collectorproc.Options {
	return collectorproc.Options{
		ConfigFiles: []string{collectorproc.Testdata(t, "sampling_wire.yaml")},
		Env:         []string{"POLICY_FILE=" + policyFile, "SINK_ENDPOINT=" + sink.Addr()},
		Receiver:    "chainotlp",
	}
}
