//go:build integration

package collector

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/chainotel/chainotel/internal/collectorproc"
	"github.com/chainotel/chainotel/internal/otlpsink"
	"github.com/chainotel/chainotel/internal/sentrytest"
	"github.com/chainotel/chainotel/internal/testbin"
	"github.com/chainotel/chainotel/internal/testproc"
	"github.com/chainotel/chainotel/semconv"
)

// The load of the Sentry-down test: every trace carries an error span of a
// fingerprint of its own (the rate limit lets each through), so the Sentry
// exporter gets as many events as the sampler gets traces and its sending
// queue (1000 events) fills within the outage.
const (
	sentryDownRequests       = 200                   // export requests sent
	sentryDownTracesPerReq   = 10                    // traces in each (a node's batch)
	sentryDownInterval       = 50 * time.Millisecond // between requests: 200 traces/s
	sentryDownArrivalTimeout = 30 * time.Second      // after the last request
	sentryDownExportTimeout  = 5 * time.Second       // bound on one export request
	sentryDownMaxRefused     = 3                     // refused requests before giving up sending
)

// A Sentry outage costs no traces: with the shipped configuration (kept
// traces to an OTLP sink, errors to Sentry) and Sentry answering 503, or not
// listening at all, every trace sent at a steady rate reaches the sink, and
// the collector refuses no export request, even once the exporter's sending
// queue is full. (The chaos suite's "Sentry down" row counted a fifth of its
// transfers' traces missing; this path does not lose them: see issue 21's
// note. The test fails when the Sentry path blocks, e.g. with
// sending_queue.block_on_overflow: true.)
func TestSentryDownCostsNoTraces(t *testing.T) {
	for _, tc := range []struct {
		name string
		// dsn starts the Sentry side of the case and returns its DSN.
		dsn func(t *testing.T) string
	}{
		{name: "503", dsn: func(t *testing.T) string {
			s := sentrytest.NewServer(t)
			s.Respond(func(int) sentrytest.Response { return sentrytest.Response{Status: 503} })
			return s.DSN()
		}},
		{name: "refused", dsn: func(t *testing.T) string {
			// A free port that nothing listens on: every connection is refused.
			port := testproc.FreePorts(t, 1)[0]
			return "http://" + sentrytest.Key + "@127.0.0.1:" + strconv.Itoa(port) + "/" + sentrytest.Project
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sink := otlpsink.Start(t)
			root := testbin.RepoRoot(t)
			testdata := filepath.Join(root, "test", "collector", "testdata")
			col := collectorproc.Start(t, collectorproc.Options{
				ConfigFiles: append(collectorproc.Shipped(t, "otlp-out", "sentry"),
					filepath.Join(testdata, "sentry_down.yaml")),
				Env: []string{
					"CHAINOTEL_TRACES_OTLP_ENDPOINT=" + sink.Addr(),
					"CHAINOTEL_POLICY_FILE=" + filepath.Join(testdata, "sentry_down_policies.yaml"),
					"SENTRY_DSN=" + tc.dsn(t),
				},
			})

			ids, refused := sendSteadyErrorTraces(t, col.OTLPGRPC)
			var missing int
			err := testproc.Poll(context.Background(), sentryDownArrivalTimeout, func() error {
				missing = countMissing(sink, ids)
				if missing > 0 {
					return fmt.Errorf("%d of %d traces not at the sink yet", missing, len(ids))
				}
				return nil
			})
			losses := sentryDownLosses(t, col)
			require.NoError(t, err, "a Sentry outage cost traces: %d of %d never reached the sink within %v "+
				"(%d of %d export requests refused; collector: %s)",
				missing, len(ids), sentryDownArrivalTimeout, refused, sentryDownRequests, losses)
			require.Zero(t, refused, "the collector refused export requests while Sentry was down (collector: %s)", losses)

			// The outage was real: the exporter tried Sentry and failed.
			retries, err := col.Metric(context.Background(), "otelcol_exporter_sentry_send_retries", nil)
			require.NoError(t, err)
			require.Positive(t, retries, "the Sentry exporter never failed a send; the outage was not exercised")
			t.Logf("%d traces sent, all at the sink; %.0f failed Sentry sends; collector: %s", len(ids), retries, losses)
		})
	}
}

// sendSteadyErrorTraces sends sentryDownRequests export requests of
// sentryDownTracesPerReq traces each, one every sentryDownInterval, as a node
// does under steady load. Each trace is a server span with a failed child.
// It returns the trace ids of the accepted requests and how many requests
// the collector refused (it stops at sentryDownMaxRefused).
func sendSteadyErrorTraces(t *testing.T, endpoint string) ([]pcommon.TraceID, int) {
	t.Helper()
	conn, err := grpc.NewClient(endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	client := ptraceotlp.NewGRPCClient(conn)

	var ids []pcommon.TraceID
	refused := 0
	tick := time.NewTicker(sentryDownInterval)
	defer tick.Stop()
	for r := range sentryDownRequests {
		td, reqIDs := errorTraces(r)
		ctx, cancel := context.WithTimeout(context.Background(), sentryDownExportTimeout)
		_, err := client.Export(ctx, ptraceotlp.NewExportRequestFromTraces(td))
		cancel()
		if err != nil {
			refused++
			t.Logf("export request %d refused: %v", r, err)
			if refused == sentryDownMaxRefused {
				break // the collector is stuck; the test fails on refused
			}
		} else {
			ids = append(ids, reqIDs...)
		}
		<-tick.C
	}
	return ids, refused
}

// errorTraces builds request r's traces: per trace a "POST /tx" server span
// and a failed validation span below it (status ERROR, error.type).
func errorTraces(r int) (ptrace.Traces, []pcommon.TraceID) {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	res := rs.Resource().Attributes()
	res.PutStr(semconv.ServiceNameKey, semconv.ServiceName)
	res.PutStr(semconv.ServiceInstanceIDKey, "node0")
	res.PutStr(semconv.ChainIDKey, "chainotel-test")
	res.PutStr(semconv.ChainConsensusKey, semconv.ConsensusRaft)
	spans := rs.ScopeSpans().AppendEmpty().Spans()
	now := time.Now()
	ids := make([]pcommon.TraceID, 0, sentryDownTracesPerReq)
	for i := range sentryDownTracesPerReq {
		n := uint64(r*sentryDownTracesPerReq + i + 1)
		var tid pcommon.TraceID
		binary.BigEndian.PutUint64(tid[:8], 0xc4a1_5e47)
		binary.BigEndian.PutUint64(tid[8:], n)
		ids = append(ids, tid)

		root := spans.AppendEmpty()
		root.SetTraceID(tid)
		root.SetSpanID(spanID(n, 1))
		root.SetName("POST /tx")
		root.SetKind(ptrace.SpanKindServer)
		root.SetStartTimestamp(pcommon.NewTimestampFromTime(now.Add(-5 * time.Millisecond)))
		root.SetEndTimestamp(pcommon.NewTimestampFromTime(now))
		root.Attributes().PutStr(semconv.HTTPRouteKey, "/tx")

		child := spans.AppendEmpty()
		child.SetTraceID(tid)
		child.SetSpanID(spanID(n, 2))
		child.SetParentSpanID(root.SpanID())
		// A span name of its own: a fingerprint of its own.
		child.SetName(fmt.Sprintf("%s #%d", semconv.SpanValidateTransaction, n))
		child.SetStartTimestamp(pcommon.NewTimestampFromTime(now.Add(-4 * time.Millisecond)))
		child.SetEndTimestamp(pcommon.NewTimestampFromTime(now.Add(-time.Millisecond)))
		child.Status().SetCode(ptrace.StatusCodeError)
		child.Status().SetMessage("insufficient balance")
		child.Attributes().PutStr(semconv.ErrorTypeKey, semconv.ErrorValidation)
	}
	return td, ids
}

func spanID(n uint64, k byte) pcommon.SpanID {
	var id pcommon.SpanID
	binary.BigEndian.PutUint64(id[:], n<<8|uint64(k))
	return id
}

// countMissing is how many of ids have no span at the sink.
func countMissing(sink *otlpsink.Sink, ids []pcommon.TraceID) int {
	seen := map[pcommon.TraceID]bool{}
	for _, id := range sink.TraceIDs() {
		seen[id] = true
	}
	missing := 0
	for _, id := range ids {
		if !seen[id] {
			missing++
		}
	}
	return missing
}

// sentryDownLosses reads the collector's counters of what it dropped or
// refused, for failure messages.
func sentryDownLosses(t *testing.T, col *collectorproc.Collector) string {
	t.Helper()
	var out string
	for _, m := range []string{
		"otelcol_receiver_refused_spans",
		"otelcol_processor_chainsampling_spans_decided",
		"otelcol_exporter_enqueue_failed_spans",
		"otelcol_exporter_send_failed_spans",
		"otelcol_exporter_sent_spans",
		"otelcol_exporter_sentry_events_failed",
		"otelcol_exporter_queue_size",
	} {
		v, err := col.Metric(context.Background(), m, nil)
		switch {
		case errors.Is(err, collectorproc.ErrNoMetric):
			v = 0
		case err != nil:
			return fmt.Sprintf("reading %s: %v", m, err)
		}
		if out != "" {
			out += ", "
		}
		out += fmt.Sprintf("%s %.0f", m, v)
	}
	return out
}
