package otlpsink_test

import (
	"context"
	"crypto/tls"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/chainotel/chainotel/internal/otlpsink"
	"github.com/chainotel/chainotel/node/pki"
)

// oneSpanRequest is an export request with one span.
func oneSpanRequest() ptraceotlp.ExportRequest {
	td := ptrace.NewTraces()
	td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty().SetName("held")
	return ptraceotlp.NewExportRequestFromTraces(td)
}

func traceClient(t *testing.T, addr string, creds credentials.TransportCredentials) ptraceotlp.GRPCClient {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return ptraceotlp.NewGRPCClient(conn)
}

// waitWaiting waits until the sink holds n exports.
func waitWaiting(t *testing.T, sink *otlpsink.Sink, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	for sink.Waiting() != n {
		select {
		case <-sink.Changed():
		case <-ctx.Done():
			t.Fatalf("the sink holds %d exports, want %d", sink.Waiting(), n)
		}
	}
}

func TestHeldSinkAnswersOnlyAfterRelease(t *testing.T) {
	sink := otlpsink.StartWith(t, otlpsink.Options{Held: true})
	client := traceClient(t, sink.Addr(), insecure.NewCredentials())

	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := client.Export(ctx, oneSpanRequest())
		done <- err
	}()
	waitWaiting(t, sink, 1)
	require.Empty(t, sink.Spans(), "a held sink keeps nothing before Release")
	select {
	case err := <-done:
		t.Fatalf("a held sink answered before Release: %v", err)
	default:
	}

	sink.Release()
	require.NoError(t, <-done)
	require.Len(t, sink.Spans(), 1)
	sink.Release() // a second release does nothing
}

func TestHeldSinkDropsAnExportWhoseCallerGaveUp(t *testing.T) {
	sink := otlpsink.StartWith(t, otlpsink.Options{Held: true})
	client := traceClient(t, sink.Addr(), insecure.NewCredentials())

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := client.Export(ctx, oneSpanRequest())
		done <- err
	}()
	waitWaiting(t, sink, 1)
	cancel()
	require.Equal(t, codes.Canceled, status.Code(<-done))
	waitWaiting(t, sink, 0)

	sink.Release()
	require.Empty(t, sink.Spans(), "the export its caller gave up on is not kept")
}

func TestSinkServesMutualTLS(t *testing.T) {
	dir := t.TempDir()
	_, err := pki.WriteCluster(dir, []string{"collector", "node0"}, pki.Options{})
	require.NoError(t, err)
	collector, err := pki.LoadNode(dir, "collector")
	require.NoError(t, err)
	node, err := pki.LoadNode(dir, "node0")
	require.NoError(t, err)
	sink := otlpsink.StartWith(t, otlpsink.Options{TLS: collector.ServerConfig()})
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()

	_, err = traceClient(t, sink.Addr(), credentials.NewTLS(node.ClientConfig(""))).Export(ctx, oneSpanRequest())
	require.NoError(t, err)
	require.Len(t, sink.Spans(), 1)

	// Without a client certificate the sink refuses the caller.
	stranger := &tls.Config{RootCAs: node.ClientConfig("").RootCAs, MinVersion: tls.VersionTLS13}
	_, err = traceClient(t, sink.Addr(), credentials.NewTLS(stranger)).Export(ctx, oneSpanRequest())
	require.Error(t, err)
	require.Len(t, sink.Spans(), 1)
}
