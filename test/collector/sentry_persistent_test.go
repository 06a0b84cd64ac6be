//go:build integration

package collector

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/chainotel/chainotel/internal/collectorproc"
	"github.com/chainotel/chainotel/internal/sentrytest"
	"github.com/chainotel/chainotel/internal/testproc"
	"github.com/chainotel/chainotel/semconv"
)

// Sentry is down while a collector accepts errors; the collector is
// stopped and a new one starts on the same queue directory once Sentry is
// back: every error arrives, exactly once.
func TestPersistentQueueSurvivesRestart(t *testing.T) {
	srv := sentrytest.NewServer(t)
	srv.Respond(func(int) sentrytest.Response { return sentrytest.Response{Status: http.StatusServiceUnavailable} })
	// testdata/sentry_persistent.yaml: the queue on disk, kept across both runs.
	cfg := collectorproc.Options{
		ConfigFiles: []string{collectorproc.Testdata(t, "sentry_persistent.yaml")},
		Env:         []string{"SENTRY_DSN=" + srv.DSN(), "QUEUE_DIR=" + filepath.Join(t.TempDir(), "queue")},
	}

	first := collectorproc.Start(t, cfg)
	const n = 6
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	setNodeResource(rs.Resource(), "node0")
	spans := rs.ScopeSpans().AppendEmpty().Spans()
	for i := range n {
		s := spans.AppendEmpty()
		s.SetName(fmt.Sprintf("%s.%d", semconv.SpanSyncFetch, i)) // distinct fingerprints: no rate limit
		s.SetTraceID(id16(byte(0x50 + i)))
		s.SetSpanID(id8(byte(0x60 + i)))
		s.Status().SetCode(ptrace.StatusCodeError)
		s.Status().SetMessage("peer went away")
	}
	conn, err := grpc.NewClient(first.OTLPGRPC, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err = ptraceotlp.NewGRPCClient(conn).Export(ctx, ptraceotlp.NewExportRequestFromTraces(td))
	require.NoError(t, err)
	require.NoError(t, conn.Close())

	// Every event was tried (and refused) at least once: all are queued.
	testproc.WaitFor(t, waitEvents, "every event to be tried while Sentry is down", func() error {
		if got := len(srv.Attempts()); got < n {
			return fmt.Errorf("%d of %d events tried", got, n)
		}
		return nil
	})
	require.NoError(t, first.Stop(30*time.Second))
	require.Empty(t, srv.Events())

	srv.Respond(nil)
	second := collectorproc.Start(t, cfg)
	srv.WaitForEvents(t, n, waitEvents)
	require.NoError(t, second.Stop(30*time.Second))

	evs := srv.Events()
	require.Empty(t, srv.Problems())
	require.Len(t, evs, n, "each queued error is delivered once after the restart")
	seen := map[string]bool{}
	for _, ev := range evs {
		id, _ := ev.Contexts["trace"]["span_id"].(string)
		assert.False(t, seen[id], "span %s delivered twice", id)
		seen[id] = true
	}
}
