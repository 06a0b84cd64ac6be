package chainsamplingprocessor

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/chainotel/chainotel/processors/chainsamplingprocessor/internal/metadata"
	"github.com/chainotel/chainotel/semconv"
)

// stepWithin bounds each step of one fuzz input: a hang is a failure, not a
// stuck fuzzer. It is a generous deadline, not a performance assertion.
const stepWithin = 10 * time.Second

// FuzzConsumeOTLP decodes arbitrary bytes as an OTLP trace export request, the
// way the collector's receiver does, and sends what decodes through a
// chainsampling processor built by the factory with the repository's policy
// file; shutting it down decides every buffered trace. No panic, no hang,
// and what comes out is well-formed OTLP made only of spans that went in.
func FuzzConsumeOTLP(f *testing.F) {
	for _, td := range seedTraces() {
		raw, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
		require.NoError(f, err)
		f.Add(raw)
	}
	policyPath := filepath.Join("..", "..", "collector", "sampling-policies.yaml")
	f.Fuzz(func(t *testing.T, data []byte) {
		td, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(data)
		if err != nil {
			return // the receiver refuses it before any processor runs
		}
		in := spanIDs(td)
		// A processor per input (telemetry left out, it is not under test):
		// shutting it down is what decides every buffered trace at once.
		cfg := createDefaultConfig().(*Config)
		cfg.PolicyFile, cfg.DecisionWait = policyPath, time.Hour
		sink := new(consumertest.TracesSink)
		proc, err := NewFactory().CreateTraces(context.Background(), processortest.NewNopSettings(metadata.Type), cfg, sink)
		require.NoError(t, err)
		step(t, func() error { return proc.Start(context.Background(), componenttest.NewNopHost()) })
		step(t, func() error { return proc.ConsumeTraces(context.Background(), td) })
		step(t, func() error { return proc.Shutdown(context.Background()) })
		out := 0
		for _, kept := range sink.AllTraces() {
			raw, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(kept)
			require.NoError(t, err)
			back, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(raw)
			require.NoError(t, err, "the processor's output is not valid OTLP")
			for id, n := range spanIDs(back) {
				require.LessOrEqual(t, n, in[id], "kept more spans of trace %s/span %s than were sent", id.trace, id.span)
			}
			out += back.SpanCount()
		}
		require.LessOrEqual(t, out, td.SpanCount())
	})
}

type spanKey struct {
	trace pcommon.TraceID
	span  pcommon.SpanID
}

// spanIDs counts the spans of td by trace and span id.
func spanIDs(td ptrace.Traces) map[spanKey]int {
	out := map[spanKey]int{}
	for i := 0; i < td.ResourceSpans().Len(); i++ {
		sss := td.ResourceSpans().At(i).ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			spans := sss.At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				out[spanKey{spans.At(k).TraceID(), spans.At(k).SpanID()}]++
			}
		}
	}
	return out
}

func step(t *testing.T, f func() error) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(stepWithin):
		t.Fatalf("no return within %s", stepWithin)
	}
}

// seedTraces: a root with an error child, a consensus span with a height and
// a tracestate, a span without a trace id, and an empty request.
func seedTraces() []ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr(semconv.ServiceInstanceIDKey, "node0")
	ss := rs.ScopeSpans().AppendEmpty().Spans()
	root := ss.AppendEmpty()
	root.SetName("POST /tx")
	root.SetTraceID(traceID(1))
	root.SetSpanID(pcommon.SpanID{1})
	child := ss.AppendEmpty()
	child.SetName(semconv.SpanValidateTransaction)
	child.SetTraceID(traceID(1))
	child.SetSpanID(pcommon.SpanID{2})
	child.SetParentSpanID(pcommon.SpanID{1})
	child.Status().SetCode(ptrace.StatusCodeError)
	commit := ss.AppendEmpty()
	commit.SetName(semconv.SpanConsensusCommit)
	commit.SetTraceID(traceID(2))
	commit.SetSpanID(pcommon.SpanID{3})
	commit.SetParentSpanID(pcommon.SpanID{4})
	commit.Attributes().PutInt(semconv.BlockHeightKey, 12)
	commit.TraceState().FromRaw("ot=th:8")
	ss.AppendEmpty().SetName("no trace id")
	return []ptrace.Traces{td, ptrace.NewTraces()}
}
