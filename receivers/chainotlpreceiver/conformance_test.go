package chainotlpreceiver

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"go.opentelemetry.io/collector/receiver/otlpreceiver"
	"go.opentelemetry.io/collector/receiver/receivertest"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	_ "google.golang.org/grpc/encoding/gzip" // the client's gzip compressor
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/chainotel/chainotel/internal/otlpraw"
	"github.com/chainotel/chainotel/receivers/chainotlpreceiver/internal/metadata"
)

// endpoints of one receiver under test.
type endpoints struct {
	grpc, http string
}

// freeAddr is a loopback address nobody listens on, for the core receiver,
// which does not say where it listens.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// startCore runs the core otlp receiver in front of next.
func startCore(t *testing.T, next consumer.Traces) endpoints {
	t.Helper()
	f := otlpreceiver.NewFactory()
	cfg := f.CreateDefaultConfig().(*otlpreceiver.Config)
	ep := endpoints{grpc: freeAddr(t), http: freeAddr(t)}
	cfg.Protocols.GRPC.GetOrInsertDefault().NetAddr.Endpoint = ep.grpc
	cfg.Protocols.HTTP.GetOrInsertDefault().ServerConfig.NetAddr.Endpoint = ep.http
	r, err := f.CreateTraces(context.Background(), receivertest.NewNopSettings(f.Type()), cfg, next)
	require.NoError(t, err)
	require.NoError(t, r.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, r.Shutdown(context.Background())) })
	return ep
}

// startChain runs a chainotlp receiver keeping every trace, in front of
// next; edit changes its config first.
func startChain(t *testing.T, next consumer.Traces, edit func(*Config)) endpoints {
	t.Helper()
	cfg := createDefaultConfig().(*Config)
	cfg.Protocols.GRPC.GetOrInsertDefault().NetAddr.Endpoint = "127.0.0.1:0"
	cfg.Protocols.HTTP.GetOrInsertDefault().ServerConfig.NetAddr.Endpoint = "127.0.0.1:0"
	cfg.Sampling.PolicyFile = filepath.Join("testdata", "keep-all.yaml")
	cfg.Sampling.DecisionWait = 20 * time.Millisecond
	cfg.Sampling.WatchPolicyFile = false
	if edit != nil {
		edit(cfg)
	}
	require.NoError(t, cfg.Validate())
	r, err := newReceiver(receivertest.NewNopSettings(metadata.Type), cfg, next)
	require.NoError(t, err)
	require.NoError(t, r.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, r.Shutdown(context.Background())) })
	ep := endpoints{}
	if r.grpcAddr != nil {
		ep.grpc = r.grpcAddr.String()
	}
	if r.httpAddr != nil {
		ep.http = r.httpAddr.String()
	}
	return ep
}

func sampleTraces(n int) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.instance.id", "node0")
	spans := rs.ScopeSpans().AppendEmpty().Spans()
	for i := range n {
		s := spans.AppendEmpty()
		s.SetName("block.apply")
		s.SetTraceID(pcommon.TraceID{byte(i + 1), 1})
		s.SetSpanID(pcommon.SpanID{byte(i + 1), 2})
		s.Attributes().PutInt("chain.block.height", int64(i))
	}
	return td
}

func encode(t *testing.T, td ptrace.Traces) []byte {
	t.Helper()
	data, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	require.NoError(t, err)
	return data
}

// grpcExport sends body as an Export call and returns the status code and
// the reply's bytes.
func grpcExport(t *testing.T, addr string, body []byte, opts ...grpc.CallOption) (codes.Code, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	reply, err := otlpraw.Export(ctx, addr, body, opts...)
	return status.Code(err), reply
}

// httpResult is what an HTTP answer is compared by.
type httpResult struct {
	code        int
	contentType string
	retryAfter  bool
	grpcCode    codes.Code // of the rpc.Status body, for an error
	body        string     // of a 200 or a plain-text error
}

func httpPost(t *testing.T, method, url, contentType, encoding string, body []byte) httpResult {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, url, bytes.NewReader(body))
	require.NoError(t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if encoding != "" {
		req.Header.Set("Content-Encoding", encoding)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	res := httpResult{code: resp.StatusCode, contentType: resp.Header.Get("Content-Type"), retryAfter: resp.Header.Get("Retry-After") != ""}
	if resp.StatusCode == http.StatusOK || res.contentType == "text/plain" {
		res.body = string(raw)
		return res
	}
	var st spb.Status
	if res.contentType == jsonContentType {
		require.NoError(t, protojson.Unmarshal(raw, &st), "%s", raw)
	} else {
		require.NoError(t, proto.Unmarshal(raw, &st), "%s", raw)
	}
	res.grpcCode = codes.Code(st.GetCode())
	return res
}

func gzipped(t *testing.T, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	_, err := w.Write(data)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return buf.Bytes()
}

// TestAnswersAsTheCoreReceiver sends the same requests to the core otlp
// receiver and to chainotlp, over gRPC and HTTP, and compares the answers:
// codes, content types, bodies, and what reached the pipeline.
func TestAnswersAsTheCoreReceiver(t *testing.T) {
	coreSink, chainSink := new(consumertest.TracesSink), new(consumertest.TracesSink)
	core := startCore(t, coreSink)
	chain := startChain(t, chainSink, nil)

	good := encode(t, sampleTraces(3))
	jsonBody, err := (&ptrace.JSONMarshaler{}).MarshalTraces(sampleTraces(2))
	require.NoError(t, err)
	malformed := good[:len(good)-4]

	t.Run("grpc", func(t *testing.T) {
		for name, tc := range map[string]struct {
			body []byte
			opts []grpc.CallOption
		}{
			"valid":     {body: good},
			"gzip":      {body: good, opts: []grpc.CallOption{grpc.UseCompressor("gzip")}},
			"empty":     {body: nil},
			"malformed": {body: malformed},
			"not otlp":  {body: []byte("\xff\xff\xff")},
		} {
			t.Run(name, func(t *testing.T) {
				wantCode, wantReply := grpcExport(t, core.grpc, tc.body, tc.opts...)
				gotCode, gotReply := grpcExport(t, chain.grpc, tc.body, tc.opts...)
				require.Equal(t, wantCode, gotCode)
				require.Equal(t, wantReply, gotReply)
			})
		}
	})

	t.Run("http", func(t *testing.T) {
		for name, tc := range map[string]struct {
			method, contentType, encoding string
			body                          []byte
		}{
			"protobuf":             {contentType: pbContentType, body: good},
			"protobuf charset":     {contentType: pbContentType + "; charset=utf-8", body: good},
			"json":                 {contentType: jsonContentType, body: jsonBody},
			"gzip":                 {contentType: pbContentType, encoding: "gzip", body: gzipped(t, good)},
			"bad gzip":             {contentType: pbContentType, encoding: "gzip", body: good},
			"unknown encoding":     {contentType: pbContentType, encoding: "br0tli", body: good},
			"malformed protobuf":   {contentType: pbContentType, body: malformed},
			"malformed json":       {contentType: jsonContentType, body: []byte(`{"resourceSpans": [`)},
			"empty":                {contentType: pbContentType},
			"get":                  {method: http.MethodGet, contentType: pbContentType},
			"text":                 {contentType: "text/plain", body: good},
			"no content type":      {body: good},
			"bad gzip, json error": {contentType: jsonContentType, encoding: "gzip", body: jsonBody},
		} {
			t.Run(name, func(t *testing.T) {
				method := tc.method
				if method == "" {
					method = http.MethodPost
				}
				want := httpPost(t, method, "http://"+core.http+"/v1/traces", tc.contentType, tc.encoding, tc.body)
				got := httpPost(t, method, "http://"+chain.http+"/v1/traces", tc.contentType, tc.encoding, tc.body)
				require.Equal(t, want, got)
			})
		}
	})

	// Both pipelines got the same spans: the core one at once, chainotlp's
	// once the keep-all policy decided them.
	require.Eventually(t, func() bool { return chainSink.SpanCount() == coreSink.SpanCount() }, 30*time.Second, 10*time.Millisecond,
		"core %d spans, chainotlp %d", coreSink.SpanCount(), chainSink.SpanCount())
	require.NotZero(t, coreSink.SpanCount())
}

// refusing is a consumer that refuses everything with a retryable error,
// as the core receiver's pipeline does when it is full.
type refusing struct{ consumertest.TracesSink }

func (*refusing) ConsumeTraces(context.Context, ptrace.Traces) error {
	return errors.New("pipeline full")
}

// TestFullAnswersAsTheCoreReceiver: chainotlp with a full buffer refuses a
// request as the core receiver does when its pipeline refuses it (gRPC
// Unavailable, HTTP 503, rpc.Status Unavailable), so the sender retries;
// it also says when (RetryInfo, Retry-After), which the core receiver only
// passes on when its pipeline's status carries it.
func TestFullAnswersAsTheCoreReceiver(t *testing.T) {
	core := startCore(t, &refusing{})
	chain := startChain(t, new(consumertest.TracesSink), func(cfg *Config) {
		cfg.Sampling.WhenFull = "refuse"
		cfg.Sampling.MaxTraces = 1
		cfg.Sampling.DecisionWait = time.Hour
	})
	fill := encode(t, sampleTraces(1))
	code, _ := grpcExport(t, chain.grpc, fill)
	require.Equal(t, codes.OK, code, "the first batch fills the buffer")

	more := encode(t, sampleTraces(3))
	wantCode, _ := grpcExport(t, core.grpc, more)
	gotCode, _ := grpcExport(t, chain.grpc, more)
	require.Equal(t, codes.Unavailable, wantCode)
	require.Equal(t, wantCode, gotCode)

	want := httpPost(t, http.MethodPost, "http://"+core.http+"/v1/traces", pbContentType, "", more)
	got := httpPost(t, http.MethodPost, "http://"+chain.http+"/v1/traces", pbContentType, "", more)
	require.Equal(t, http.StatusServiceUnavailable, want.code)
	require.True(t, got.retryAfter, "chainotlp says when to retry")
	got.retryAfter = want.retryAfter
	require.Equal(t, want, got)
}
