package sentryexporter

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/zap/zaptest"

	"github.com/chainotel/chainotel/collector/sentryexporter/internal/metadatatest"
	"github.com/chainotel/chainotel/internal/sentrytest"
	"github.com/chainotel/chainotel/semconv"
)

// goPanicStack is what the node records for a recovered panic.
const goPanicStack = `goroutine 42 [running]:
runtime/debug.Stack()
	/usr/local/go/src/runtime/debug/stack.go:26 +0x5e
github.com/chainotel/chainotel/node/chain.(*Applier).Apply.func1()
	/src/node/chain/apply.go:88 +0x45
panic({0x10a2b40?, 0xc000123450?})
	/usr/local/go/src/runtime/panic.go:785 +0x132
github.com/chainotel/chainotel/node/chain.(*Applier).Apply(0xc0001a2000, {0x12, 0x34})
	/src/node/chain/apply.go:120 +0x2a
created by github.com/chainotel/chainotel/node/consensus.(*Raft).run in goroutine 7
	/src/node/consensus/raft.go:301 +0x1d0

goroutine 1 [chan receive]:
main.main()
	/src/node/cmd/blockchain/main.go:30 +0x99
`

// testConfig is the default config pointed at srv, with fast retries and
// no rate limit (the tests send many errors of one fingerprint).
func testConfig(srv *sentrytest.Server) *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.DSN = configopaque.String(srv.DSN())
	cfg.RateLimit.Burst = 0
	cfg.BackOffConfig.InitialInterval = 10 * time.Millisecond
	cfg.BackOffConfig.MaxInterval = 50 * time.Millisecond
	cfg.BackOffConfig.RandomizationFactor = 0
	return cfg
}

// sequential makes one queue consumer send at a time, for tests about the
// order and timing of requests.
func sequential(cfg *Config) *Config {
	cfg.QueueConfig.Get().NumConsumers = 1
	return cfg
}

type started struct {
	traces     exporter.Traces
	logs       exporter.Logs
	tt         *componenttest.Telemetry
	tracesOnce *sync.Once
	logsOnce   *sync.Once
}

// start creates and starts both exporters through the factory; they are
// shut down at cleanup.
func start(t *testing.T, cfg *Config) *started {
	t.Helper()
	require.NoError(t, cfg.Validate())
	ctx := context.Background()
	tt := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tt.Shutdown(ctx)) })
	f := NewFactory()
	set := metadatatest.NewSettings(tt)
	set.Logger = zaptest.NewLogger(t)
	te, err := f.CreateTraces(ctx, set, cfg)
	require.NoError(t, err)
	le, err := f.CreateLogs(ctx, set, cfg)
	require.NoError(t, err)
	require.NoError(t, te.Start(ctx, componenttest.NewNopHost()))
	require.NoError(t, le.Start(ctx, componenttest.NewNopHost()))
	s := &started{traces: te, logs: le, tt: tt, tracesOnce: &sync.Once{}, logsOnce: &sync.Once{}}
	t.Cleanup(func() {
		s.stopTraces(t)
		s.stopLogs(t)
	})
	return s
}

// stopTraces shuts the traces exporter down (draining its queue), once.
func (s *started) stopTraces(t *testing.T) {
	s.tracesOnce.Do(func() { require.NoError(t, s.traces.Shutdown(context.Background())) })
}

// stopLogs shuts the logs exporter down (draining its queue), once.
func (s *started) stopLogs(t *testing.T) {
	s.logsOnce.Do(func() { require.NoError(t, s.logs.Shutdown(context.Background())) })
}

func fillResource(r pcommon.Resource, node string) {
	a := r.Attributes()
	a.PutStr(semconv.ServiceNameKey, semconv.ServiceName)
	a.PutStr(semconv.ServiceInstanceIDKey, node)
	a.PutStr(semconv.ServiceVersionKey, "0.3.0")
	a.PutStr(semconv.DeploymentEnvironmentKey, "dev")
	a.PutStr(semconv.ChainIDKey, "chainotel-dev")
	a.PutStr("telemetry.sdk.language", "go")
}

func traceID(i int) pcommon.TraceID {
	var id pcommon.TraceID
	id[0], id[14], id[15] = 0xab, byte(i>>8), byte(i)
	return id
}

func spanID(i int) pcommon.SpanID {
	var id pcommon.SpanID
	id[0], id[6], id[7] = 0xcd, byte(i>>8), byte(i)
	return id
}

// errorSpans builds n error spans named name with error.type errType (and a
// non-error span after each, which must not become an event).
func errorSpans(n int, name, errType string) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	fillResource(rs.Resource(), "node1")
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("github.com/chainotel/chainotel/node/chain")
	base := time.Date(2026, 11, 24, 18, 0, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		s := ss.Spans().AppendEmpty()
		s.SetName(name)
		s.SetTraceID(traceID(i + 1))
		s.SetSpanID(spanID(i + 1))
		s.SetParentSpanID(spanID(1000 + i))
		s.SetStartTimestamp(pcommon.NewTimestampFromTime(base.Add(time.Duration(i) * time.Second)))
		s.SetEndTimestamp(pcommon.NewTimestampFromTime(base.Add(time.Duration(i)*time.Second + 5*time.Millisecond)))
		s.Status().SetCode(ptrace.StatusCodeError)
		s.Status().SetMessage(fmt.Sprintf("apply block %d: boom", 100+i))
		a := s.Attributes()
		a.PutStr(semconv.ErrorTypeKey, errType)
		a.PutInt(semconv.BlockHeightKey, int64(100+i))
		a.PutInt(semconv.HeadHeightKey, int64(99+i))
		a.PutStr(semconv.HeadHashKey, "0xhead")
		a.PutStr(semconv.StateRootKey, "0xroot")
		a.PutStr(semconv.NodeIDKey, "node1")
		a.PutStr(semconv.PeerIDKey, "node2")
		a.PutStr("internal.detail", "not a tag")
		ev := s.Events().AppendEmpty()
		ev.SetName(semconv.ExceptionEventName)
		ev.Attributes().PutStr(semconv.ExceptionTypeKey, "runtime.Error")
		ev.Attributes().PutStr(semconv.ExceptionMessageKey, "index out of range [5] with length 3")
		ev.Attributes().PutStr(semconv.ExceptionStacktraceKey, goPanicStack)

		ok := ss.Spans().AppendEmpty()
		ok.SetName(semconv.SpanMempoolAdd)
		ok.SetTraceID(traceID(i + 1))
		ok.SetSpanID(spanID(5000 + i))
	}
	return td
}

// errorLogs builds n ERROR logs and one INFO log.
func errorLogs(n int) plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	fillResource(rl.Resource(), "node2")
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName("p2p")
	for i := 0; i < n; i++ {
		lr := sl.LogRecords().AppendEmpty()
		lr.SetTimestamp(pcommon.NewTimestampFromTime(time.Date(2026, 11, 24, 18, 0, i, 0, time.UTC)))
		lr.SetSeverityNumber(plog.SeverityNumberError)
		lr.SetSeverityText("ERROR")
		lr.Body().SetStr(fmt.Sprintf("peer node0 disconnected (%d)", i))
		lr.SetTraceID(traceID(500 + i))
		lr.SetSpanID(spanID(500 + i))
		lr.Attributes().PutStr(semconv.ErrorTypeKey, semconv.ErrorP2PDisconnect)
		lr.Attributes().PutStr(semconv.PeerIDKey, "node0")
		lr.Attributes().PutInt(semconv.HeadHeightKey, 77)
	}
	info := sl.LogRecords().AppendEmpty()
	info.SetSeverityNumber(plog.SeverityNumberInfo)
	info.Body().SetStr("block applied")
	return ld
}
