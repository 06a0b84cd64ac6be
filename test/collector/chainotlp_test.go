//go:build integration

package collector

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/chainotel/chainotel/internal/collectorproc"
	"github.com/chainotel/chainotel/internal/otlpraw"
	"github.com/chainotel/chainotel/internal/otlpsink"
	"github.com/chainotel/chainotel/semconv"
)

const (
	ruleStakes = "stakes"
	// refusedMetric counts the spans the sampler refused at a bound, by
	// reason; the chainotlp receiver reports the processor's metrics.
	refusedMetric = "otelcol_processor_chainsampling_spans_refused"
	pbContentType = "application/x-protobuf"
)

// wirePolicy keeps errors and stakes, and nothing else.
var wirePolicy = fmt.Sprintf(`# written by test/collector
rules:
  - name: %s
    match: {error: true}
    keep: 1
    always: true
  - name: %s
    match: {tx_type: [%s]}
    keep: 1
  - name: %s
    keep: 0
`, ruleErrors, ruleStakes, semconv.TxTypeStake, ruleDefault)

// newHTTPTracer is newTracer over OTLP/HTTP (protobuf), the SDK's HTTP
// exporter.
func newHTTPTracer(t *testing.T, endpoint string) trace.Tracer {
	t.Helper()
	exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpoint(endpoint), otlptracehttp.WithInsecure())
	require.NoError(t, err)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithResource(nodeResource("node0")))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = tp.Shutdown(ctx)
	})
	return tp.Tracer("chainotel/test/collector")
}

// The wire path through the ocb binary: a collector whose only trace
// receiver is chainotlp takes the SDK's OTLP/gRPC and OTLP/HTTP exports and
// sends on the kept traces only, whole and stamped with their rule: an error
// trace and a stake (kept by rule) from each transport arrive at the sink, a
// transfer (the default rule, keep 0) does not.
func TestChainOTLPSamplesGRPCAndHTTP(t *testing.T) {
	sink := otlpsink.Start(t)
	policyFile := filepath.Join(t.TempDir(), "sampling-policies.yaml")
	require.NoError(t, os.WriteFile(policyFile, []byte(wirePolicy), 0o644))
	col := collectorproc.Start(t, wireSampler(t, policyFile, sink))
	ctx := context.Background()

	var dropped, errs, stakes []trace.TraceID
	for _, tracer := range []trace.Tracer{newTracer(t, col.OTLPGRPC), newHTTPTracer(t, col.OTLPHTTP)} {
		// The dropped trace first: traces reach the sink in the order
		// their first spans arrived (testdata/sampling_wire.yaml), so once
		// the later ones are in, it would be too had it been kept.
		dropped = append(dropped, txTrace(ctx, tracer, semconv.TxTypeTransfer, false))
		errs = append(errs, txTrace(ctx, tracer, semconv.TxTypeTransfer, true))
		stakes = append(stakes, txTrace(ctx, tracer, semconv.TxTypeStake, false))
	}
	want := append(append([]trace.TraceID(nil), errs...), stakes...)
	waitWhole(t, sink, want)
	requireRule(t, sink, errs, ruleErrors)
	requireRule(t, sink, stakes, ruleStakes)
	for _, id := range dropped {
		require.Empty(t, sink.Trace(pcommon.TraceID(id)), "the default rule keeps 0%%: trace %s", id)
	}
	require.ElementsMatch(t, traceIDs(want), sink.TraceIDs(), "only the errors and the stakes, of both transports")

	for _, transport := range []string{"grpc", "http"} {
		accepted, err := col.Metric(ctx, "otelcol_receiver_accepted_spans", map[string]string{"receiver": "chainotlp", "transport": transport})
		require.NoError(t, err)
		require.Equal(t, 6.0, accepted, "three traces of two spans over %s", transport)
	}
	require.NoError(t, col.Stop(30*time.Second), "a clean shutdown on SIGTERM")
}

// A request that is not an OTLP export request gets the same answer from the
// wire path as from the core otlp receiver (testdata/passthrough.yaml): over
// gRPC the status code, over HTTP the status, the content type and the
// rpc.Status code; neither sends anything on.
func TestChainOTLPRefusesMalformedAsTheCoreReceiver(t *testing.T) {
	sink := otlpsink.Start(t)
	policyFile := filepath.Join(t.TempDir(), "sampling-policies.yaml")
	require.NoError(t, os.WriteFile(policyFile, []byte("rules: [{name: all, keep: 1}]\n"), 0o644))
	core := collectorproc.Start(t, passThrough(t, sink))
	wire := collectorproc.Start(t, wireSampler(t, policyFile, sink))

	good := exportRequest(t, 3, 0)
	malformed := good[:len(good)-4] // the last span cut short
	for name, body := range map[string][]byte{"truncated": malformed, "not protobuf": []byte("\xff\xff\xff\xff")} {
		t.Run(name, func(t *testing.T) {
			wantErr := grpcExport(t, core.OTLPGRPC, body)
			gotErr := grpcExport(t, wire.OTLPGRPC, body)
			require.Error(t, wantErr, "the core receiver refuses it")
			require.Equal(t, status.Code(wantErr), status.Code(gotErr), "gRPC: core %v, chainotlp %v", wantErr, gotErr)
			t.Logf("gRPC: %v", status.Code(gotErr))

			want := httpExport(t, core.OTLPHTTP, body)
			got := httpExport(t, wire.OTLPHTTP, body)
			require.Equal(t, http.StatusBadRequest, want.code, "the core receiver refuses it")
			require.Equal(t, want, got)
			t.Logf("HTTP: %+v", got)
		})
	}
	// Both still take a good request; the malformed ones sent nothing on.
	require.NoError(t, grpcExport(t, wire.OTLPGRPC, good))
	sink.WaitSpans(t, arriveWait, "the good request's spans", 3, func(otlpsink.Span) bool { return true })
	require.Len(t, sink.TraceIDs(), 3, "nothing of the malformed requests")
}

// A full wire-path sampler (when_full: refuse, a max_bytes that one small
// request fits in and a larger one does not, a decision wait that keeps the
// first buffered) answers the larger request with a retryable error, gRPC
// Unavailable with RetryInfo and HTTP 503 with Retry-After, so that senders
// retry, and counts the refused spans by reason.
func TestChainOTLPRefusesWhenFull(t *testing.T) {
	sink := otlpsink.Start(t)
	policyFile := filepath.Join(t.TempDir(), "sampling-policies.yaml")
	require.NoError(t, os.WriteFile(policyFile, []byte("rules: [{name: all, keep: 1}]\n"), 0o644))
	opts := wireSampler(t, policyFile, sink)
	opts.Config = `receivers:
  chainotlp:
    sampling:
      max_bytes: 4096
      when_full: refuse
      compression: none
      decision_wait: 10m
`
	col := collectorproc.Start(t, opts)
	ctx := context.Background()

	require.NoError(t, grpcExport(t, col.OTLPGRPC, exportRequest(t, 1, 0)), "the first request fills part of the buffer")
	const n = 50
	big := exportRequest(t, n, 1)
	require.Greater(t, len(big), 4096, "the second request does not fit")

	err := grpcExport(t, col.OTLPGRPC, big)
	st := status.Convert(err)
	require.Equal(t, codes.Unavailable, st.Code(), "gRPC: %v", err)
	var retry *errdetails.RetryInfo
	for _, d := range st.Details() {
		if r, ok := d.(*errdetails.RetryInfo); ok {
			retry = r
		}
	}
	require.NotNil(t, retry, "gRPC: the status says when to retry: %v", st.Details())

	res := httpExport(t, col.OTLPHTTP, big)
	require.Equal(t, http.StatusServiceUnavailable, res.code)
	require.Equal(t, codes.Unavailable, res.grpcCode)
	require.True(t, res.retryAfter, "HTTP: Retry-After says when to retry")

	refused, err := col.Metric(ctx, refusedMetric, map[string]string{"reason": "max_bytes"})
	require.NoError(t, err)
	require.Equal(t, float64(2*n), refused, "%s: the spans of both refused requests", refusedMetric)
	receiverRefused, err := col.Metric(ctx, "otelcol_receiver_refused_spans", map[string]string{"receiver": "chainotlp"})
	require.NoError(t, err)
	require.Equal(t, float64(2*n), receiverRefused)
	require.Empty(t, sink.TraceIDs(), "nothing decided yet: the first trace waits its decision")
}

// exportRequest encodes an OTLP export request of n one-span traces, the
// trace ids starting at {first, i}, each span with a padding attribute so
// that 50 of them pass 4 KiB.
func exportRequest(t *testing.T, n int, first byte) []byte {
	t.Helper()
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr(semconv.ServiceInstanceIDKey, "node0")
	spans := rs.ScopeSpans().AppendEmpty().Spans()
	now := time.Now()
	for i := range n {
		s := spans.AppendEmpty()
		s.SetName(semconv.SpanBlockApply)
		s.SetTraceID(pcommon.TraceID{first + 1, byte(i + 1), 0xc0})
		s.SetSpanID(pcommon.SpanID{byte(i + 1), 1})
		s.SetStartTimestamp(pcommon.NewTimestampFromTime(now))
		s.SetEndTimestamp(pcommon.NewTimestampFromTime(now.Add(time.Millisecond)))
		s.Attributes().PutInt(semconv.BlockHeightKey, int64(i))
		s.Attributes().PutStr("padding", strings.Repeat("p", 100))
	}
	data, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	require.NoError(t, err)
	return data
}

// grpcExport sends body as a TraceService/Export call and returns its error.
func grpcExport(t *testing.T, addr string, body []byte) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := otlpraw.Export(ctx, addr, body)
	return err
}

// httpAnswer is what an OTLP/HTTP answer is compared by.
type httpAnswer struct {
	code        int
	contentType string
	retryAfter  bool
	grpcCode    codes.Code // of the rpc.Status body of an error
}

// httpExport posts body as protobuf to addr's /v1/traces.
func httpExport(t *testing.T, addr string, body []byte) httpAnswer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/v1/traces", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", pbContentType)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	a := httpAnswer{code: resp.StatusCode, contentType: resp.Header.Get("Content-Type"), retryAfter: resp.Header.Get("Retry-After") != ""}
	if resp.StatusCode != http.StatusOK && a.contentType == pbContentType {
		var st spb.Status
		require.NoError(t, proto.Unmarshal(raw, &st), "the error body is an rpc.Status: %q", raw)
		a.grpcCode = codes.Code(st.GetCode())
	}
	return a
}
