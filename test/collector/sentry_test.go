//go:build integration

package collector

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/chainotel/chainotel/internal/collectorproc"
	"github.com/chainotel/chainotel/internal/sentrytest"
	"github.com/chainotel/chainotel/semconv"
)

const waitEvents = 60 * time.Second

func setNodeResource(r pcommon.Resource, node string) {
	r.Attributes().PutStr(semconv.ServiceNameKey, semconv.ServiceName)
	r.Attributes().PutStr(semconv.ServiceInstanceIDKey, node)
	r.Attributes().PutStr(semconv.ChainIDKey, "chainotel-dev")
}

func id16(b byte) pcommon.TraceID {
	var id pcommon.TraceID
	for i := range id {
		id[i] = b + byte(i)
	}
	return id
}

func id8(b byte) pcommon.SpanID {
	var id pcommon.SpanID
	for i := range id {
		id[i] = b + byte(i)
	}
	return id
}

func TestErrorsReachSentryWithChainHead(t *testing.T) {
	srv := sentrytest.NewServer(t)
	col := collectorproc.Start(t, collectorproc.Options{
		ConfigFiles: []string{collectorproc.Testdata(t, "sentry.yaml")},
		Env:         []string{"SENTRY_DSN=" + srv.DSN()},
	})
	conn, err := grpc.NewClient(col.OTLPGRPC, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	// The node reports blocks 41 and 42 (commit, then apply).
	heads := ptrace.NewTraces()
	rs := heads.ResourceSpans().AppendEmpty()
	setNodeResource(rs.Resource(), "node1")
	spans := rs.ScopeSpans().AppendEmpty().Spans()
	for _, b := range []struct {
		name   string
		height int64
		hash   string
		root   string
	}{
		{semconv.SpanBlockApply, 41, "0xh41", "0xr41"},
		{semconv.SpanConsensusCommit, 42, "0xh42", ""},
		{semconv.SpanBlockApply, 42, "0xh42", "0xr42"},
	} {
		s := spans.AppendEmpty()
		s.SetName(b.name)
		s.SetTraceID(id16(byte(b.height)))
		s.SetSpanID(id8(byte(b.height)))
		s.Attributes().PutInt(semconv.BlockHeightKey, b.height)
		s.Attributes().PutStr(semconv.BlockHashKey, b.hash)
		if b.root != "" {
			s.Attributes().PutStr(semconv.StateRootKey, b.root)
		}
	}
	_, err = ptraceotlp.NewGRPCClient(conn).Export(ctx, ptraceotlp.NewExportRequestFromTraces(heads))
	require.NoError(t, err)

	// Then a consensus timeout, carrying a secret and an e-mail address.
	errs := ptrace.NewTraces()
	rs = errs.ResourceSpans().AppendEmpty()
	setNodeResource(rs.Resource(), "node1")
	s := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	s.SetName(semconv.SpanConsensusTimeout)
	spanTrace, spanSpan := id16(0x10), id8(0x20)
	s.SetTraceID(spanTrace)
	s.SetSpanID(spanSpan)
	s.Status().SetCode(ptrace.StatusCodeError)
	s.Status().SetMessage("no commit within 2s; operator ops@example.com paged")
	s.Attributes().PutStr("http.request.header.authorization", "Bearer s3cr3t")
	s.Attributes().PutInt(semconv.ConsensusTermKey, 7)
	_, err = ptraceotlp.NewGRPCClient(conn).Export(ctx, ptraceotlp.NewExportRequestFromTraces(errs))
	require.NoError(t, err)

	// And an error log from the same node about a lost peer.
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	setNodeResource(rl.Resource(), "node1")
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName("p2p")
	lr := sl.LogRecords().AppendEmpty()
	lr.SetTimestamp(pcommon.NewTimestampFromTime(time.Now()))
	lr.SetSeverityNumber(plog.SeverityNumberError)
	lr.SetSeverityText("ERROR")
	lr.Body().SetStr("peer node2 disconnected: EOF")
	logTrace := id16(0x30)
	lr.SetTraceID(logTrace)
	lr.SetSpanID(id8(0x40))
	lr.Attributes().PutStr(semconv.PeerIDKey, "node2")
	_, err = plogotlp.NewGRPCClient(conn).Export(ctx, plogotlp.NewExportRequestFromLogs(ld))
	require.NoError(t, err)

	evs := srv.WaitForEvents(t, 2, waitEvents)
	require.Empty(t, srv.Problems(), "the exporter speaks the envelope protocol")
	require.Len(t, evs, 2, "only the error span and the error log become events")
	byType := map[string]sentrytest.Event{}
	for _, ev := range evs {
		byType[ev.Tags[semconv.ErrorTypeKey]] = ev
	}

	span, ok := byType[semconv.ErrorConsensusTimeout]
	require.True(t, ok, "the timeout span was classified: %v", tagsOf(evs))
	assert.Equal(t, spanTrace.String(), span.Contexts["trace"]["trace_id"])
	assert.Equal(t, spanSpan.String(), span.Contexts["trace"]["span_id"])
	assert.Equal(t, "42", span.Tags[semconv.HeadHeightKey])
	assert.Equal(t, "0xh42", span.Tags[semconv.HeadHashKey])
	assert.Equal(t, "0xr42", span.Tags[semconv.HeadStateRootKey])
	assert.Equal(t, "node1", span.Tags[semconv.NodeIDKey])
	assert.Equal(t, "7", span.Tags[semconv.ConsensusTermKey])
	assert.Equal(t, "9.9.9", span.Release)
	assert.Equal(t, "itest", span.Environment)
	assert.Equal(t, []string{semconv.ErrorConsensusTimeout, semconv.SpanConsensusTimeout}, span.Fingerprint)
	assert.Equal(t, "no commit within 2s; operator [REDACTED:email] paged", span.Message)

	log, ok := byType[semconv.ErrorP2PDisconnect]
	require.True(t, ok, "the log was classified: %v", tagsOf(evs))
	assert.Equal(t, logTrace.String(), log.Contexts["trace"]["trace_id"])
	assert.Equal(t, "42", log.Tags[semconv.HeadHeightKey], "logs get the head the node's spans reported")
	assert.Equal(t, "0xh42", log.Tags[semconv.HeadHashKey])
	assert.Equal(t, "node2", log.Tags[semconv.PeerIDKey])
	assert.Equal(t, "peer node2 disconnected: EOF", log.Message)

	for _, ev := range evs {
		raw := fmt.Sprint(ev.Raw)
		assert.NotContains(t, raw, "s3cr3t", "secrets never leave the collector")
		assert.NotContains(t, strings.ToLower(raw), "authorization")
		assert.NotContains(t, raw, "ops@example.com")
	}
}

func tagsOf(evs []sentrytest.Event) []map[string]string {
	var out []map[string]string
	for _, ev := range evs {
		out = append(out, ev.Tags)
	}
	return out
}
