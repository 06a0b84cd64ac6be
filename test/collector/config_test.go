//go:build integration

package collector

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	otellog "go.opentelemetry.io/otel/log"

	"github.com/chainotel/chainotel/internal/collectorproc"
	"github.com/chainotel/chainotel/internal/otlpsink"
	"github.com/chainotel/chainotel/internal/sentrytest"
	"github.com/chainotel/chainotel/internal/testbin"
	"github.com/chainotel/chainotel/internal/testproc"
	"github.com/chainotel/chainotel/semconv"
)

// The shipped configuration's decisions wait for the processor's default
// decision_wait, so waits on its output are generous.
const shippedWait = 90 * time.Second

// policyFileEnv points the shipped configuration at the repository's policy
// file, as scripts/run-collector.sh does for `make run`.
func policyFileEnv(root string) string {
	return "CHAINOTEL_POLICY_FILE=" + filepath.Join(root, "collector", "sampling-policies.yaml")
}

// Every shipped configuration, as scripts/run-collector.sh assembles it from
// the environment, is accepted by `otelcol-chain validate`; and every overlay
// file in collector/overlays is covered by a case here.
func TestShippedConfigsValidate(t *testing.T) {
	bin := testbin.OtelcolChain(t)
	root := testbin.RepoRoot(t)
	const (
		otlpOut = "collector/overlays/otlp-out.yaml"
		sentry  = "collector/overlays/sentry.yaml"
	)
	cases := []struct {
		name     string
		env      []string
		overlays []string
	}{
		{name: "default (file output)"},
		{name: "traces to OTLP", env: []string{"CHAINOTEL_TRACES_OTLP_ENDPOINT=127.0.0.1:4317"}, overlays: []string{otlpOut}},
		{name: "errors to Sentry", env: []string{"SENTRY_DSN=http://public@127.0.0.1:9/1"}, overlays: []string{sentry}},
		{
			name:     "OTLP and Sentry",
			env:      []string{"CHAINOTEL_TRACES_OTLP_ENDPOINT=127.0.0.1:4317", "SENTRY_DSN=http://public@127.0.0.1:9/1"},
			overlays: []string{otlpOut, sentry},
		},
	}

	covered := map[string]bool{}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := append([]string{policyFileEnv(root), "CHAINOTEL_OUT_DIR=" + t.TempDir(), "CHAINOTEL_OTELCOL_BIN=" + bin}, tc.env...)
			args := runCollector(t, root, env, "--print-args")
			for _, o := range tc.overlays {
				require.Contains(t, args, filepath.Join(root, o), "run-collector.sh must add %s", o)
				covered[o] = true
			}
			require.Equal(t, len(tc.overlays)+1, strings.Count(args, "--config"), "overlays in %q", args)
			runCollector(t, root, env, "validate")
		})
	}

	shipped, err := filepath.Glob(filepath.Join(root, "collector", "overlays", "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, shipped)
	for _, f := range shipped {
		rel, err := filepath.Rel(root, f)
		require.NoError(t, err)
		require.True(t, covered[rel], "overlay %s is shipped but no case validates it", rel)
	}
}

// runCollector runs scripts/run-collector.sh with args and returns its output,
// failing the test with that output when it exits non-zero.
func runCollector(t *testing.T, root string, env []string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(root, "scripts", "run-collector.sh"), args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "scripts/run-collector.sh %s:\n%s", strings.Join(args, " "), out)
	return string(out)
}

// The shipped configuration runs as is: traces go through the tail sampler to
// traces.jsonl (an error trace is kept by the default policies), logs to
// logs.jsonl, and the span metrics, computed before sampling, to metrics.jsonl.
func TestShippedConfigRunsAsIs(t *testing.T) {
	root := testbin.RepoRoot(t)
	col := collectorproc.Start(t, collectorproc.Options{
		ConfigFiles: collectorproc.Shipped(t),
		Env:         []string{policyFileEnv(root)}, // the output goes to col.OutDir
	})
	ctx := context.Background()
	traceID := txTrace(ctx, newTracer(t, col.OTLPGRPC), semconv.TxTypeTransfer, true)

	var rec otellog.Record
	rec.SetBody(attribute.StringValue("block applied"))
	rec.SetSeverity(otellog.SeverityInfo)
	newLogger(t, col.OTLPGRPC).Emit(ctx, rec)

	waitFileContains(t, filepath.Join(col.OutDir, "logs.jsonl"), "block applied")
	waitFileContains(t, filepath.Join(col.OutDir, "traces.jsonl"), traceID.String())
	waitFileContains(t, filepath.Join(col.OutDir, "metrics.jsonl"), semconv.SpanValidateTransaction)
	require.NoError(t, col.Stop(30*time.Second), "a clean shutdown on SIGTERM")
}

// With the otlp-out overlay the sampled traces go to the OTLP endpoint named by
// CHAINOTEL_TRACES_OTLP_ENDPOINT, and no longer to the file.
func TestShippedConfigExportsToOTLPEndpoint(t *testing.T) {
	root := testbin.RepoRoot(t)
	sink := otlpsink.Start(t)
	col := collectorproc.Start(t, collectorproc.Options{
		ConfigFiles: collectorproc.Shipped(t, "otlp-out"),
		Config:      "processors: {chainsampling: {decision_wait: 1s}}", // as collectorproc's doc shows
		Env:         []string{policyFileEnv(root), "CHAINOTEL_TRACES_OTLP_ENDPOINT=" + sink.Addr()},
	})
	traceID := txTrace(context.Background(), newTracer(t, col.OTLPGRPC), semconv.TxTypeTransfer, true)
	spans := sink.WaitSpans(t, shippedWait, "the error trace at the OTLP endpoint", 2, func(s otlpsink.Span) bool {
		return [16]byte(s.TraceID()) == [16]byte(traceID)
	})
	rule, ok := spans[0].Attr(semconv.SamplingRuleKey)
	require.True(t, ok, "kept spans carry %s", semconv.SamplingRuleKey)
	require.NotEmpty(t, rule)
	_, err := os.Stat(filepath.Join(col.OutDir, "traces.jsonl"))
	require.ErrorIs(t, err, os.ErrNotExist, "traces go to the OTLP endpoint instead of the file")
}

// With the sentry overlay (SENTRY_DSN set), the error spans of a trace reach
// Sentry as events, after chainenrich stamped them (node, error category),
// while the trace itself still goes through the tail sampler to the file.
func TestShippedConfigSendsErrorsToSentry(t *testing.T) {
	root := testbin.RepoRoot(t)
	sentry := sentrytest.NewServer(t)
	col := collectorproc.Start(t, collectorproc.Options{
		ConfigFiles: collectorproc.Shipped(t, "sentry"),
		Env:         []string{policyFileEnv(root), "SENTRY_DSN=" + sentry.DSN()},
	})
	traceID := txTrace(context.Background(), newTracer(t, col.OTLPGRPC), semconv.TxTypeTransfer, true)

	// Both error spans (the HTTP span and validate.transaction) become events.
	events := sentry.WaitForEvents(t, 2, shippedWait)
	errorTypes := map[string]bool{}
	for _, ev := range events {
		require.Equal(t, traceID.String(), sentryTraceID(ev.Raw), "the event links to its trace")
		require.Equal(t, "node0", ev.Tags[semconv.NodeIDKey], "chainenrich stamped the node before Sentry")
		errorTypes[ev.Tags[semconv.ErrorTypeKey]] = true
	}
	require.True(t, errorTypes[semconv.ErrorValidation], "error categories of the events: %v", errorTypes)
	require.Empty(t, sentry.Problems(), "the exporter speaks the envelope protocol")
	waitFileContains(t, filepath.Join(col.OutDir, "traces.jsonl"), traceID.String())
}

// sentryTraceID digs the trace id out of an event's contexts.trace.
func sentryTraceID(raw map[string]any) string {
	contexts, _ := raw["contexts"].(map[string]any)
	trace, _ := contexts["trace"].(map[string]any)
	id, _ := trace["trace_id"].(string)
	return id
}

func waitFileContains(t *testing.T, path, want string) {
	t.Helper()
	testproc.WaitFor(t, shippedWait, fmt.Sprintf("%s to contain %q", path, want), func() error {
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if !strings.Contains(string(b), want) {
			return fmt.Errorf("%d bytes, not there yet", len(b))
		}
		return nil
	})
}
