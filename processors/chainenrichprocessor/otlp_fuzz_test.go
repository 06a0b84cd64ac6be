package chainenrichprocessor

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/chainotel/chainotel/processors/chainenrichprocessor/internal/metadatatest"
	"github.com/chainotel/chainotel/semconv"
)

// consumeWithin bounds one consume call: a hang is a failure, not a stuck
// fuzzer. It is a generous deadline, not a performance assertion.
const consumeWithin = 10 * time.Second

// FuzzConsumeOTLP decodes arbitrary bytes as an OTLP trace or log export
// request, the way the collector's receiver does, and sends what decodes
// through a chainenrich pipeline built by the factory: no panic, no hang, and
// what comes out is well-formed OTLP holding every span or record that went in
// (enrichment adds and redacts, it never drops).
func FuzzConsumeOTLP(f *testing.F) {
	for _, td := range seedTraces() {
		raw, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
		require.NoError(f, err)
		f.Add(false, raw)
	}
	for _, ld := range seedLogs() {
		raw, err := (&plog.ProtoMarshaler{}).MarshalLogs(ld)
		require.NoError(f, err)
		f.Add(true, raw)
	}
	// One pipeline for the whole run, as in a collector: state carried from
	// one input to the next (the head tracker) is part of what is fuzzed.
	ctx := context.Background()
	tel := componenttest.NewTelemetry()
	f.Cleanup(func() { require.NoError(f, tel.Shutdown(ctx)) })
	p := &pipeline{traceSink: new(consumertest.TracesSink), logSink: new(consumertest.LogsSink)}
	var err error
	p.traces, err = NewFactory().CreateTraces(ctx, metadatatest.NewSettings(tel), defaultConfig(), p.traceSink)
	require.NoError(f, err)
	p.logs, err = NewFactory().CreateLogs(ctx, metadatatest.NewSettings(tel), defaultConfig(), p.logSink)
	require.NoError(f, err)
	require.NoError(f, p.traces.Start(ctx, componenttest.NewNopHost()))
	require.NoError(f, p.logs.Start(ctx, componenttest.NewNopHost()))
	f.Cleanup(func() {
		require.NoError(f, p.traces.Shutdown(ctx))
		require.NoError(f, p.logs.Shutdown(ctx))
	})
	f.Fuzz(func(t *testing.T, logs bool, data []byte) {
		p.traceSink.Reset()
		p.logSink.Reset()
		if logs {
			ld, err := (&plog.ProtoUnmarshaler{}).UnmarshalLogs(data)
			if err != nil {
				return // the receiver refuses it before any processor runs
			}
			in := ld.LogRecordCount()
			within(t, func() error { return p.logs.ConsumeLogs(context.Background(), ld) })
			all := p.logSink.AllLogs()
			require.Len(t, all, 1)
			raw, err := (&plog.ProtoMarshaler{}).MarshalLogs(all[0])
			require.NoError(t, err)
			back, err := (&plog.ProtoUnmarshaler{}).UnmarshalLogs(raw)
			require.NoError(t, err, "the processor's output is not valid OTLP")
			require.Equal(t, in, back.LogRecordCount())
			return
		}
		td, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(data)
		if err != nil {
			return
		}
		in := td.SpanCount()
		within(t, func() error { return p.traces.ConsumeTraces(context.Background(), td) })
		all := p.traceSink.AllTraces()
		require.Len(t, all, 1)
		raw, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(all[0])
		require.NoError(t, err)
		back, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(raw)
		require.NoError(t, err, "the processor's output is not valid OTLP")
		require.Equal(t, in, back.SpanCount())
	})
}

func within(t *testing.T, consume func() error) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- consume() }()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(consumeWithin):
		t.Fatalf("consume did not return within %s", consumeWithin)
	}
}

// seedTraces: a head-setting block.apply, an error span with an exception
// event, a span full of secrets, and an empty request.
func seedTraces() []ptrace.Traces {
	td := ptrace.NewTraces()
	apply := newSpan(td, "chainotel-dev", "node0", semconv.SpanBlockApply)
	apply.SetTraceID(pcommon.TraceID{1})
	apply.SetSpanID(pcommon.SpanID{1})
	apply.Attributes().PutInt(semconv.BlockHeightKey, 42)
	apply.Attributes().PutStr(semconv.BlockHashKey, "0xabc")
	apply.Attributes().PutStr(semconv.StateRootKey, "0xdef")

	failed := newSpan(td, "chainotel-dev", "node1", semconv.SpanConsensusCommit)
	failed.SetTraceID(pcommon.TraceID{2})
	failed.SetSpanID(pcommon.SpanID{2})
	failed.Status().SetCode(ptrace.StatusCodeError)
	failed.Status().SetMessage("no commit within 5s: consensus timeout")
	ev := failed.Events().AppendEmpty()
	ev.SetName("exception")
	ev.Attributes().PutStr(semconv.ExceptionMessageKey, "badger: disk full, mail ops@example.com")

	secret := newSpan(td, "chainotel-dev", "node2", "POST /tx")
	secret.SetTraceID(pcommon.TraceID{3})
	secret.Attributes().PutStr("authorization", "Bearer abc")
	secret.Attributes().PutStr(semconv.HTTPRouteKey, "/tx?card=4111111111111111")
	secret.Attributes().PutEmptyMap("nested").PutStr("password", "hunter2")
	return []ptrace.Traces{td, ptrace.NewTraces()}
}

func seedLogs() []plog.Logs {
	ld := plog.NewLogs()
	applied := newLog(ld, "chainotel-dev", "node0", plog.SeverityNumberInfo, "block applied")
	applied.Attributes().PutStr(semconv.EventNameKey, semconv.SpanBlockApply)
	applied.Attributes().PutInt(semconv.BlockHeightKey, 7)
	failed := newLog(ld, "chainotel-dev", "node1", plog.SeverityNumberError, "store write failed: call +1 555 123 4567")
	failed.Attributes().PutStr(semconv.ErrorTypeKey, semconv.ErrorStorage)
	failed.Body().SetEmptyMap().PutStr("token", "s3cr3t")
	return []plog.Logs{ld, plog.NewLogs()}
}
