package telemetry

import (
	"context"
	"crypto/tls"
	"net"
	"sync"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// receiver is a real OTLP/gRPC server on a loopback port, as the collector's
// receiver would be: it keeps what it is sent. While held, exports wait until
// released, as a collector that is alive but stuck would make them.
type receiver struct {
	addr string

	mu    sync.Mutex
	spans []ptrace.Span
	logs  []plog.LogRecord
	hold  chan struct{} // nil: answer at once; else wait until closed
}

type receiverOptions struct {
	tls  *tls.Config // server TLS (mutual when ClientAuth is set)
	held bool        // start held
}

func startReceiver(t *testing.T, o receiverOptions) *receiver {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("receiver: listen: %v", err)
	}
	var opts []grpc.ServerOption
	if o.tls != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(o.tls)))
	}
	r := &receiver{addr: lis.Addr().String()}
	if o.held {
		r.hold = make(chan struct{})
	}
	srv := grpc.NewServer(opts...)
	ptraceotlp.RegisterGRPCServer(srv, &traceService{r: r})
	plogotlp.RegisterGRPCServer(srv, &logService{r: r})
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(func() {
		r.release()
		srv.Stop()
	})
	return r
}

// release lets held exports through, and later ones through at once.
func (r *receiver) release() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.hold != nil {
		close(r.hold)
		r.hold = nil
	}
}

func (r *receiver) wait(ctx context.Context) error {
	r.mu.Lock()
	hold := r.hold
	r.mu.Unlock()
	if hold == nil {
		return nil
	}
	select {
	case <-hold:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (r *receiver) Spans() []ptrace.Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]ptrace.Span(nil), r.spans...)
}

func (r *receiver) Logs() []plog.LogRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]plog.LogRecord(nil), r.logs...)
}

type traceService struct {
	ptraceotlp.UnimplementedGRPCServer
	r *receiver
}

func (s *traceService) Export(ctx context.Context, req ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	if err := s.r.wait(ctx); err != nil {
		return ptraceotlp.NewExportResponse(), err
	}
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	rss := req.Traces().ResourceSpans()
	for i := range rss.Len() {
		rs := rss.At(i)
		for j := range rs.ScopeSpans().Len() {
			ss := rs.ScopeSpans().At(j).Spans()
			for k := range ss.Len() {
				// Keep the resource with the span: copy it into a trace of its own.
				sp := ptrace.NewSpan()
				ss.At(k).CopyTo(sp)
				rs.Resource().Attributes().Range(func(k string, v pcommon.Value) bool {
					sp.Attributes().PutStr("resource."+k, v.AsString())
					return true
				})
				s.r.spans = append(s.r.spans, sp)
			}
		}
	}
	return ptraceotlp.NewExportResponse(), nil
}

type logService struct {
	plogotlp.UnimplementedGRPCServer
	r *receiver
}

func (s *logService) Export(ctx context.Context, req plogotlp.ExportRequest) (plogotlp.ExportResponse, error) {
	if err := s.r.wait(ctx); err != nil {
		return plogotlp.NewExportResponse(), err
	}
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	rls := req.Logs().ResourceLogs()
	for i := range rls.Len() {
		sls := rls.At(i).ScopeLogs()
		for j := range sls.Len() {
			lrs := sls.At(j).LogRecords()
			for k := range lrs.Len() {
				lr := plog.NewLogRecord()
				lrs.At(k).CopyTo(lr)
				s.r.logs = append(s.r.logs, lr)
			}
		}
	}
	return plogotlp.NewExportResponse(), nil
}

// recordingLogExporter is a test double: an in-memory sdklog.Exporter, the
// log counterpart of tracetest.InMemoryExporter.
type recordingLogExporter struct {
	mu      sync.Mutex
	records []sdklog.Record
}

var _ sdklog.Exporter = (*recordingLogExporter)(nil)

func (e *recordingLogExporter) Export(_ context.Context, records []sdklog.Record) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, r := range records {
		e.records = append(e.records, r.Clone())
	}
	return nil
}

func (e *recordingLogExporter) Shutdown(context.Context) error   { return nil }
func (e *recordingLogExporter) ForceFlush(context.Context) error { return nil }

func (e *recordingLogExporter) Records() []sdklog.Record {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]sdklog.Record(nil), e.records...)
}
