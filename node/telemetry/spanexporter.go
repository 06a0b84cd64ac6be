package telemetry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding/gzip"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// otlpSpanExporter sends spans to an OTLP/gRPC receiver, encoded by
// otlpEncoder straight into a pooled buffer that gRPC writes as it is. It
// behaves as otlptracegrpc v1.45.0 did for the node: the same environment
// variables, retries, per-export timeout, partial-success errors and
// shutdown; only the bad values it used to ignore now fail Setup.
type otlpSpanExporter struct {
	conn     *grpc.ClientConn
	md       metadata.MD
	timeout  time.Duration
	retry    retryPolicy
	callOpts []grpc.CallOption
	encoders sync.Pool // *otlpEncoder
	bufs     *requestBuffers

	// mu is held for reading by each export and for writing by Shutdown,
	// which so waits for the exports in flight.
	mu      sync.RWMutex
	stopped bool
	// stopCtx ends when Shutdown stops waiting, and with it every export
	// still in flight.
	stopCtx       context.Context
	cancelExports context.CancelFunc
	stopOnce      sync.Once
}

var _ sdktrace.SpanExporter = (*otlpSpanExporter)(nil)

const (
	// traceExportMethod is TraceService/Export of opentelemetry-proto.
	traceExportMethod = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
	// maxRequestSize is otlptracegrpc's limit on one request.
	maxRequestSize = 64 << 20
	// splitRequestSize is the most a request may hold before its spans are
	// split over several: the default limit of a gRPC server, and so of a
	// collector's OTLP receiver (max_recv_msg_size_mib unset). A single span
	// over it still goes alone, for a collector that accepts more.
	splitRequestSize = 4 << 20
	// userAgent names this exporter to the collector (gRPC appends its own).
	userAgent = "chainotel-node OTLP span exporter"
)

var errExporterShutdown = errors.New("the span exporter is shut down")

// newOTLPSpanExporter makes the exporter for target t. Like otlptracegrpc it
// does not connect yet: the first export does.
func newOTLPSpanExporter(c Config, t target) (*otlpSpanExporter, error) {
	s, err := c.spanExporterSettings(t)
	if err != nil {
		return nil, err
	}
	creds := insecure.NewCredentials()
	if !s.plain {
		creds = credentials.NewTLS(s.tls) // nil: the system roots
	}
	conn, err := grpc.NewClient(s.endpoint, grpc.WithTransportCredentials(creds), grpc.WithUserAgent(userAgent))
	if err != nil {
		return nil, fmt.Errorf("grpc client for %q: %w", s.endpoint, err)
	}
	e := &otlpSpanExporter{
		conn:     conn,
		timeout:  s.timeout,
		retry:    defaultRetryPolicy(),
		callOpts: []grpc.CallOption{grpc.ForceCodecV2(rawCodec{})},
		encoders: sync.Pool{New: func() any { return new(otlpEncoder) }},
		bufs:     new(requestBuffers),
	}
	if len(s.headers) > 0 {
		e.md = metadata.New(s.headers)
	}
	if s.gzip {
		e.callOpts = append(e.callOpts, grpc.UseCompressor(gzip.Name))
	}
	e.stopCtx, e.cancelExports = context.WithCancel(context.Background())
	return e, nil
}

// ExportSpans sends spans, retrying while the receiver says it may succeed
// later, within the per-export timeout and ctx: in one request, or in
// several when one would exceed splitRequestSize. The span batcher calls it
// from one goroutine at a time; concurrent calls are safe all the same. When
// only some of the requests fail, the error says how many spans were lost
// (lostSpansError).
func (e *otlpSpanExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	lost, err := e.export(ctx, spans)
	if err == nil {
		return nil
	}
	if lost < int64(len(spans)) {
		err = lostSpansError{lost: lost, err: err}
	}
	return fmt.Errorf("traces export: %w", err)
}

// lostSpansError is an export that lost only some of its spans: the ones a
// collector rejected in a partial success, or those of the failed requests
// when the spans went in several.
type lostSpansError struct {
	lost int64
	err  error
}

func (e lostSpansError) Error() string { return e.err.Error() }
func (e lostSpansError) Unwrap() error { return e.err }

// export sends spans in requests of at most splitRequestSize (halving the
// spans until each request fits, or holds one span) and returns how many
// spans were lost with the errors of the requests that lost them.
func (e *otlpSpanExporter) export(ctx context.Context, spans []sdktrace.ReadOnlySpan) (lost int64, err error) {
	buf := e.bufs.get()
	enc := e.encoders.Get().(*otlpEncoder)
	*buf = enc.appendExportRequest(*buf, spans)
	e.encoders.Put(enc)
	switch size := len(*buf); {
	case size == 0: // no span, or only nil ones
		e.bufs.Put(buf)
		return 0, nil
	case size > splitRequestSize && len(spans) > 1:
		e.bufs.Put(buf)
		half := len(spans) / 2
		lostA, errA := e.export(ctx, spans[:half])
		lostB, errB := e.export(ctx, spans[half:])
		return lostA + lostB, errors.Join(errA, errB)
	case size > maxRequestSize:
		e.bufs.Put(buf)
		return int64(len(spans)), fmt.Errorf("request message too large: exceeded %d bytes", maxRequestSize)
	}
	// gRPC holds a reference while it writes the request; the buffer goes
	// back to the pool when the last one is released.
	req := &encodedRequest{buf: mem.NewBuffer(buf, e.bufs)}
	defer req.buf.Free()
	if err := e.upload(ctx, req); err != nil {
		var ps partialSuccessError
		if errors.As(err, &ps) && ps.rejected >= 0 && ps.rejected < int64(len(spans)) {
			return ps.rejected, err
		}
		return int64(len(spans)), err
	}
	return 0, nil
}

func (e *otlpSpanExporter) upload(ctx context.Context, req *encodedRequest) error {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.stopped {
		return errExporterShutdown
	}
	ctx, cancel := e.exportContext(ctx)
	defer cancel()

	b := e.retry.backOff()
	var lastErr error
	_, err := backoff.Retry(ctx, func() (struct{}, error) {
		lastErr = e.send(ctx, req)
		if lastErr == nil {
			return struct{}{}, nil
		}
		again, throttle := retryable(lastErr)
		if !again {
			return struct{}{}, backoff.Permanent(lastErr)
		}
		b.throttle = throttle
		return struct{}{}, lastErr
	}, backoff.WithBackOff(b), backoff.WithMaxElapsedTime(e.retry.maxElapsed))
	if err != nil && lastErr != nil && !errors.Is(err, lastErr) {
		// The context ended the retries: say what the last attempt met too.
		err = fmt.Errorf("%w: %w", err, lastErr)
	}
	return err
}

// send makes one attempt. A partial success (some spans rejected) is an
// error, as otlptracegrpc returns it, and is not retried.
func (e *otlpSpanExporter) send(ctx context.Context, req *encodedRequest) error {
	resp := new(coltracepb.ExportTraceServiceResponse)
	if err := e.conn.Invoke(ctx, traceExportMethod, req, resp, e.callOpts...); err != nil {
		return err
	}
	if ps := resp.GetPartialSuccess(); ps != nil && (ps.GetRejectedSpans() != 0 || ps.GetErrorMessage() != "") {
		return partialSuccessError{rejected: ps.GetRejectedSpans(), message: ps.GetErrorMessage()}
	}
	return nil
}

// exportContext bounds one export by the per-export timeout and by
// Shutdown, and carries the configured headers.
func (e *otlpSpanExporter) exportContext(parent context.Context) (context.Context, context.CancelFunc) {
	var (
		ctx    context.Context
		cancel context.CancelFunc
	)
	if e.timeout > 0 {
		ctx, cancel = context.WithTimeout(parent, e.timeout)
	} else {
		ctx, cancel = context.WithCancel(parent)
	}
	if e.md.Len() > 0 {
		md := e.md
		if out, ok := metadata.FromOutgoingContext(ctx); ok {
			md = metadata.Join(md, out)
		}
		ctx = metadata.NewOutgoingContext(ctx, md)
	}
	stop := context.AfterFunc(e.stopCtx, cancel)
	return ctx, func() {
		stop()
		cancel()
	}
}

// Shutdown waits for the exports in flight, cutting them short when ctx
// ends, and closes the connection. Later exports fail; later calls return
// nil.
func (e *otlpSpanExporter) Shutdown(ctx context.Context) error {
	var err error
	e.stopOnce.Do(func() { err = e.shutdown(ctx) })
	return err
}

func (e *otlpSpanExporter) shutdown(ctx context.Context) error {
	err := ctx.Err()
	locked := make(chan struct{})
	go func() {
		e.mu.Lock()
		close(locked)
	}()
	select {
	case <-locked:
	case <-ctx.Done():
		e.cancelExports()
		err = ctx.Err()
		<-locked
	}
	defer e.mu.Unlock()
	e.stopped = true
	e.cancelExports()
	if cerr := e.conn.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("close grpc connection: %w", cerr)
	}
	return err
}

// partialSuccessError reports spans the receiver accepted the request for
// but rejected, in otlptracegrpc's words.
type partialSuccessError struct {
	rejected int64
	message  string
}

func (e partialSuccessError) Error() string {
	msg := e.message
	if msg == "" {
		msg = "empty message"
	}
	return fmt.Sprintf("OTLP partial success: %s (%d spans rejected)", msg, e.rejected)
}

// retryable is otlptracegrpc's rule: the codes a later attempt may get
// through, and ResourceExhausted only when the server says when (RetryInfo).
// The duration is the server's requested delay, if any.
func retryable(err error) (bool, time.Duration) {
	s := status.Convert(err)
	switch s.Code() {
	case codes.Canceled, codes.DeadlineExceeded, codes.Aborted, codes.OutOfRange, codes.Unavailable, codes.DataLoss:
		_, d := throttleDelay(s)
		return true, d
	case codes.ResourceExhausted:
		return throttleDelay(s)
	}
	return false, 0
}

func throttleDelay(s *status.Status) (bool, time.Duration) {
	for _, detail := range s.Details() {
		if t, ok := detail.(*errdetails.RetryInfo); ok {
			return true, t.GetRetryDelay().AsDuration()
		}
	}
	return false, 0
}

// retryPolicy is otlptracegrpc's default retry configuration.
type retryPolicy struct {
	initial, max, maxElapsed time.Duration
}

func defaultRetryPolicy() retryPolicy {
	return retryPolicy{initial: 5 * time.Second, max: 30 * time.Second, maxElapsed: time.Minute}
}

func (p retryPolicy) backOff() *throttledBackOff {
	return &throttledBackOff{exp: backoff.ExponentialBackOff{
		InitialInterval:     p.initial,
		RandomizationFactor: backoff.DefaultRandomizationFactor,
		Multiplier:          backoff.DefaultMultiplier,
		MaxInterval:         p.max,
	}}
}

// throttledBackOff is exponential backoff that waits at least as long as the
// server last asked (RetryInfo), as otlptracegrpc does.
type throttledBackOff struct {
	exp      backoff.ExponentialBackOff
	throttle time.Duration
}

var _ backoff.BackOff = (*throttledBackOff)(nil)

func (b *throttledBackOff) NextBackOff() time.Duration {
	d := max(b.exp.NextBackOff(), b.throttle)
	b.throttle = 0
	return d
}

func (b *throttledBackOff) Reset() {
	b.exp.Reset()
	b.throttle = 0
}

// encodedRequest is an ExportTraceServiceRequest already in wire format.
type encodedRequest struct {
	buf mem.Buffer
}

// rawCodec passes encodedRequests to gRPC as they are and decodes replies
// with protobuf-go. It is named "proto" so that the content-type is
// application/grpc+proto, which every OTLP/gRPC receiver accepts.
type rawCodec struct{}

func (rawCodec) Name() string { return "proto" }

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	r, ok := v.(*encodedRequest)
	if !ok {
		return nil, fmt.Errorf("span exporter codec: cannot marshal %T", v)
	}
	r.buf.Ref() // released by gRPC once written
	return mem.BufferSlice{r.buf}, nil
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	m, ok := v.(proto.Message)
	if !ok {
		return fmt.Errorf("span exporter codec: cannot unmarshal into %T", v)
	}
	buf := data.MaterializeToBuffer(mem.DefaultBufferPool())
	defer buf.Free()
	return proto.Unmarshal(buf.ReadOnlyData(), m)
}

// Sizes of the request buffers: big enough from the start for gRPC to
// reference-count them rather than treat them as its own, and not kept once
// an unusual batch has grown one past the upper bound.
const (
	minRequestBuffer = 64 << 10
	maxPooledBuffer  = 16 << 20
)

// requestBuffers recycles request buffers. It is also the mem.BufferPool
// that gRPC returns a buffer to once it has written the request.
type requestBuffers struct {
	pool sync.Pool // *[]byte
}

var _ mem.BufferPool = (*requestBuffers)(nil)

// get returns an empty buffer.
func (p *requestBuffers) get() *[]byte {
	if b, ok := p.pool.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, 0, minRequestBuffer)
	return &b
}

func (p *requestBuffers) Get(length int) *[]byte {
	b := p.get()
	if cap(*b) < length {
		*b = make([]byte, length)
	}
	*b = (*b)[:length]
	return b
}

func (p *requestBuffers) Put(b *[]byte) {
	if cap(*b) > maxPooledBuffer {
		return
	}
	*b = (*b)[:0]
	p.pool.Put(b)
}

// spanExporterSettings is where and how the span exporter sends.
type spanExporterSettings struct {
	endpoint string
	plain    bool        // no TLS
	tls      *tls.Config // unless plain; nil: TLS with the system roots
	headers  map[string]string
	gzip     bool
	timeout  time.Duration
}

// The OTLP exporter variables, each read as OTEL_EXPORTER_OTLP_TRACES_<key>
// if set, else OTEL_EXPORTER_OTLP_<key>.
const (
	envOTLPPrefix       = "OTEL_EXPORTER_OTLP_"
	envOTLPTracesPrefix = "OTEL_EXPORTER_OTLP_TRACES_"

	otlpKeyEndpoint    = "ENDPOINT"
	otlpKeyInsecure    = "INSECURE"
	otlpKeyCertificate = "CERTIFICATE"
	otlpKeyClientCert  = "CLIENT_CERTIFICATE"
	otlpKeyClientKey   = "CLIENT_KEY"
	otlpKeyHeaders     = "HEADERS"
	otlpKeyCompression = "COMPRESSION"
	otlpKeyTimeout     = "TIMEOUT"

	// otlpDefaultTimeout bounds one export, retries included.
	otlpDefaultTimeout = 10 * time.Second
)

// spanExporterSettings resolves the exporter's settings as otlptracegrpc did
// with the options traceOptions gave it: first the environment, then what t
// and c decide. Transport security, in order: c.TLS; else TLS with the
// environment's certificates if any are set; else plain text if t asks for
// it, or the environment does (_INSECURE, else the endpoint's http scheme);
// else TLS with the system roots.
func (c Config) spanExporterSettings(t target) (spanExporterSettings, error) {
	s := spanExporterSettings{endpoint: DefaultOTLPEndpoint, timeout: otlpDefaultTimeout}
	plain := false
	if name, v, ok := otlpEnv(otlpKeyEndpoint); ok {
		host, scheme, err := parseEnvEndpoint(name, v)
		if err != nil {
			return s, err
		}
		s.endpoint = host
		if scheme != "" {
			plain = scheme == "http"
		}
	}
	if name, v, ok := otlpEnv(otlpKeyInsecure); ok {
		b, err := parseEnvBool(name, v)
		if err != nil {
			return s, err
		}
		plain = b
	}
	envTLS, err := envTLSConfig()
	if err != nil {
		return s, err
	}
	if name, v, ok := otlpEnv(otlpKeyHeaders); ok {
		if s.headers, err = parseEnvHeaders(name, v); err != nil {
			return s, err
		}
	}
	if name, v, ok := otlpEnv(otlpKeyCompression); ok {
		switch v {
		case "gzip":
			s.gzip = true
		case "none":
		default:
			return s, fmt.Errorf("%w: %s: want gzip or none, got %q", ErrInvalidEnv, name, v)
		}
	}
	if name, v, ok := otlpEnv(otlpKeyTimeout); ok {
		ms, err := strconv.Atoi(v)
		if err != nil || ms < 0 {
			return s, fmt.Errorf("%w: %s: want milliseconds (an integer >= 0; 0 is no limit), got %q", ErrInvalidEnv, name, v)
		}
		s.timeout = time.Duration(ms) * time.Millisecond
	}

	if t.endpoint != "" {
		s.endpoint = t.endpoint
	}
	switch {
	case c.TLS != nil:
		s.tls = c.TLS.Clone()
	case envTLS != nil:
		s.tls = envTLS
	default:
		s.plain = plain || t.insecure
	}
	return s, nil
}

// otlpEnv returns the traces variable for key if it is set, else the
// general one, trimmed; ok is false when neither is set (or both are blank).
func otlpEnv(key string) (name, value string, ok bool) {
	for _, prefix := range []string{envOTLPTracesPrefix, envOTLPPrefix} {
		name = prefix + key
		if v := strings.TrimSpace(os.Getenv(name)); v != "" {
			return name, v, true
		}
	}
	return "", "", false
}

// parseEnvEndpoint reads an endpoint variable (see parseEndpoint). A URL
// with a path is refused: that is an OTLP/HTTP URL, which gRPC cannot reach.
func parseEnvEndpoint(name, raw string) (host, scheme string, err error) {
	host, scheme, path, err := parseEndpoint(raw)
	if err != nil {
		return "", "", fmt.Errorf("%w: %s: %v", ErrInvalidEnv, name, err)
	}
	if path != "" && path != "/" {
		return "", "", fmt.Errorf("%w: %s: %q has a path, which OTLP/gRPC does not take (an OTLP/HTTP URL?)", ErrInvalidEnv, name, raw)
	}
	return host, scheme, nil
}

// parseEnvHeaders reads key=value pairs separated by commas; values are
// URL-decoded. An error names the entry by position and key, never its
// value, which is often a credential.
func parseEnvHeaders(name, raw string) (map[string]string, error) {
	h := make(map[string]string)
	for i, entry := range strings.Split(raw, ",") {
		if strings.TrimSpace(entry) == "" {
			continue
		}
		k, v, found := strings.Cut(entry, "=")
		k = strings.TrimSpace(k)
		if !found {
			return nil, fmt.Errorf("%w: %s: entry %d has no '=' (want key=value,...)", ErrInvalidEnv, name, i+1)
		}
		if !validHeaderKey(k) {
			return nil, fmt.Errorf("%w: %s: entry %d: %q is not a valid header name", ErrInvalidEnv, name, i+1, k)
		}
		val, err := url.PathUnescape(v)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: value of %q is not URL-encoded correctly", ErrInvalidEnv, name, k)
		}
		h[k] = strings.TrimSpace(val)
	}
	return h, nil
}

// validHeaderKey accepts an HTTP token (RFC 9110), as otlptracegrpc does.
func validHeaderKey(k string) bool {
	if k == "" {
		return false
	}
	for _, c := range k {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.ContainsRune("!#$%&'*+-.^_`|~", c):
		default:
			return false
		}
	}
	return true
}

// envTLSConfig is the TLS configuration the certificate variables ask for,
// or nil when none is set.
func envTLSConfig() (*tls.Config, error) {
	var cfg tls.Config
	if name, path, ok := otlpEnv(otlpKeyCertificate); ok {
		raw, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrInvalidEnv, name, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(raw) {
			return nil, fmt.Errorf("%w: %s: no PEM certificate in %q", ErrInvalidEnv, name, path)
		}
		cfg.RootCAs = pool
	}
	for _, prefix := range []string{envOTLPTracesPrefix, envOTLPPrefix} {
		certName, keyName := prefix+otlpKeyClientCert, prefix+otlpKeyClientKey
		certPath, keyPath := strings.TrimSpace(os.Getenv(certName)), strings.TrimSpace(os.Getenv(keyName))
		if certPath == "" && keyPath == "" {
			continue
		}
		if certPath == "" || keyPath == "" {
			return nil, fmt.Errorf("%w: %s and %s go together; only one is set", ErrInvalidEnv, certName, keyName)
		}
		cert, err := tls.LoadX509KeyPair(certPath, keyPath)
		if err != nil {
			return nil, fmt.Errorf("%w: %s=%q, %s=%q: %v", ErrInvalidEnv, certName, certPath, keyName, keyPath, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
		break
	}
	if cfg.RootCAs == nil && cfg.Certificates == nil {
		return nil, nil
	}
	return &cfg, nil
}
