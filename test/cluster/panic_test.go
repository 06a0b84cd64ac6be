//go:build integration

package cluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	harness "github.com/chainotel/chainotel/internal/cluster"
	"github.com/chainotel/chainotel/internal/otlpsink"
	"github.com/chainotel/chainotel/node"
	"github.com/chainotel/chainotel/node/telemetry"
	"github.com/chainotel/chainotel/semconv"
)

// postFault asks n's debug fault endpoint for kind and returns the answer.
func postFault(t *testing.T, n *harness.Node, kind string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctxFor(t, requestTimeout), http.MethodPost, n.Health+node.FaultPath+"?kind="+kind, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(body)
}

// waitPanicSpan waits for a goroutine.panic span from node id whose
// thread.name starts with thread, with the exception event and its stack.
func waitPanicSpan(t *testing.T, sink *otlpsink.Sink, id, thread string) otlpsink.Span {
	t.Helper()
	s := sink.WaitSpans(t, spansWithin, "goroutine.panic ("+thread+") from "+id, 1, func(s otlpsink.Span) bool {
		name, _ := s.Attr(semconv.ThreadNameKey)
		return s.Name() == semconv.SpanPanic && nodeOf(s) == id && strings.HasPrefix(name, thread)
	})[0]
	typ, _ := s.Attr(semconv.ErrorTypeKey)
	require.Equal(t, semconv.ErrorGoroutinePanic, typ)
	require.Equal(t, 1, s.Events().Len(), "the exception event")
	stack, ok := s.Events().At(0).Attributes().Get(semconv.ExceptionStacktraceKey)
	require.True(t, ok, "exception.stacktrace on the event")
	require.Contains(t, stack.Str(), "goroutine ", "a Go stack")
	return s
}

// waitPanicLog waits for the panic's error log from node id, inside its span.
func waitPanicLog(t *testing.T, sink *otlpsink.Sink, id string, span otlpsink.Span) {
	t.Helper()
	sink.WaitLogs(t, spansWithin, "the panic log from "+id, 1, func(l otlpsink.LogRecord) bool {
		stack, _ := l.Attr(semconv.ExceptionStacktraceKey)
		return l.SpanID() == span.SpanID() && stack != ""
	})
}

// TestPanicsAreCapturedOnEveryPath panics on purpose in an HTTP handler, a
// gRPC handler and a guarded goroutine of a traced cluster (--debug-faults):
// each is an error span with the stack and an error log; the handlers'
// nodes go on serving, the goroutine's exits with telemetry's panic code.
func TestPanicsAreCapturedOnEveryPath(t *testing.T) {
	sink := otlpsink.Start(t)
	c := startTracedCluster(t, sink, nil, "--debug-faults")
	cl := harness.NewClient(8, requestTimeout)
	n0 := c.Nodes()[0]

	t.Run("HTTP handler", func(t *testing.T) {
		code, body := postFault(t, n0, node.FaultHTTPPanic)
		require.Equal(t, http.StatusInternalServerError, code, body)
		var answer map[string]string
		require.NoError(t, json.Unmarshal([]byte(body), &answer), "a JSON answer: %s", body)
		require.NotEmpty(t, answer["error"])
		s := waitPanicSpan(t, sink, n0.ID, "http health")
		waitPanicLog(t, sink, n0.ID, s)
		code, _ = postFault(t, n0, "nonsense")
		require.Equal(t, http.StatusBadRequest, code, "the health port goes on serving")
		submitMany(t, cl, []*harness.Node{n0}, 1, 1)
	})
	t.Run("gRPC handler", func(t *testing.T) {
		code, body := postFault(t, n0, node.FaultGRPCPanic)
		require.Equal(t, http.StatusAccepted, code, body)
		s := waitPanicSpan(t, sink, n0.ID, "grpc /chainotel.p2p.v1.Peer/Hello")
		waitPanicLog(t, sink, n0.ID, s)
		require.True(t, n0.Running(), "the node goes on serving")
		require.NoError(t, c.WaitHealthy(t.Context(), healthyWithin))
		submitMany(t, cl, c.Nodes(), 3, 1)
	})
	t.Run("goroutine", func(t *testing.T) {
		victim := c.Nodes()[2]
		code, body := postFault(t, victim, node.FaultPanic)
		require.Equal(t, http.StatusAccepted, code, body)
		select {
		case <-victim.Done():
		case <-time.After(spansWithin):
			t.Fatalf("%s still runs %v after its panic", victim.ID, spansWithin)
		}
		var exit *exec.ExitError
		require.True(t, errors.As(victim.ExitErr(), &exit), "exit: %v", victim.ExitErr())
		require.Equal(t, telemetry.PanicExitCode, exit.ExitCode(), fmt.Sprint(victim.ExitErr()))
		s := waitPanicSpan(t, sink, victim.ID, "debug.fault")
		waitPanicLog(t, sink, victim.ID, s)
	})
}
