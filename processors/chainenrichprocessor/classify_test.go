package chainenrichprocessor

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/chainotel/chainotel/processors/chainenrichprocessor/internal/metadatatest"
	"github.com/chainotel/chainotel/semconv"
)

func TestClassifySpans(t *testing.T) {
	type exc struct{ typ, msg string }
	for _, tc := range []struct {
		name    string
		span    string
		status  ptrace.StatusCode
		message string
		exc     *exc
		attrs   map[string]string
		want    any // nil: no error.type set
	}{
		{name: "panic span", span: semconv.SpanPanic, status: ptrace.StatusCodeError, want: semconv.ErrorGoroutinePanic},
		{name: "panic exception on any span", span: semconv.SpanBlockApply, exc: &exc{"runtime.panic", "nil map"}, want: semconv.ErrorGoroutinePanic},
		{name: "consensus timeout span", span: semconv.SpanConsensusTimeout, status: ptrace.StatusCodeError, want: semconv.ErrorConsensusTimeout},
		{name: "consensus deadline", span: semconv.SpanConsensusPropose, status: ptrace.StatusCodeError, message: "context deadline exceeded", want: semconv.ErrorConsensusTimeout},
		{name: "p2p disconnect span", span: semconv.SpanP2PDisconnect, status: ptrace.StatusCodeError, want: semconv.ErrorP2PDisconnect},
		{name: "grpc unavailable", span: "chainotel.p2p.v1.Peer/Forward", status: ptrace.StatusCodeError,
			message: "rpc error: code = Unavailable desc = connection refused", attrs: map[string]string{semconv.RPCSystemKey: "grpc"}, want: semconv.ErrorP2PDisconnect},
		{name: "validation span", span: semconv.SpanValidateGasUsage, status: ptrace.StatusCodeError, message: "fee 1 below gas 21", want: semconv.ErrorValidation},
		{name: "badger exception", span: semconv.SpanBlockApply, exc: &exc{"*badger.ErrConflict", "Transaction Conflict"}, want: semconv.ErrorStorage},
		{name: "badger message", span: semconv.SpanBlockApply, status: ptrace.StatusCodeError, message: "badger: value log truncated", want: semconv.ErrorStorage},
		{name: "mempool full", span: semconv.SpanMempoolAdd, status: ptrace.StatusCodeError, message: "mempool is full (10000)", want: semconv.ErrorMempoolFull},
		{name: "rejected tx on the API span", span: "POST /tx", status: ptrace.StatusCodeError, message: "invalid signature", want: semconv.ErrorValidation},
		{name: "unknown error falls back", span: "POST /tx", status: ptrace.StatusCodeError, message: "something odd", want: semconv.ErrorInternal},
		{name: "error.type set by the node is kept", span: semconv.SpanPanic, status: ptrace.StatusCodeError,
			attrs: map[string]string{semconv.ErrorTypeKey: "custom_failure"}, want: "custom_failure"},
		{name: "ok span is not classified", span: semconv.SpanBlockApply, status: ptrace.StatusCodeOk, want: nil},
		{name: "unset status without exception is not an error", span: semconv.SpanPanic, want: nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPipeline(t, defaultConfig())
			td := ptrace.NewTraces()
			s := newSpan(td, "c", "n0", tc.span)
			s.Status().SetCode(tc.status)
			s.Status().SetMessage(tc.message)
			for k, v := range tc.attrs {
				s.Attributes().PutStr(k, v)
			}
			if tc.exc != nil {
				ev := s.Events().AppendEmpty()
				ev.SetName(semconv.ExceptionEventName)
				ev.Attributes().PutStr(semconv.ExceptionTypeKey, tc.exc.typ)
				ev.Attributes().PutStr(semconv.ExceptionMessageKey, tc.exc.msg)
			}
			out := allSpans(p.consumeTraces(td))[0]
			assert.Equal(t, tc.want, attr(out.Attributes(), semconv.ErrorTypeKey))
		})
	}
}

func TestClassifyLogs(t *testing.T) {
	for _, tc := range []struct {
		name  string
		sev   plog.SeverityNumber
		text  string
		body  string
		attrs map[string]string
		want  any
	}{
		{name: "panic log", sev: plog.SeverityNumberFatal, body: "recovered panic", attrs: map[string]string{semconv.ExceptionTypeKey: "panic"}, want: semconv.ErrorGoroutinePanic},
		{name: "peer disconnected", sev: plog.SeverityNumberError, body: "peer node1 disconnected: EOF", want: semconv.ErrorP2PDisconnect},
		{name: "storage", sev: plog.SeverityNumberError, body: "write block: badger: disk full", want: semconv.ErrorStorage},
		{name: "severity text only", text: "ERROR", body: "insufficient balance for 0xabc", want: semconv.ErrorValidation},
		{name: "kept", sev: plog.SeverityNumberError, body: "x", attrs: map[string]string{semconv.ErrorTypeKey: semconv.ErrorStorage}, want: semconv.ErrorStorage},
		{name: "warn is not an error", sev: plog.SeverityNumberWarn, body: "peer node1 disconnected", want: nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPipeline(t, defaultConfig())
			ld := plog.NewLogs()
			lr := newLog(ld, "c", "n0", tc.sev, tc.body)
			lr.SetSeverityText(tc.text)
			for k, v := range tc.attrs {
				lr.Attributes().PutStr(k, v)
			}
			out := allLogs(p.consumeLogs(ld))[0]
			assert.Equal(t, tc.want, attr(out.Attributes(), semconv.ErrorTypeKey))
		})
	}
}

func TestCustomRules(t *testing.T) {
	cfg := defaultConfig()
	cfg.Classification.Fallback = ""
	cfg.Classification.Rules = []RuleConfig{
		{ErrorType: "db_error", Attributes: map[string]string{"db.system": "^badger$"}, Message: "(?i)conflict"},
		{ErrorType: "rpc_error", SpanName: "^chainotel\\.p2p\\."},
	}
	p := newPipeline(t, cfg)
	td := ptrace.NewTraces()
	for _, s := range []struct{ name, dbSystem, msg string }{
		{"store.put", "badger", "Transaction Conflict"}, // both conditions
		{"store.put", "badger", "disk full"},            // message fails
		{"chainotel.p2p.v1.Peer/Sync", "", "EOF"},       // second rule
		{"other", "", "x"},                              // nothing, no fallback
	} {
		sp := newSpan(td, "c", "n0", s.name)
		sp.Status().SetCode(ptrace.StatusCodeError)
		sp.Status().SetMessage(s.msg)
		if s.dbSystem != "" {
			sp.Attributes().PutStr("db.system", s.dbSystem)
		}
	}
	var got []any
	for _, s := range allSpans(p.consumeTraces(td)) {
		got = append(got, attr(s.Attributes(), semconv.ErrorTypeKey))
	}
	assert.Equal(t, []any{"db_error", nil, "rpc_error", nil}, got)
}

func TestErrorsEnrichedMetric(t *testing.T) {
	p := newPipeline(t, defaultConfig())
	td := ptrace.NewTraces()
	for _, name := range []string{semconv.SpanPanic, semconv.SpanPanic, semconv.SpanValidateTransaction} {
		newSpan(td, "c", "n0", name).Status().SetCode(ptrace.StatusCodeError)
	}
	newSpan(td, "c", "n0", semconv.SpanBlockApply) // not an error
	p.consumeTraces(td)
	metadatatest.AssertEqualProcessorChainenrichErrorsEnriched(t, p.tt, []metricdata.DataPoint[int64]{
		{Value: 2, Attributes: attribute.NewSet(attribute.String("error_type", semconv.ErrorGoroutinePanic))},
		{Value: 1, Attributes: attribute.NewSet(attribute.String("error_type", semconv.ErrorValidation))},
	}, metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars())
}
