package otlpexport

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding/gzip"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
)

// SpanExporter sends spans to an OTLP/gRPC receiver, encoded by
// otlpEncoder straight into a pooled buffer that gRPC writes as it is. It
// behaves as otlptracegrpc v1.45.0 did for the node: the same environment
// variables, retries, per-export timeout, partial-success errors and
// shutdown; only the bad values it used to ignore now fail NewSpanExporter
// (and so the node's telemetry Setup).
type SpanExporter struct {
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

var _ sdktrace.SpanExporter = (*SpanExporter)(nil)

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

// NewSpanExporter makes the exporter for t, with the rest of its settings
// from the OTEL_EXPORTER_OTLP_* variables. Like otlptracegrpc it does not
// connect yet: the first export does. A bad variable is an ErrInvalidEnv
// naming it.
func NewSpanExporter(t Target) (*SpanExporter, error) {
	s, err := resolveSettings(t)
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
	e := &SpanExporter{
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
func (e *SpanExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
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
func (e *SpanExporter) export(ctx context.Context, spans []sdktrace.ReadOnlySpan) (lost int64, err error) {
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

func (e *SpanExporter) upload(ctx context.Context, req *encodedRequest) error {
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
func (e *SpanExporter) send(ctx context.Context, req *encodedRequest) error {
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
func (e *SpanExporter) exportContext(parent context.Context) (context.Context, context.CancelFunc) {
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
func (e *SpanExporter) Shutdown(ctx context.Context) error {
	var err error
	e.stopOnce.Do(func() { err = e.shutdown(ctx) })
	return err
}

func (e *SpanExporter) shutdown(ctx context.Context) error {
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
