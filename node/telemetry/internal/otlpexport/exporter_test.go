package otlpexport

import (
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/chainotel/chainotel/node/pki"
)

// testCerts writes a cluster CA and certificates for "collector" and
// "node0" with node/pki, and returns their folder.
func testCerts(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	_, err := pki.WriteCluster(dir, []string{"collector", "node0"}, pki.Options{})
	require.NoError(t, err)
	return dir
}

func oneSpan(name string) []sdktrace.ReadOnlySpan {
	return tracetest.SpanStubs{{
		Name:        name,
		SpanContext: trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}, TraceFlags: trace.FlagsSampled}),
		Attributes:  []attribute.KeyValue{attribute.String("k", "v")},
	}}.Snapshots()
}

func exportCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), exportWait)
	t.Cleanup(cancel)
	return ctx
}

func TestSpanExporterSettings(t *testing.T) {
	certs := testCerts(t)
	ca := filepath.Join(certs, "ca.crt")
	flagTLS := &tls.Config{MinVersion: tls.VersionTLS13, ServerName: "from-config"}
	const (
		plain     = "plain"
		systemTLS = "TLS, system roots"
		envTLS    = "TLS, environment CA"
		configTLS = "TLS, Target.TLS"
	)
	tests := []struct {
		name         string
		env          map[string]string
		target       Target
		wantEndpoint string
		wantSecurity string
		wantHeaders  map[string]string
		wantGzip     bool
		wantTimeout  time.Duration
	}{
		{name: "nothing set: otlptracegrpc's default", wantEndpoint: "localhost:4317", wantSecurity: systemTLS},
		{name: "http URL", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:1"}, wantEndpoint: "c:1", wantSecurity: plain},
		{name: "https URL with a slash", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "HTTPS://c:1/"}, wantEndpoint: "c:1", wantSecurity: systemTLS},
		{name: "host:port is TLS unless told", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "c:1"}, wantEndpoint: "c:1", wantSecurity: systemTLS},
		{name: "host:port in plain text", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "c:1", "OTEL_EXPORTER_OTLP_INSECURE": "TRUE"},
			wantEndpoint: "c:1", wantSecurity: plain},
		{name: "traces endpoint wins, with its scheme", env: map[string]string{
			"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:1", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": " https://b:2 "},
			wantEndpoint: "b:2", wantSecurity: systemTLS},
		{name: "blank traces endpoint is unset", env: map[string]string{
			"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:1", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "  "},
			wantEndpoint: "a:1", wantSecurity: plain},
		{name: "INSECURE wins over the scheme", env: map[string]string{
			"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://b:2", "OTEL_EXPORTER_OTLP_INSECURE": "true"},
			wantEndpoint: "b:2", wantSecurity: plain},
		{name: "TRACES_INSECURE wins over INSECURE", env: map[string]string{
			"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:1", "OTEL_EXPORTER_OTLP_INSECURE": "true", "OTEL_EXPORTER_OTLP_TRACES_INSECURE": "false"},
			wantEndpoint: "a:1", wantSecurity: systemTLS},
		{name: "a certificate makes it TLS whatever else says", env: map[string]string{
			"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:1", "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE": ca},
			target: Target{Insecure: true}, wantEndpoint: "a:1", wantSecurity: envTLS},
		{name: "the flag's endpoint and plain text win", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "https://a:1"},
			target: Target{Endpoint: "flag:3", Insecure: true}, wantEndpoint: "flag:3", wantSecurity: plain},
		{name: "Target.TLS wins over everything", env: map[string]string{
			"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:1", "OTEL_EXPORTER_OTLP_CERTIFICATE": ca},
			target: Target{Endpoint: "flag:3", TLS: flagTLS}, wantEndpoint: "flag:3", wantSecurity: configTLS},
		{name: "headers, URL-decoded and trimmed", env: map[string]string{"OTEL_EXPORTER_OTLP_HEADERS": "a=1, b = x%20y%2Cz ,,"},
			wantEndpoint: "localhost:4317", wantSecurity: systemTLS, wantHeaders: map[string]string{"a": "1", "b": "x y,z"}},
		{name: "traces headers replace the general ones", env: map[string]string{
			"OTEL_EXPORTER_OTLP_HEADERS": "a=1", "OTEL_EXPORTER_OTLP_TRACES_HEADERS": "c=3"},
			wantEndpoint: "localhost:4317", wantSecurity: systemTLS, wantHeaders: map[string]string{"c": "3"}},
		{name: "gzip", env: map[string]string{"OTEL_EXPORTER_OTLP_COMPRESSION": "gzip"},
			wantEndpoint: "localhost:4317", wantSecurity: systemTLS, wantGzip: true},
		{name: "traces compression wins", env: map[string]string{
			"OTEL_EXPORTER_OTLP_COMPRESSION": "gzip", "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION": "none"},
			wantEndpoint: "localhost:4317", wantSecurity: systemTLS},
		{name: "timeout in milliseconds", env: map[string]string{"OTEL_EXPORTER_OTLP_TIMEOUT": "1500"},
			wantEndpoint: "localhost:4317", wantSecurity: systemTLS, wantTimeout: 1500 * time.Millisecond},
		{name: "traces timeout wins; 0 is no limit", env: map[string]string{
			"OTEL_EXPORTER_OTLP_TIMEOUT": "5", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "0"},
			wantEndpoint: "localhost:4317", wantSecurity: systemTLS, wantTimeout: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearOTLPEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			s, err := resolveSettings(tt.target)
			require.NoError(t, err)
			require.Equal(t, tt.wantEndpoint, s.endpoint)
			var security string
			switch {
			case s.plain:
				require.Nil(t, s.tls)
				security = plain
			case s.tls == nil:
				security = systemTLS
			case s.tls.ServerName == "from-config":
				require.NotSame(t, flagTLS, s.tls, "Config.TLS is cloned")
				security = configTLS
			default:
				require.NotNil(t, s.tls.RootCAs)
				security = envTLS
			}
			require.Equal(t, tt.wantSecurity, security)
			if tt.wantHeaders == nil {
				require.Empty(t, s.headers)
			} else {
				require.Equal(t, tt.wantHeaders, s.headers)
			}
			require.Equal(t, tt.wantGzip, s.gzip)
			switch tt.wantTimeout {
			case 0:
				require.Equal(t, otlpDefaultTimeout, s.timeout)
			case -1:
				require.Zero(t, s.timeout)
			default:
				require.Equal(t, tt.wantTimeout, s.timeout)
			}
		})
	}
}

func TestSpanExporterSettingsRejectBadValues(t *testing.T) {
	certs := testCerts(t)
	garbage := filepath.Join(t.TempDir(), "garbage.pem")
	require.NoError(t, os.WriteFile(garbage, []byte("not a certificate"), 0o600))
	tests := []struct {
		name    string
		env     map[string]string
		wantAll []string // the error names these
		hidden  string   // and never shows this
	}{
		{name: "host without port", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "collector"},
			wantAll: []string{"OTEL_EXPORTER_OTLP_ENDPOINT", `"collector"`}},
		{name: "scheme", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "grpc://c:1"},
			wantAll: []string{"OTEL_EXPORTER_OTLP_ENDPOINT", `"grpc://c:1"`, "http or https"}},
		{name: "an OTLP/HTTP URL", env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"},
			wantAll: []string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", `"http://c:4318/v1/traces"`, "path"}},
		{name: "no host", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "https://"},
			wantAll: []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "no host"}},
		{name: "insecure", env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_INSECURE": "yes"},
			wantAll: []string{"OTEL_EXPORTER_OTLP_TRACES_INSECURE", `"yes"`}},
		{name: "compression", env: map[string]string{"OTEL_EXPORTER_OTLP_COMPRESSION": "zstd"},
			wantAll: []string{"OTEL_EXPORTER_OTLP_COMPRESSION", `"zstd"`, "gzip or none"}},
		{name: "timeout with a unit", env: map[string]string{"OTEL_EXPORTER_OTLP_TIMEOUT": "10s"},
			wantAll: []string{"OTEL_EXPORTER_OTLP_TIMEOUT", `"10s"`, "milliseconds"}},
		{name: "negative timeout", env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "-1"},
			wantAll: []string{"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", `"-1"`}},
		{name: "header without =", env: map[string]string{"OTEL_EXPORTER_OTLP_HEADERS": "a=1,Bearer s3cret"},
			wantAll: []string{"OTEL_EXPORTER_OTLP_HEADERS", "entry 2", "no '='"}, hidden: "s3cret"},
		{name: "header name", env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_HEADERS": "bad key=s3cret"},
			wantAll: []string{"OTEL_EXPORTER_OTLP_TRACES_HEADERS", `"bad key"`}, hidden: "s3cret"},
		{name: "header encoding", env: map[string]string{"OTEL_EXPORTER_OTLP_HEADERS": "k=s3cret%zz"},
			wantAll: []string{"OTEL_EXPORTER_OTLP_HEADERS", `"k"`, "URL-encoded"}, hidden: "s3cret"},
		{name: "missing CA file", env: map[string]string{"OTEL_EXPORTER_OTLP_CERTIFICATE": "/nonexistent/ca.pem"},
			wantAll: []string{"OTEL_EXPORTER_OTLP_CERTIFICATE", "/nonexistent/ca.pem"}},
		{name: "CA file without a certificate", env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE": garbage},
			wantAll: []string{"OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", garbage, "no PEM certificate"}},
		{name: "client certificate without key", env: map[string]string{
			"OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE": filepath.Join(certs, "node0.crt")},
			wantAll: []string{"OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "OTEL_EXPORTER_OTLP_CLIENT_KEY"}},
		{name: "client key that does not match", env: map[string]string{
			"OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE": filepath.Join(certs, "node0.crt"),
			"OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY":         filepath.Join(certs, "collector.key")},
			wantAll: []string{"OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE", "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY", "collector.key"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearOTLPEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			_, err := resolveSettings(Target{})
			require.ErrorIs(t, err, ErrInvalidEnv)
			for _, want := range tt.wantAll {
				require.ErrorContains(t, err, want)
			}
			if tt.hidden != "" {
				require.NotContains(t, err.Error(), tt.hidden)
			}
		})
	}
}

func TestSpanExporterSendsHeaders(t *testing.T) {
	clearOTLPEnv(t)
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "X-Api-Key=s%20ecret,tenant=t1")
	srv := startCaptureServer(t)
	e := newTestExporter(t, srv.addr)
	ctx := metadata.AppendToOutgoingContext(exportCtx(t), "x-call", "1")
	require.NoError(t, e.ExportSpans(ctx, oneSpan("a")))
	md := srv.metadata()
	require.Len(t, md, 1)
	require.Equal(t, []string{"s ecret"}, md[0].Get("x-api-key"))
	require.Equal(t, []string{"t1"}, md[0].Get("tenant"))
	require.Equal(t, []string{"1"}, md[0].Get("x-call"), "the caller's own metadata is kept")
	require.Equal(t, []string{"application/grpc+proto"}, md[0].Get("content-type"))
}

func TestSpanExporterGzip(t *testing.T) {
	clearOTLPEnv(t)
	srv := startCaptureServer(t)
	spans := coverageSpans()
	plainExp := newTestExporter(t, srv.addr)
	require.NoError(t, plainExp.ExportSpans(exportCtx(t), spans))

	t.Setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")
	gzipExp := newTestExporter(t, srv.addr)
	require.NoError(t, gzipExp.ExportSpans(exportCtx(t), spans))

	require.Equal(t, []string{"", "gzip"}, srv.compressions())
	reqs := srv.take()
	require.Len(t, reqs, 2)
	require.True(t, proto.Equal(reqs[0], reqs[1]), "the gzipped request decodes to the same request")
}

func TestSpanExporterMutualTLSFromEnvironment(t *testing.T) {
	clearOTLPEnv(t)
	certs := testCerts(t)
	collector, err := pki.LoadNode(certs, "collector")
	require.NoError(t, err)
	srv := startCaptureServer(t, grpc.Creds(credentials.NewTLS(collector.ServerConfig())))

	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "https://"+srv.addr)
	t.Setenv("OTEL_EXPORTER_OTLP_CERTIFICATE", filepath.Join(certs, "ca.crt"))
	t.Setenv("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", filepath.Join(certs, "node0.crt"))
	t.Setenv("OTEL_EXPORTER_OTLP_CLIENT_KEY", filepath.Join(certs, "node0.key"))
	// The environment names the endpoint, so the node leaves everything to it.
	e, err := NewSpanExporter(Target{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = e.Shutdown(context.Background()) })
	require.NoError(t, e.ExportSpans(exportCtx(t), oneSpan("over mTLS")))
	require.Equal(t, 1, srv.calls())

	// Without the client certificate the collector refuses the node.
	t.Setenv("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "")
	t.Setenv("OTEL_EXPORTER_OTLP_CLIENT_KEY", "")
	t.Setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "300") // retries of the refused handshake end here
	stranger, err := NewSpanExporter(Target{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = stranger.Shutdown(context.Background()) })
	stranger.retry.initial = time.Millisecond
	err = stranger.ExportSpans(exportCtx(t), oneSpan("stranger"))
	require.Error(t, err)
	require.Equal(t, 1, srv.calls(), "the stranger's request must not arrive")
}

func TestSpanExporterRetries(t *testing.T) {
	clearOTLPEnv(t)
	throttled := func(d time.Duration) error {
		st, err := status.New(codes.ResourceExhausted, "slow down").WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(d)})
		require.NoError(t, err)
		return st.Err()
	}
	tests := []struct {
		name      string
		first     error
		firstResp *coltracepb.ExportTraceServiceResponse
		wantCalls int
		wantErr   string // empty: success
	}{
		{name: "unavailable, then success", first: status.Error(codes.Unavailable, "restarting"), wantCalls: 2},
		{name: "aborted, then success", first: status.Error(codes.Aborted, "conflict"), wantCalls: 2},
		{name: "resource exhausted with RetryInfo, then success", first: throttled(time.Millisecond), wantCalls: 2},
		{name: "resource exhausted without RetryInfo is final", first: status.Error(codes.ResourceExhausted, "full"),
			wantCalls: 1, wantErr: "traces export: rpc error: code = ResourceExhausted desc = full"},
		{name: "invalid argument is final", first: status.Error(codes.InvalidArgument, "bad span"),
			wantCalls: 1, wantErr: "traces export: rpc error: code = InvalidArgument desc = bad span"},
		{name: "partial success is an error, not retried",
			firstResp: &coltracepb.ExportTraceServiceResponse{PartialSuccess: &coltracepb.ExportTracePartialSuccess{RejectedSpans: 3, ErrorMessage: "too old"}},
			wantCalls: 1, wantErr: "traces export: OTLP partial success: too old (3 spans rejected)"},
		{name: "empty partial success is success",
			firstResp: &coltracepb.ExportTraceServiceResponse{PartialSuccess: &coltracepb.ExportTracePartialSuccess{}}, wantCalls: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startCaptureServer(t)
			srv.setReply(func(_ context.Context, call int) (*coltracepb.ExportTraceServiceResponse, error) {
				if call == 1 {
					if tt.first != nil {
						return nil, tt.first
					}
					return tt.firstResp, nil
				}
				return &coltracepb.ExportTraceServiceResponse{}, nil
			})
			e := newTestExporter(t, srv.addr)
			err := e.ExportSpans(exportCtx(t), oneSpan("retried"))
			if tt.wantErr == "" {
				require.NoError(t, err)
			} else {
				require.EqualError(t, err, tt.wantErr)
			}
			require.Equal(t, tt.wantCalls, srv.calls())
		})
	}
}

func TestRetryWaitsAsLongAsTheServerAsks(t *testing.T) {
	b := retryPolicy{initial: time.Millisecond, max: 10 * time.Millisecond}.backOff()
	b.throttle = time.Hour
	require.Equal(t, time.Hour, b.NextBackOff())
	require.Less(t, b.NextBackOff(), time.Hour, "the request applies to one wait only")
}

func TestSpanExporterRetriesStopWithTheCaller(t *testing.T) {
	clearOTLPEnv(t)
	srv := startCaptureServer(t)
	srv.setReply(func(context.Context, int) (*coltracepb.ExportTraceServiceResponse, error) {
		return nil, status.Error(codes.Unavailable, "down")
	})
	e := newTestExporter(t, srv.addr)
	e.retry = retryPolicy{initial: time.Hour, max: time.Hour, maxElapsed: 2 * time.Hour} // only the caller can end the wait
	ctx, cancel := context.WithCancel(exportCtx(t))
	go func() {
		// The caller gives up once the receiver has said it is unavailable.
		for srv.calls() == 0 && ctx.Err() == nil {
			runtime.Gosched()
		}
		cancel()
	}()
	err := e.ExportSpans(ctx, oneSpan("abandoned"))
	require.ErrorIs(t, err, context.Canceled)
	// Whether the cancellation met the first attempt or the wait after it,
	// the error says what the attempt got.
	require.ErrorContains(t, err, "rpc error")
	require.Equal(t, 1, srv.calls())
}

func TestSpanExporterTimeout(t *testing.T) {
	clearOTLPEnv(t)
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "100")
	srv := startCaptureServer(t)
	cancelled := make(chan struct{}, 1)
	srv.setReply(func(ctx context.Context, _ int) (*coltracepb.ExportTraceServiceResponse, error) {
		<-ctx.Done() // a collector that never answers
		cancelled <- struct{}{}
		return nil, ctx.Err()
	})
	e := newTestExporter(t, srv.addr)
	caller := exportCtx(t)
	err := e.ExportSpans(caller, oneSpan("stuck"))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.NoError(t, caller.Err(), "the exporter's own timeout ended the export, not the caller's")
	select {
	case <-cancelled:
	case <-time.After(exportWait):
		t.Fatal("the receiver never saw the call cancelled")
	}
}

func TestSpanExporterShutdown(t *testing.T) {
	clearOTLPEnv(t)
	srv := startCaptureServer(t)
	e := newTestExporter(t, srv.addr)
	require.NoError(t, e.ExportSpans(exportCtx(t), oneSpan("before")))
	require.NoError(t, e.Shutdown(exportCtx(t)))
	err := e.ExportSpans(exportCtx(t), oneSpan("after"))
	require.ErrorIs(t, err, errExporterShutdown)
	require.NoError(t, e.ExportSpans(exportCtx(t), nil), "nothing to send is not an error, as in otlptracegrpc")
	require.NoError(t, e.Shutdown(exportCtx(t)), "a second shutdown")
	require.Equal(t, 1, srv.calls())
}

func TestSpanExporterShutdownCutsExportsShort(t *testing.T) {
	clearOTLPEnv(t)
	srv := startCaptureServer(t)
	srv.setReply(func(ctx context.Context, _ int) (*coltracepb.ExportTraceServiceResponse, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	})
	e := newTestExporter(t, srv.addr)
	exported := make(chan error, 1)
	go func() { exported <- e.ExportSpans(exportCtx(t), oneSpan("in flight")) }()
	require.Eventually(t, func() bool { return srv.calls() == 1 }, exportWait, time.Millisecond)

	ctx, cancel := context.WithCancel(context.Background())
	cancel() // no time left to wait for the export
	require.ErrorIs(t, e.Shutdown(ctx), context.Canceled)
	select {
	case err := <-exported:
		require.ErrorIs(t, err, context.Canceled)
	case <-time.After(exportWait):
		t.Fatal("the export in flight was not cut short")
	}
}

// TestSpanExporterConcurrentExports checks the pooled encoders and buffers
// under the race detector: the batch processor exports from one goroutine,
// but nothing stops others from calling.
func TestSpanExporterConcurrentExports(t *testing.T) {
	clearOTLPEnv(t)
	srv := startCaptureServer(t)
	e := newTestExporter(t, srv.addr)
	spans := coverageSpans()
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for range 4 {
		wg.Go(func() {
			for range 10 {
				errs <- e.ExportSpans(exportCtx(t), spans)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	reqs := srv.take()
	require.Len(t, reqs, 40)
	for _, r := range reqs[1:] {
		require.True(t, proto.Equal(reqs[0], r), "every request decodes the same")
	}
}

// bigSpans are n spans carrying an attribute of size bytes each.
func bigSpans(n, size int) []sdktrace.ReadOnlySpan {
	stubs := make(tracetest.SpanStubs, n)
	for i := range stubs {
		stubs[i] = tracetest.SpanStub{
			Name: fmt.Sprintf("big-%d", i),
			SpanContext: trace.NewSpanContext(trace.SpanContextConfig{
				TraceID: trace.TraceID{1, byte(i)}, SpanID: trace.SpanID{2, byte(i)}, TraceFlags: trace.FlagsSampled,
			}),
			Attributes: []attribute.KeyValue{attribute.String("payload", strings.Repeat("x", size))},
		}
	}
	return stubs.Snapshots()
}

func TestSpanExporterSplitsRequestsOverTheCollectorsLimit(t *testing.T) {
	clearOTLPEnv(t)
	// A receiver with gRPC's default limit, as a collector has by default.
	srv := startCaptureServer(t, grpc.MaxRecvMsgSize(splitRequestSize))
	e := newTestExporter(t, srv.addr)

	// 40 spans of 200 KB: 8 MB, more than one request may hold.
	require.NoError(t, e.ExportSpans(exportCtx(t), bigSpans(40, 200<<10)))
	reqs := srv.take()
	require.Greater(t, len(reqs), 1, "the spans went in several requests")
	got := 0
	for _, r := range reqs {
		require.LessOrEqual(t, proto.Size(r), splitRequestSize)
		got += len(r.GetResourceSpans()[0].GetScopeSpans()[0].GetSpans())
	}
	require.Equal(t, 40, got, "every span arrived")

	// One span over the limit is refused by the receiver; only it is lost.
	spans := append(bigSpans(3, 1<<10), bigSpans(1, splitRequestSize+1)...)
	err := e.ExportSpans(exportCtx(t), spans)
	var some lostSpansError
	require.ErrorAs(t, err, &some, "an export that lost some spans says how many: %v", err)
	require.EqualValues(t, 1, some.lost)
	require.ErrorContains(t, err, "ResourceExhausted")
	got = 0
	for _, r := range srv.take() {
		got += len(r.GetResourceSpans()[0].GetScopeSpans()[0].GetSpans())
	}
	require.Equal(t, 3, got, "the spans that fit arrived")
}

func TestRawCodecRefusesOtherMessages(t *testing.T) {
	_, err := rawCodec{}.Marshal(&coltracepb.ExportTraceServiceRequest{})
	require.ErrorContains(t, err, "cannot marshal")
	err = rawCodec{}.Unmarshal(nil, "not a message")
	require.ErrorContains(t, err, "cannot unmarshal")
	require.Equal(t, "proto", rawCodec{}.Name(), "the content-type stays application/grpc+proto")
}
