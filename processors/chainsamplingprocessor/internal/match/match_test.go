package match

import (
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/chainotel/chainotel/semconv"
)

type noIntern struct{}

func (noIntern) Intern(s string) string { return s }

var testKeys = Keys{
	Span:     []string{semconv.BlockHeightKey, semconv.TxTypeKey, semconv.RPCMethodKey, semconv.TxFeeKey, semconv.RPCServiceKey, semconv.HeadHeightKey},
	Resource: []string{semconv.ServiceInstanceIDKey},
	Names:    true,
}

const (
	slotHeight = iota
	slotTxType
	slotMethod
	slotFee
	slotService
	slotHead
)

type spanSpec struct {
	name   string
	root   bool
	err    bool
	start  time.Duration // from the trace start
	length time.Duration
	attrs  map[string]any
}

// summarise builds a real summary from pdata spans the way the engine does.
func summarise(t *testing.T, node string, specs ...spanSpec) *Summary {
	t.Helper()
	res := pcommon.NewResource()
	res.Attributes().PutStr(semconv.ServiceInstanceIDKey, node)
	s := &Summary{}
	s.AddResource(&testKeys, res, noIntern{})
	base := time.Unix(1_700_000_000, 0)
	for _, sp := range specs {
		span := ptrace.NewSpan()
		span.SetName(sp.name)
		if !sp.root {
			span.SetParentSpanID(pcommon.SpanID{1})
		}
		if sp.err {
			span.Status().SetCode(ptrace.StatusCodeError)
		}
		span.SetStartTimestamp(pcommon.NewTimestampFromTime(base.Add(sp.start)))
		span.SetEndTimestamp(pcommon.NewTimestampFromTime(base.Add(sp.start + sp.length)))
		require.NoError(t, span.Attributes().FromRaw(sp.attrs))
		s.AddSpan(&testKeys, span, noIntern{}, slotHeight, slotHead, nil)
	}
	return s
}

func eq(vals ...any) ValueTest {
	var t ValueTest
	for _, v := range vals {
		switch v := v.(type) {
		case string:
			t.OneOf = append(t.OneOf, Value{Str: v, Kind: KindStr})
		case int:
			t.OneOf = append(t.OneOf, Value{Num: float64(v), Kind: KindNum})
		}
	}
	return t
}

func TestMatchers(t *testing.T) {
	commit := spanSpec{name: semconv.SpanConsensusCommit, length: 10 * time.Millisecond,
		attrs: map[string]any{semconv.BlockHeightKey: int64(120)}}
	// The head the node reported on its spans (chain.head.height) is the
	// trace's own; env's head (150) is only for traces without one.
	commitBehindHead := spanSpec{name: semconv.SpanConsensusCommit,
		attrs: map[string]any{semconv.BlockHeightKey: int64(120), semconv.HeadHeightKey: int64(200)}}
	commitAtHead := spanSpec{name: semconv.SpanConsensusCommit,
		attrs: map[string]any{semconv.BlockHeightKey: int64(120), semconv.HeadHeightKey: int64(121)}}
	headOnly := func(h int64) spanSpec {
		return spanSpec{name: semconv.SpanValidateTransaction, attrs: map[string]any{semconv.HeadHeightKey: h}}
	}
	transfer := spanSpec{name: "POST /tx", root: true, length: 30 * time.Millisecond,
		attrs: map[string]any{semconv.TxTypeKey: semconv.TxTypeTransfer, semconv.TxFeeKey: 2.5}}
	failed := spanSpec{name: semconv.SpanValidateTransaction, err: true, start: 3 * time.Second, length: time.Millisecond}
	// As otelgrpc writes it by default, and under OTEL_SEMCONV_STABILITY_OPT_IN=rpc/old.
	forward := spanSpec{name: "chainotel.p2p.v1.Peer/Forward", attrs: map[string]any{
		semconv.RPCMethodKey: "chainotel.p2p.v1.Peer/Forward", semconv.RPCServiceKey: "chainotel.p2p.v1.Peer"}}
	forwardOld := spanSpec{name: "chainotel.p2p.v1.Peer/Forward", attrs: map[string]any{
		semconv.RPCMethodKey: "Forward", semconv.RPCServiceKey: "chainotel.p2p.v1.Peer"}}
	rpc := func(t ValueTest) *RPCMethod { return &RPCMethod{Slot: slotMethod, ServiceSlot: slotService, Test: t} }

	height := func(min, max float64, within int64) *BlockHeight {
		m := NewBlockHeight(slotHeight)
		if min != 0 || max != 0 {
			m.Min, m.Max = min, max
		}
		m.WithinHead = within
		return m
	}
	env := Env{Head: 150}

	tests := []struct {
		name  string
		m     Matcher
		spans []spanSpec
		want  bool
	}{
		{"error on one span", Error{Want: true}, []spanSpec{transfer, failed}, true},
		{"no error", Error{Want: true}, []spanSpec{transfer, commit}, false},
		{"error false holds without errors", Error{Want: false}, []spanSpec{transfer}, true},
		{"slow trace spans first start to last end", MinDuration{Min: 2 * time.Second}, []spanSpec{transfer, failed}, true},
		{"fast trace", MinDuration{Min: 2 * time.Second}, []spanSpec{transfer, commit}, false},
		{"span name exact", &SpanName{Test: eq(semconv.SpanConsensusCommit)}, []spanSpec{transfer, commit}, true},
		{"span name absent", &SpanName{Test: eq(semconv.SpanConsensusCommit)}, []spanSpec{transfer}, false},
		{"span name regex", &SpanName{Test: ValueTest{Regex: regexp.MustCompile(`^consensus\.`)}}, []spanSpec{commit}, true},
		{"height in range", height(100, 200, 0), []spanSpec{commit}, true},
		{"height out of range", height(0, 100, 0), []spanSpec{commit}, false},
		{"height within head", height(0, 0, 50), []spanSpec{commit}, true},
		{"height too far below head", height(0, 0, 10), []spanSpec{commit}, false},
		{"no height at all", height(0, 0, 1000), []spanSpec{transfer}, false},
		{"reported head, not the observed one, too far above", height(0, 0, 50), []spanSpec{commitBehindHead}, false},
		{"reported head, not the observed one, close", height(0, 0, 10), []spanSpec{commitAtHead}, true},
		{"the highest head any span reports", height(0, 0, 10), []spanSpec{headOnly(140), commitAtHead, headOnly(125)}, false},
		{"a reported head does not make a height", height(0, 0, 10), []spanSpec{headOnly(121)}, false},
		{"tx type equals", &Attribute{Slot: slotTxType, Test: eq(semconv.TxTypeTransfer)}, []spanSpec{transfer}, true},
		{"tx type one of", &Attribute{Slot: slotTxType, Test: eq(semconv.TxTypeStake, semconv.TxTypeUnstake)}, []spanSpec{transfer}, false},
		{"rpc method bare, span qualified", rpc(eq("Forward")), []spanSpec{forward, transfer}, true},
		{"rpc method qualified, span qualified", rpc(eq("chainotel.p2p.v1.Peer/Forward")), []spanSpec{forward}, true},
		{"rpc method bare, span bare", rpc(eq("Forward")), []spanSpec{forwardOld}, true},
		{"rpc method qualified, span bare", rpc(eq("chainotel.p2p.v1.Peer/Forward")), []spanSpec{forwardOld}, true},
		{"rpc method other method", rpc(eq("Fetch", "Block")), []spanSpec{forward, forwardOld}, false},
		{"rpc method other service", rpc(eq("chainotel.p2p.v2.Peer/Forward")), []spanSpec{forward, forwardOld}, false},
		{"rpc method anchored regex on the bare name", rpc(ValueTest{Regex: regexp.MustCompile(`^(Forward|Fetch)$`)}), []spanSpec{forward}, true},
		{"rpc method regex on the qualified name", rpc(ValueTest{Regex: regexp.MustCompile(`^chainotel\.p2p\.`)}), []spanSpec{forwardOld}, true},
		{"rpc method absent", rpc(ValueTest{Exists: true}), []spanSpec{transfer}, false},
		{"numeric range on a double", &Attribute{Slot: slotFee, Test: ValueTest{HasRange: true, Min: 2, Max: 3}}, []spanSpec{transfer}, true},
		{"numeric range misses", &Attribute{Slot: slotFee, Test: ValueTest{HasRange: true, Min: 3, Max: 9}}, []spanSpec{transfer}, false},
		{"string is not a number", &Attribute{Slot: slotTxType, Test: ValueTest{HasRange: true, Min: 0, Max: 9}}, []spanSpec{transfer}, false},
		{"attribute exists", &Attribute{Slot: slotMethod, Test: ValueTest{Exists: true}}, []spanSpec{forward}, true},
		{"attribute missing", &Attribute{Slot: slotMethod, Test: ValueTest{Exists: true}}, []spanSpec{transfer}, false},
		{"resource equals", &Resource{Slot: 0, Test: eq("node0")}, []spanSpec{transfer}, true},
		{"resource differs", &Resource{Slot: 0, Test: eq("node1")}, []spanSpec{transfer}, false},
		{"all on different spans", All{Error{Want: true}, &Attribute{Slot: slotTxType, Test: eq(semconv.TxTypeTransfer)}}, []spanSpec{transfer, failed}, true},
		{"all with one failing", All{Error{Want: true}, &Attribute{Slot: slotTxType, Test: eq(semconv.TxTypeStake)}}, []spanSpec{transfer, failed}, false},
		{"any", Any{Error{Want: true}, &SpanName{Test: eq("POST /tx")}}, []spanSpec{transfer}, true},
		{"any none", Any{Error{Want: true}, &SpanName{Test: eq("GET /health")}}, []spanSpec{transfer}, false},
		{"not", Not{M: Error{Want: true}}, []spanSpec{transfer}, true},
		{"everything", Everything{}, []spanSpec{forward}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, tt.m.Match(summarise(t, "node0", tt.spans...), env))
		})
	}
}

func TestSummaryBounds(t *testing.T) {
	specs := make([]spanSpec, 0, 2*MaxValuesPerKey)
	for i := range 2 * MaxValuesPerKey {
		specs = append(specs, spanSpec{name: "same", attrs: map[string]any{semconv.BlockHeightKey: int64(i)}})
	}
	s := summarise(t, "node0", specs...)
	require.Len(t, s.Names, 1, "names are kept distinct")
	require.Len(t, s.Span[slotHeight], MaxValuesPerKey, "values per key are bounded")
	require.False(t, s.RootEnded)
}

func TestSummaryFollowsHead(t *testing.T) {
	var head float64
	span := ptrace.NewSpan()
	span.Attributes().PutInt(semconv.BlockHeightKey, 42)
	s := &Summary{}
	s.AddSpan(&testKeys, span, noIntern{}, slotHeight, -1, func(h float64) { head = max(head, h) })
	require.Equal(t, 42.0, head)
	require.True(t, s.RootEnded, "a span without parent is the root, and it has ended once exported")
	require.Zero(t, s.Head, "no span reported a head")
}

func TestSummaryHeadIsTheHighestReported(t *testing.T) {
	heads := []int64{7, 90, 12}
	specs := make([]spanSpec, 0, len(heads)+2*MaxValuesPerKey)
	for i := range 2 * MaxValuesPerKey {
		// More distinct heads than a slot records: the highest still counts.
		specs = append(specs, spanSpec{name: "x", attrs: map[string]any{semconv.HeadHeightKey: int64(i)}})
	}
	for _, h := range heads {
		specs = append(specs, spanSpec{name: "x", attrs: map[string]any{semconv.HeadHeightKey: h}})
	}
	require.Equal(t, int64(90), summarise(t, "node0", specs...).Head)
}

func TestKeysEqual(t *testing.T) {
	require.True(t, testKeys.Equal(Keys{Span: append([]string(nil), testKeys.Span...), Resource: testKeys.Resource, Names: true}))
	require.False(t, testKeys.Equal(Keys{Span: testKeys.Span, Resource: testKeys.Resource}))
	require.False(t, testKeys.Equal(Keys{Span: testKeys.Span[:1], Resource: testKeys.Resource, Names: true}))
}
