package node

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/codes"
	otellog "go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/chainotel/chainotel/internal/testproc"
	"github.com/chainotel/chainotel/node/chain"
	"github.com/chainotel/chainotel/node/telemetry"
	"github.com/chainotel/chainotel/semconv"
)

// logStore is an in-memory OTLP log exporter: what the node's telemetry
// would have sent to the collector.
type logStore struct {
	mu      sync.Mutex
	records []sdklog.Record
}

func (s *logStore) Export(_ context.Context, rs []sdklog.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range rs {
		s.records = append(s.records, r.Clone())
	}
	return nil
}
func (s *logStore) Shutdown(context.Context) error   { return nil }
func (s *logStore) ForceFlush(context.Context) error { return nil }

func (s *logStore) all() []sdklog.Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sdklog.Record(nil), s.records...)
}

func logAttr(r sdklog.Record, key string) (string, bool) {
	var (
		v  string
		ok bool
	)
	r.WalkAttributes(func(kv attribute.KeyValue) bool {
		if string(kv.Key) == key {
			v, ok = kv.Value.String(), true
			return false
		}
		return true
	})
	return v, ok
}

// keepOnShutdown keeps the exported spans readable after the telemetry shut
// down (the in-memory exporter forgets them on Shutdown; a panic shuts down).
type keepOnShutdown struct{ *tracetest.InMemoryExporter }

func (keepOnShutdown) Shutdown(context.Context) error { return nil }

// telemetryNode is a single raft node whose telemetry is the real
// node/telemetry pipeline (bounded queues, otelslog bridge, propagator with
// the baggage filter) exporting to memory.
type telemetryNode struct {
	single
	spans  *tracetest.InMemoryExporter
	logs   *logStore
	stderr *testproc.SyncBuffer
	exits  chan int
}

func startTelemetryNode(t *testing.T) telemetryNode {
	t.Helper()
	tn := telemetryNode{spans: tracetest.NewInMemoryExporter(), logs: &logStore{}, stderr: &testproc.SyncBuffer{},
		exits: make(chan int, 1)}
	tn.single = startSingle(t, []string{"node0"}, func(g *chain.Genesis, c *Config) {
		reg := prometheus.NewRegistry()
		c.Registerer, c.Gatherer = reg, reg
		tel, err := telemetry.Setup(t.Context(), telemetry.Config{
			Registerer: reg,
			NodeID:     c.NodeID, ChainID: g.ChainID, Consensus: semconv.ConsensusRaft,
			LogLevel: "debug", Stderr: tn.stderr,
			SpanExporter: keepOnShutdown{tn.spans}, LogExporter: tn.logs,
			BatchTimeout: 20 * time.Millisecond,
			Exit:         func(code int) { tn.exits <- code },
		})
		require.NoError(t, err)
		t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
		c.Logger, c.TracerProvider, c.Propagator, c.Go = tel.Logger, tel.TracerProvider, tel.Propagator, tel.Go
		c.DebugFaults = true
	})
	waitLeader(t, tn.base)
	return tn
}

// postTraced posts body to url inside a remote parent span (traceparent
// header) with the given baggage header, and returns the parent's context.
func postTraced(t *testing.T, url, body, bag string) trace.SpanContext {
	t.Helper()
	var tid trace.TraceID
	var sid trace.SpanID
	copy(tid[:], fmt.Appendf(nil, "%016d", time.Now().UnixNano()%1e16))
	copy(sid[:], "parent01")
	parent := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled, Remote: true})
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("traceparent", fmt.Sprintf("00-%s-%s-01", tid, sid))
	if bag != "" {
		req.Header.Set("baggage", bag)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	raw, _ := io.ReadAll(resp.Body)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", raw)
	return parent
}

// waitSpan waits until a span named name in trace tid was exported.
func waitSpan(t *testing.T, exp *tracetest.InMemoryExporter, what string, match func(tracetest.SpanStub) bool) tracetest.SpanStub {
	t.Helper()
	var got tracetest.SpanStub
	testproc.WaitFor(t, 10*time.Second, what, func() error {
		for _, s := range exp.GetSpans() {
			if match(s) {
				got = s
				return nil
			}
		}
		return fmt.Errorf("not among %d exported spans", len(exp.GetSpans()))
	})
	return got
}

func named(name string, tid trace.TraceID) func(tracetest.SpanStub) bool {
	return func(s tracetest.SpanStub) bool { return s.Name == name && s.SpanContext.TraceID() == tid }
}

func spanAttr(s tracetest.SpanStub, key string) (attribute.Value, bool) {
	for _, kv := range s.Attributes {
		if string(kv.Key) == key {
			return kv.Value, true
		}
	}
	return attribute.Value{}, false
}

func TestTransactionTraceOnOneNode(t *testing.T) {
	tn := startTelemetryNode(t)
	parent := postTraced(t, tn.base+"/tx", `{"from":"0xabc","to":"0xdef","amount":7}`, "")
	tid := parent.TraceID()

	server := waitSpan(t, tn.spans, "the POST /tx server span", named("POST /tx", tid))
	require.Equal(t, trace.SpanKindServer, server.SpanKind)
	require.Equal(t, parent.SpanID(), server.Parent.SpanID(), "the server span continues the caller's trace")
	for key, want := range map[string]any{
		semconv.HTTPRouteKey: "/tx", semconv.HTTPRequestMethodKey: "POST", semconv.URLPathKey: "/tx",
		semconv.URLSchemeKey: "http", semconv.ClientAddressKey: "127.0.0.1", semconv.HTTPResponseStatusCodeKey: int64(200),
	} {
		v, ok := spanAttr(server, key)
		require.True(t, ok, "%s on the server span: %v", key, server.Attributes)
		require.Equal(t, want, v.AsInterface(), key)
	}
	hash, ok := spanAttr(server, semconv.TxHashKey)
	require.True(t, ok, "chain.tx.hash on the server span: %v", server.Attributes)
	txType, _ := spanAttr(server, semconv.TxTypeKey)
	require.Equal(t, semconv.TxTypeTransfer, txType.AsString())

	// The validation stages and the mempool admission are in the request's trace.
	byName := map[string]tracetest.SpanStub{}
	for _, name := range []string{semconv.SpanValidateTransaction, semconv.SpanValidateStateTransition,
		semconv.SpanValidateGasUsage, semconv.SpanMempoolAdd} {
		byName[name] = waitSpan(t, tn.spans, name+" in the request's trace", named(name, tid))
	}
	vt := byName[semconv.SpanValidateTransaction]
	require.Equal(t, server.SpanContext.SpanID(), vt.Parent.SpanID(), "validate.transaction is a child of POST /tx")
	h, _ := spanAttr(vt, semconv.TxHashKey)
	require.Equal(t, hash.AsString(), h.AsString())
	vtType, _ := spanAttr(vt, semconv.TxTypeKey)
	require.Equal(t, semconv.TxTypeTransfer, vtType.AsString(), "chain.tx.type on validate.transaction")
	h, _ = spanAttr(byName[semconv.SpanMempoolAdd], semconv.TxHashKey)
	require.Equal(t, hash.AsString(), h.AsString(), "chain.tx.hash on mempool.add")
	for _, key := range []string{semconv.TxGasKey, semconv.TxFeeKey} {
		_, ok = spanAttr(byName[semconv.SpanValidateGasUsage], key)
		require.True(t, ok, "%s on validate.gas_usage", key)
	}
	_, ok = spanAttr(byName[semconv.SpanValidateStateTransition], semconv.AccountNonceKey)
	require.True(t, ok, "chain.account.nonce on validate.state_transition")
	// The validation stages are one chain: validate.transaction ->
	// validate.state_transition -> validate.gas_usage.
	st, gas := byName[semconv.SpanValidateStateTransition], byName[semconv.SpanValidateGasUsage]
	require.Equal(t, vt.SpanContext.SpanID(), st.Parent.SpanID(), "validate.state_transition is validate.transaction's child")
	require.Equal(t, st.SpanContext.SpanID(), gas.Parent.SpanID(), "validate.gas_usage is validate.state_transition's child")
	require.Equal(t, server.SpanContext.SpanID(), byName[semconv.SpanMempoolAdd].Parent.SpanID(), "mempool.add is a child of POST /tx")

	// The block that carried the transaction links to it: proposed, committed, applied.
	linksTo := func(s tracetest.SpanStub) bool {
		for _, l := range s.Links {
			if l.SpanContext.TraceID() == tid {
				return true
			}
		}
		return s.SpanContext.TraceID() == tid
	}
	propose := waitSpan(t, tn.spans, "consensus.propose linked to the tx", func(s tracetest.SpanStub) bool {
		return s.Name == semconv.SpanConsensusPropose && linksTo(s)
	})
	_, ok = spanAttr(propose, semconv.BlockHeightKey)
	require.True(t, ok, "chain.block.height on consensus.propose")
	apply := waitSpan(t, tn.spans, "block.apply linked to the tx", func(s tracetest.SpanStub) bool {
		return s.Name == semconv.SpanBlockApply && linksTo(s)
	})
	for _, key := range []string{semconv.BlockHeightKey, semconv.BlockHashKey, semconv.StateRootKey} {
		_, ok := spanAttr(apply, key)
		require.True(t, ok, "%s on block.apply", key)
	}
	commit := waitSpan(t, tn.spans, "consensus.commit, block.apply's parent", func(s tracetest.SpanStub) bool {
		return s.Name == semconv.SpanConsensusCommit && s.SpanContext.SpanID() == apply.Parent.SpanID()
	})
	for _, key := range []string{semconv.BlockHeightKey, semconv.BlockHashKey, semconv.ConsensusTermKey, semconv.ConsensusIndexKey} {
		_, ok := spanAttr(commit, key)
		require.True(t, ok, "%s on consensus.commit", key)
	}
	for design, chainKey := range map[string]string{semconv.ConsensusBlockHashKey: semconv.BlockHashKey, semconv.ConsensusHeightKey: semconv.BlockHeightKey} {
		got, ok := spanAttr(commit, design)
		require.True(t, ok, "%s on consensus.commit", design)
		want, _ := spanAttr(commit, chainKey)
		require.Equal(t, want, got, "%s beside %s", design, chainKey)
	}
	require.Equal(t, "node0", resourceAttr(t, server, semconv.ServiceInstanceIDKey))
}

func resourceAttr(t *testing.T, s tracetest.SpanStub, key string) string {
	t.Helper()
	v, ok := s.Resource.Set().Value(attribute.Key(key))
	require.True(t, ok, "resource attribute %s", key)
	return v.AsString()
}

func TestLogRecordsCarryTraceIDs(t *testing.T) {
	tn := startTelemetryNode(t)
	postTraced(t, tn.base+"/tx", `{"from":"0xabc","to":"0xdef","amount":3}`, "")
	apply := waitSpan(t, tn.spans, "a block.apply span", func(s tracetest.SpanStub) bool { return s.Name == semconv.SpanBlockApply })

	// The OTLP record of "block applied" carries the block.apply span's ids
	// and the event name chainenrich follows the head by.
	var rec sdklog.Record
	testproc.WaitFor(t, 10*time.Second, "the block applied log record of that span", func() error {
		for _, r := range tn.logs.all() {
			if r.SpanID() == apply.SpanContext.SpanID() {
				rec = r
				return nil
			}
		}
		return fmt.Errorf("none among %d records", len(tn.logs.all()))
	})
	require.Equal(t, apply.SpanContext.TraceID(), rec.TraceID())
	require.Equal(t, "block applied", rec.Body().AsString())
	ev, _ := logAttr(rec, semconv.EventNameKey)
	require.Equal(t, semconv.SpanBlockApply, ev)

	// The JSON line of the same record names the same trace.
	require.Regexp(t, fmt.Sprintf(`"msg":"block applied",[^\n]*"trace_id":"%s","span_id":"%s"`,
		apply.SpanContext.TraceID(), apply.SpanContext.SpanID()), tn.stderr.String())
}

func TestBaggageDenyListThroughTheAPI(t *testing.T) {
	// A span processor that writes the baggage each span starts with as
	// attributes: what any downstream consumer of the baggage would see.
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(baggageRecorder{}), sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	prop, err := telemetry.NewPropagator(nil)
	require.NoError(t, err)
	s := startSingle(t, []string{"node0"}, func(_ *chain.Genesis, c *Config) {
		c.TracerProvider, c.Propagator = tp, prop
	})
	waitLeader(t, s.base)

	parent := postTraced(t, s.base+"/tx", `{"from":"0xabc","to":"0xdef","amount":1}`,
		"tenant=acme,user.password=hunter2,api_token=abc,session.id=s1")
	for _, name := range []string{"POST /tx", semconv.SpanValidateTransaction, semconv.SpanMempoolAdd} {
		sp := waitSpan(t, exp, name, named(name, parent.TraceID()))
		tenant, ok := spanAttr(sp, "test.baggage.tenant")
		require.True(t, ok, "allowed baggage reaches %s: %v", name, sp.Attributes)
		require.Equal(t, "acme", tenant.AsString())
		for _, denied := range []string{"user.password", "api_token"} {
			_, ok := spanAttr(sp, "test.baggage."+denied)
			require.False(t, ok, "%s must not reach %s", denied, name)
		}
	}
}

// baggageRecorder copies the baggage of a span's parent context onto it.
type baggageRecorder struct{}

func (baggageRecorder) OnStart(ctx context.Context, s sdktrace.ReadWriteSpan) {
	for _, m := range baggage.FromContext(ctx).Members() {
		s.SetAttributes(attribute.String("test.baggage."+m.Key(), m.Value()))
	}
}
func (baggageRecorder) OnEnd(sdktrace.ReadOnlySpan)      {}
func (baggageRecorder) Shutdown(context.Context) error   { return nil }
func (baggageRecorder) ForceFlush(context.Context) error { return nil }

func TestHTTPLatencyExemplarsPointAtTraces(t *testing.T) {
	tn := startTelemetryNode(t)
	// The node's first POST /tx: a bucket takes at most one exemplar per
	// telemetry.ExemplarInterval, so an earlier request could have taken it.
	parent := postTraced(t, tn.base+"/tx", `{"from":"0xabc","to":"0xdef","amount":2}`, "")
	server := waitSpan(t, tn.spans, "the POST /tx server span", named("POST /tx", parent.TraceID()))

	req, err := http.NewRequest(http.MethodGet, tn.health+"/metrics", nil)
	require.NoError(t, err)
	req.Header.Set("Accept", "application/openmetrics-text; version=1.0.0")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(resp.Body)
	// The exemplar's labels come in no fixed order: client_golang keeps them in a map.
	tid, sid := `trace_id="`+parent.TraceID().String()+`"`, `span_id="`+server.SpanContext.SpanID().String()+`"`
	want := regexp.MustCompile(`chainotel_http_request_duration_seconds_bucket\{[^}]*route="POST /tx"[^}]*\} \d+ # \{(` +
		tid + `,` + sid + `|` + sid + `,` + tid + `)\}`)
	require.Regexp(t, want, string(body))
	require.Contains(t, string(body), "chainotel_telemetry_exported_spans_total", "the telemetry self-metrics are on /metrics")
}

func TestDebugFaultsBecomeErrorTelemetry(t *testing.T) {
	tn := startTelemetryNode(t)
	for _, tc := range []struct {
		kind, span, category string
	}{
		{"consensus_timeout", semconv.SpanConsensusTimeout, semconv.ErrorConsensusTimeout},
		{"p2p_disconnect", semconv.SpanP2PDisconnect, semconv.ErrorP2PDisconnect},
		{"storage_error", semconv.SpanStoreWrite, semconv.ErrorStorage},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			var rep FaultReport
			code, raw := post(t, tn.health+FaultPath+"?kind="+tc.kind, "")
			require.Equal(t, http.StatusAccepted, code, "%s", raw)
			require.NoError(t, json.Unmarshal(raw, &rep))
			require.Equal(t, tc.category, rep.Kind)
			var tid trace.TraceID
			testproc.WaitFor(t, 10*time.Second, "an error span "+tc.span, func() error {
				for _, s := range tn.spans.GetSpans() {
					if s.Name == tc.span && s.SpanContext.TraceID().String() == rep.TraceID {
						tid = s.SpanContext.TraceID()
						if s.Status.Code != codes.Error {
							return fmt.Errorf("status %v", s.Status)
						}
						if v, _ := spanAttr(s, semconv.ErrorTypeKey); v.AsString() != tc.category {
							return fmt.Errorf("error.type %q", v.AsString())
						}
						return nil
					}
				}
				return fmt.Errorf("not exported yet")
			})
			testproc.WaitFor(t, 10*time.Second, "an error log in the same trace", func() error {
				for _, r := range tn.logs.all() {
					if r.TraceID() == tid && r.Severity() >= otellog.SeverityError {
						if v, _ := logAttr(r, semconv.ErrorTypeKey); v == tc.category {
							return nil
						}
					}
				}
				return fmt.Errorf("none among %d records", len(tn.logs.all()))
			})
		})
	}

	code, raw := post(t, tn.health+FaultPath+"?kind=meltdown", "")
	require.Equal(t, http.StatusBadRequest, code)
	require.Contains(t, string(raw), "want one of goroutine_panic")

	// Last, as it shuts the telemetry down: the panic is recorded, flushed,
	// and the process would exit with PanicExitCode.
	code, raw = post(t, tn.health+FaultPath+"?kind=panic", "")
	require.Equal(t, http.StatusAccepted, code, "%s", raw)
	select {
	case c := <-tn.exits:
		require.Equal(t, telemetry.PanicExitCode, c)
	case <-time.After(20 * time.Second):
		t.Fatal("the panic guard did not exit")
	}
	sp := waitSpan(t, tn.spans, "the goroutine.panic span", func(s tracetest.SpanStub) bool { return s.Name == semconv.SpanPanic })
	v, _ := spanAttr(sp, semconv.ThreadNameKey)
	require.Equal(t, "debug.fault", v.AsString())
}

func TestDebugFaultsAreOffByDefault(t *testing.T) {
	s := startSingle(t, []string{"node0"}, nil)
	code, _ := post(t, s.health+FaultPath+"?kind=panic", "")
	require.Equal(t, http.StatusNotFound, code)
}

// TestNodeCommitsWhileTheCollectorIsDown exports to a port nobody listens
// on: transactions still commit, and the spans that could not be exported are
// counted on /metrics.
func TestNodeCommitsWhileTheCollectorIsDown(t *testing.T) {
	nobody := testproc.FreePorts(t, 1)[0]
	s := startSingle(t, []string{"node0"}, func(g *chain.Genesis, c *Config) {
		reg := prometheus.NewRegistry()
		c.Registerer, c.Gatherer = reg, reg
		tel, err := telemetry.Setup(t.Context(), telemetry.Config{
			NodeID: c.NodeID, ChainID: g.ChainID, Consensus: semconv.ConsensusRaft, Registerer: reg,
			OTLPEndpoint: fmt.Sprintf("127.0.0.1:%d", nobody),
			QueueSize:    64, BatchSize: 16, BatchTimeout: 20 * time.Millisecond, ExportTimeout: 200 * time.Millisecond,
			Exit: func(int) { t.Error("no panic expected") },
		})
		require.NoError(t, err)
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_ = tel.Shutdown(ctx)
		})
		c.Logger, c.TracerProvider, c.Propagator, c.Go = tel.Logger, tel.TracerProvider, tel.Propagator, tel.Go
	})
	waitLeader(t, s.base)
	for i := range 20 {
		code, raw := post(t, s.base+"/tx", fmt.Sprintf(`{"from":"0xabc","to":"0xdef","amount":%d}`, i+1))
		require.Equal(t, http.StatusOK, code, "%s", raw)
	}
	dropped := regexp.MustCompile(`chainotel_telemetry_dropped_spans_total\{reason="(export_failed|queue_full)"\} ([1-9]\d*)`)
	testproc.WaitFor(t, 20*time.Second, "dropped spans counted on /metrics", func() error {
		resp, err := http.Get(s.health + "/metrics")
		if err != nil {
			return err
		}
		defer func() { _ = resp.Body.Close() }()
		body, _ := io.ReadAll(resp.Body)
		if !dropped.Match(body) {
			return fmt.Errorf("no dropped spans counted yet")
		}
		return nil
	})
}
