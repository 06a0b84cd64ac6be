package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/chainotel/chainotel/processors/chainsamplingprocessor/internal/gen"
	"github.com/chainotel/chainotel/processors/chainsamplingprocessor/internal/match"
	"github.com/chainotel/chainotel/semconv"
)

// shippedPolicy is the repository's policy file: triggers, node scopes,
// names, heights, rules of every kind.
func shippedPolicy(t testing.TB) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "..", "..", "collector", "sampling-policies.yaml"))
	require.NoError(t, err)
	return string(data)
}

// outSpan is one span sent on, as the equivalence tests compare them.
type outSpan struct {
	id         pcommon.SpanID
	rule       string
	traceState string
	node       string
}

func outSpans(td ptrace.Traces) []string {
	var out []string
	forEachSpan(td, func(rs ptrace.ResourceSpans, _ ptrace.ScopeSpans, s ptrace.Span) {
		o := outSpan{id: s.SpanID(), traceState: s.TraceState().AsRaw()}
		if v, ok := s.Attributes().Get(semconv.SamplingRuleKey); ok {
			o.rule = v.AsString()
		}
		if v, ok := rs.Resource().Attributes().Get(semconv.ServiceInstanceIDKey); ok {
			o.node = v.AsString()
		}
		out = append(out, fmt.Sprint(o))
	})
	slices.Sort(out)
	return out
}

// protobufGo re-encodes a pdata-encoded request with protobuf-go, as the Go
// SDK's exporters do: fields in number order, the trace id first, so the
// wire path must not lean on pdata's layout.
func protobufGo(t testing.TB, data []byte) []byte {
	t.Helper()
	var req coltracepb.ExportTraceServiceRequest
	require.NoError(t, proto.Unmarshal(data, &req))
	out, err := proto.Marshal(&req)
	require.NoError(t, err)
	return out
}

// summaries are the buffered traces' summaries, by trace.
func summaries(e *Engine) map[pcommon.TraceID]string {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(map[pcommon.TraceID]string, len(e.traces))
	for id, t := range e.traces {
		out[id] = fmt.Sprintf("%+v spans=%d nodes=%v rv=%v/%v committed=%v rooted=%v", t.sum, t.spans, t.nodes, t.hasRV, t.rnd, t.committed, t.rooted)
	}
	return out
}

// TestIngestOTLPDecidesAsIngest feeds the same traffic to one engine as
// pdata (Ingest) and to another as wire bytes (IngestOTLP), both encodings,
// under the shipped policy and a keep-half one: the summaries, the chain
// head, the decisions, every span sent on with its stamps, the late spans
// and the preview's record are the same.
//
// Both policies have a within_head rule. The spans with a block height in
// every other batch report their node's head (chain.head.height, up to
// headLag blocks above the chain's height), so that rule is decided on the
// head a trace's own spans report there, and on the head the engine follows
// in the others. From the first commit on, the block.apply spans of
// addCommit raise the followed head far above the traces' blocks, so the two
// heads give different answers; the test requires the rule to keep some
// spans. (A wire path that skipped chain.head.height fails at batch 0.)
func TestIngestOTLPDecidesAsIngest(t *testing.T) {
	policies := map[string]string{
		"shipped": shippedPolicy(t),
		"half": `rules:
  - {name: errors, match: {error: true}, keep: 1}
  - {name: near-head, match: {block_height: {within_head: 100}}, keep: 1}
  - {name: names, match: {span_name: {regex: "^consensus"}}, keep: 0.5}
  - {name: height, match: {block_height: {min: 1010}}, keep: 0.5}
  - {name: node, match: {resource: {key: service.instance.id, equals: node1}}, keep: 0.5}
  - {name: default, keep: 0.5}`,
	}
	// The rule of each policy that reads the head.
	headRules := map[string]string{"shipped": "consensus-near-head", "half": "near-head"}
	for name, pol := range policies {
		for _, enc := range []string{"pdata", "protobuf-go"} {
			t.Run(name+"/"+enc, func(t *testing.T) {
				cfg := Config{DecisionWait: 50 * time.Millisecond, DecisionWaitAfterRoot: 20 * time.Millisecond,
					CommitGrace: 10 * time.Millisecond, PreviewTraces: 1000, MaxTraces: 300}
				viaPdata, viaWire := newEngine(t, cfg, pol), newEngine(t, cfg, pol)
				g := gen.New(gen.Options{Seed: 7, MinSpans: 3, MaxSpans: 12, ErrorRate: 0.1, Nodes: 3, HeadLag: headLag})
				var sent []ptrace.Traces
				now := t0
				total, byHead := 0, 0
				for i := range 80 {
					td := g.Batch(10)
					if i%2 == 1 {
						dropHeads(td)
					}
					if i%5 == 4 {
						// Again a batch sent before: late spans of traces
						// decided since, or more spans of buffered ones.
						td = sent[i-3]
					}
					addCommit(td, sent, i)
					sent = append(sent, td)
					data, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
					require.NoError(t, err)
					if enc == "protobuf-go" {
						data = protobufGo(t, data)
					}
					a, err := viaPdata.Ingest(td, now)
					require.NoError(t, err)
					b, n, err := viaWire.IngestOTLP(data, now)
					require.NoError(t, err)
					require.Equal(t, td.SpanCount(), n)
					require.Equal(t, outSpans(a), outSpans(b), "batch %d", i)
					total += a.SpanCount()
					byHead += keptBy(a, headRules[name])
					require.Equal(t, summaries(viaPdata), summaries(viaWire), "batch %d", i)
					sa, sb := viaPdata.Stats(), viaWire.Stats()
					if enc != "pdata" {
						sa.Bytes, sb.Bytes = 0, 0 // the same spans, encoded otherwise
					}
					require.Equal(t, sa, sb, "batch %d", i)
					now = now.Add(7 * time.Millisecond)
					a, err = viaPdata.Tick(now)
					require.NoError(t, err)
					b, err = viaWire.Tick(now)
					require.NoError(t, err)
					require.Equal(t, outSpans(a), outSpans(b), "tick after batch %d", i)
					total += a.SpanCount()
					byHead += keptBy(a, headRules[name])
				}
				a, err := viaPdata.Flush(now)
				require.NoError(t, err)
				b, err := viaWire.Flush(now)
				require.NoError(t, err)
				require.Equal(t, outSpans(a), outSpans(b), "flush")
				total += a.SpanCount()
				byHead += keptBy(a, headRules[name])
				require.NotZero(t, total, "some spans were kept")
				require.NotZero(t, byHead, "some spans were kept by %s, on the head their trace reports", headRules[name])
				ra, rb := viaPdata.Recent(), viaWire.Recent()
				require.NotEmpty(t, ra)
				require.Len(t, rb, len(ra))
				for i := range ra {
					require.Equal(t, ra[i].Sum, rb[i].Sum, "recent %d", i)
					require.Equal(t, *ra[i].Keys, *rb[i].Keys, "recent %d", i)
					ra[i].Sum, rb[i].Sum, ra[i].Keys, rb[i].Keys = match.Summary{}, match.Summary{}, nil, nil
					require.Equal(t, ra[i], rb[i], "recent %d", i)
				}
			})
		}
	}
}

// headLag bounds how far above the chain's height the heads that the
// generated spans report lie: above the within_head of both policies' rules
// (100), so some traces' heads are too far above their blocks.
const headLag = 120

// dropHeads removes chain.head.height from every span of td: traffic from
// nodes that do not report their head.
func dropHeads(td ptrace.Traces) {
	forEachSpan(td, func(_ ptrace.ResourceSpans, _ ptrace.ScopeSpans, s ptrace.Span) {
		s.Attributes().Remove(semconv.HeadHeightKey)
	})
}

// keptBy counts the spans of td stamped with rule.
func keptBy(td ptrace.Traces, rule string) int {
	n := 0
	forEachSpan(td, func(_ ptrace.ResourceSpans, _ ptrace.ScopeSpans, s ptrace.Span) {
		if v, ok := s.Attributes().Get(semconv.SamplingRuleKey); ok && v.AsString() == rule {
			n++
		}
	})
	return n
}

// addCommit adds, every few batches, a block.apply span linking to the
// traces of an earlier batch, and an rv in some tracestates, so commits
// and explicit randomness are compared too.
func addCommit(td ptrace.Traces, sent []ptrace.Traces, i int) {
	if i%3 != 2 || len(sent) < 2 {
		return
	}
	rs := td.ResourceSpans().At(0)
	span := rs.ScopeSpans().At(0).Spans().AppendEmpty()
	span.SetName(semconv.SpanBlockApply)
	span.SetTraceID(pcommon.TraceID{byte(i), 0xbb})
	span.SetSpanID(pcommon.SpanID{byte(i), 0xbb})
	span.Attributes().PutInt(semconv.BlockHeightKey, int64(2000+i))
	forEachSpan(sent[len(sent)-2], func(_ ptrace.ResourceSpans, _ ptrace.ScopeSpans, s ptrace.Span) {
		if s.ParentSpanID().IsEmpty() {
			span.Links().AppendEmpty().SetTraceID(s.TraceID())
			s.TraceState().FromRaw("ot=rv:" + strings.Repeat("f", 14))
		}
	})
}

// TestIngestOTLPRefusesWhatPdataRefuses: a truncated request, a trace id of
// the wrong size and a wrong wire type are ErrMalformed, saying where; the
// engine is left as it was.
func TestIngestOTLPRefusesWhatPdataRefuses(t *testing.T) {
	e := newEngine(t, Config{}, "rules: [{name: all, keep: 1}]")
	g := gen.New(gen.Default(3))
	data, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(g.Batch(3))
	require.NoError(t, err)
	td := ptrace.NewTraces()
	td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty().SetName("x")
	oneSpan, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	require.NoError(t, err)
	// The span's name (field 5, "x") as a varint field 5 instead.
	wrongType := []byte(strings.Replace(string(oneSpan), "\x2a\x01x", "\x28\x01\x00", 1))
	shortID := []byte{0x0a, 0x08, 0x12, 0x06, 0x12, 0x04, 0x0a, 0x02, 0xaa, 0xbb}
	for name, bad := range map[string][]byte{
		"truncated":       data[:len(data)-5],
		"wrong wire type": wrongType,
		"short trace id":  shortID,
	} {
		t.Run(name, func(t *testing.T) {
			_, pdataErr := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(bad)
			require.Error(t, pdataErr, "pdata refuses it too")
			_, _, err := e.IngestOTLP(bad, t0)
			require.ErrorIs(t, err, ErrMalformed)
			require.Contains(t, err.Error(), "at byte")
			require.Zero(t, e.Stats().Spans)
		})
	}
}

// FuzzIngestOTLP: any bytes; IngestOTLP refuses exactly what pdata's
// decoder refuses, never panics, and what it takes it decides as Ingest
// decides the decoded request.
func FuzzIngestOTLP(f *testing.F) {
	g := gen.New(gen.Options{Seed: 1, MinSpans: 2, MaxSpans: 4, ErrorRate: 0.3, Nodes: 2})
	for range 4 {
		data, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(g.Batch(2))
		require.NoError(f, err)
		f.Add(data)
		f.Add(protobufGo(f, data))
	}
	pol := shippedPolicy(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		td, pdataErr := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(data)
		cfg := Config{PreviewTraces: 100, CommitGrace: time.Millisecond}
		viaPdata, viaWire := newEngine(t, cfg, pol), newEngine(t, cfg, pol)
		held := slices.Clone(data)
		b, _, err := viaWire.IngestOTLP(held, t0)
		if pdataErr != nil {
			require.ErrorIs(t, err, ErrMalformed, "pdata refuses it: %v", pdataErr)
			return
		}
		require.NoError(t, err, "pdata decodes it")
		a, err := viaPdata.Ingest(td, t0)
		require.NoError(t, err)
		require.Equal(t, outSpans(a), outSpans(b))
		require.Equal(t, summaries(viaPdata), summaries(viaWire))
		a, err = viaPdata.Flush(t0)
		require.NoError(t, err)
		b, err = viaWire.Flush(t0)
		if err != nil && errors.Is(err, errMalformed) {
			t.Fatalf("a request both decoders take failed extraction: %v", err)
		}
		require.NoError(t, err)
		require.Equal(t, outSpans(a), outSpans(b))
	})
}
