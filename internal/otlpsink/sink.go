// Package otlpsink is an OTLP/gRPC receiver for tests: it accepts traces and
// logs on a loopback port, keeps every span and log record it was sent in
// thread-safe stores, and lets a test wait, with a deadline, until what it
// expects has arrived.
//
// It stands in for the downstream backend (Jaeger, a vendor) that the
// collector exports to, so tests can check what the collector kept.
package otlpsink

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"sync"
	"testing"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	// The collector's OTLP exporter compresses with gzip by default; a real
	// OTLP receiver accepts it, so this one must too.
	_ "google.golang.org/grpc/encoding/gzip"
)

// Sink is a running OTLP/gRPC server and what it has received.
// Its methods are safe for concurrent use.
type Sink struct {
	addr string
	srv  *grpc.Server
	done chan struct{} // closed when Serve returns

	mu    sync.Mutex
	spans []Span
	logs  []LogRecord
	// reqs counts export requests, so a test can tell "nothing sent" from
	// "sent, but empty".
	traceReqs, logReqs int
	changed            chan struct{} // closed and replaced on every receipt
	hold               chan struct{} // nil: answer at once; else exports wait until it is closed
	waiting            int           // exports held now
}

// Options change how a sink serves. The zero value is what Start does.
type Options struct {
	// TLS, when set, makes the sink serve over TLS (mutual TLS when its
	// ClientAuth asks for client certificates).
	TLS *tls.Config
	// Held makes exports wait until Release, or until their caller gives up,
	// as a collector that is alive but stuck would.
	Held bool
}

// Start listens on a free loopback port and serves OTLP/gRPC traces and logs
// until the test ends.
func Start(tb testing.TB) *Sink {
	tb.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("otlpsink: listen: %v", err)
	}
	s := Serve(lis)
	tb.Cleanup(s.Close)
	return s
}

// StartWith is Start with options.
func StartWith(tb testing.TB, o Options) *Sink {
	tb.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("otlpsink: listen: %v", err)
	}
	s := ServeWith(lis, o)
	tb.Cleanup(s.Close)
	return s
}

// Serve serves OTLP/gRPC on lis until Close. Use Start in tests; Serve is for
// callers without a testing.TB (tools that need a throwaway backend).
func Serve(lis net.Listener) *Sink { return ServeWith(lis, Options{}) }

// ServeWith is Serve with options.
func ServeWith(lis net.Listener, o Options) *Sink {
	var opts []grpc.ServerOption
	if o.TLS != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(o.TLS)))
	}
	s := &Sink{
		addr:    lis.Addr().String(),
		srv:     grpc.NewServer(opts...),
		done:    make(chan struct{}),
		changed: make(chan struct{}),
	}
	if o.Held {
		s.hold = make(chan struct{})
	}
	ptraceotlp.RegisterGRPCServer(s.srv, &traceServer{sink: s})
	plogotlp.RegisterGRPCServer(s.srv, &logServer{sink: s})
	go func() {
		defer close(s.done)
		// Serve returns nil once Close stops it; a listener that fails before
		// shows as exports that never arrive, which the waiting test reports.
		_ = s.srv.Serve(lis)
	}()
	return s
}

// Addr is the host:port the sink listens on, as an OTLP exporter endpoint.
func (s *Sink) Addr() string { return s.addr }

// Close stops the server, ending open streams, and waits for it to finish.
func (s *Sink) Close() {
	s.Release()
	s.srv.Stop()
	<-s.done
}

// Release lets held exports through, and later ones through at once. It does
// nothing on a sink that is not held.
func (s *Sink) Release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hold != nil {
		close(s.hold)
		s.hold = nil
	}
}

// wait holds an export while the sink is held, or until ctx ends. An
// export whose caller gave up is not kept, even if Release comes at the
// same moment.
func (s *Sink) wait(ctx context.Context) error {
	s.mu.Lock()
	hold := s.hold
	if hold != nil {
		s.waiting++
		s.notifyLocked()
	}
	s.mu.Unlock()
	if hold == nil {
		return ctx.Err()
	}
	defer func() {
		s.mu.Lock()
		s.waiting--
		s.notifyLocked()
		s.mu.Unlock()
	}()
	select {
	case <-hold:
	case <-ctx.Done():
	}
	return ctx.Err()
}

// Waiting is the number of exports a held sink is holding now.
func (s *Sink) Waiting() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.waiting
}

type traceServer struct {
	ptraceotlp.UnimplementedGRPCServer
	sink *Sink
}

// Export copies the request's spans out: the request's memory belongs to the
// gRPC layer once Export returns.
func (t *traceServer) Export(ctx context.Context, req ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	if err := t.sink.wait(ctx); err != nil {
		return ptraceotlp.NewExportResponse(), err
	}
	t.sink.addTraces(flattenTraces(req.Traces()))
	return ptraceotlp.NewExportResponse(), nil
}

type logServer struct {
	plogotlp.UnimplementedGRPCServer
	sink *Sink
}

// Export copies the request's log records out, as traceServer.Export does.
func (l *logServer) Export(ctx context.Context, req plogotlp.ExportRequest) (plogotlp.ExportResponse, error) {
	if err := l.sink.wait(ctx); err != nil {
		return plogotlp.NewExportResponse(), err
	}
	l.sink.addLogs(flattenLogs(req.Logs()))
	return plogotlp.NewExportResponse(), nil
}

func (s *Sink) addTraces(spans []Span) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.traceReqs++
	s.spans = append(s.spans, spans...)
	s.notifyLocked()
}

func (s *Sink) addLogs(logs []LogRecord) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.logReqs++
	s.logs = append(s.logs, logs...)
	s.notifyLocked()
}

func (s *Sink) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// Changed returns a channel that is closed the next time anything arrives.
// Tests normally use WaitSpans or WaitFor instead.
func (s *Sink) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

// Requests returns how many trace and log export requests have arrived.
func (s *Sink) Requests() (traces, logs int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.traceReqs, s.logReqs
}

// Reset forgets everything received so far.
func (s *Sink) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.spans, s.logs = nil, nil
	s.traceReqs, s.logReqs = 0, 0
}

// String summarises the sink's contents for failure messages.
func (s *Sink) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprintf("otlpsink %s: %d spans in %d requests, %d log records in %d requests",
		s.addr, len(s.spans), s.traceReqs, len(s.logs), s.logReqs)
}
