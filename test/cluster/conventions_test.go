//go:build integration

package cluster

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	harness "github.com/chainotel/chainotel/internal/cluster"
	"github.com/chainotel/chainotel/internal/otlpsink"
	"github.com/chainotel/chainotel/internal/testbin"
	"github.com/chainotel/chainotel/semconv"
)

// spansWithin bounds the wait for a span: the nodes export every
// tracedExportDelay, three binaries share two loaded cores.
const (
	spansWithin       = 60 * time.Second
	tracedExportDelay = "200" // milliseconds, as OTEL_BSP_SCHEDULE_DELAY reads it
)

// startTracedCluster is startCluster with the nodes' telemetry on, exported
// straight to sink; env is added to every node's environment.
func startTracedCluster(t *testing.T, sink *otlpsink.Sink, env []string, args ...string) *harness.Cluster {
	t.Helper()
	c, err := harness.New(ctxFor(t, time.Minute), harness.Config{
		Binary: testbin.Blockchain(t),
		Dir:    t.TempDir(),
		Env: append([]string{
			"OTEL_EXPORTER_OTLP_ENDPOINT=http://" + sink.Addr(),
			"OTEL_BSP_SCHEDULE_DELAY=" + tracedExportDelay,
			"OTEL_BLRP_SCHEDULE_DELAY=" + tracedExportDelay,
		}, env...),
		Args:     args,
		Progress: func(msg string) { t.Log(msg) },
	})
	require.NoError(t, err)
	t.Cleanup(func() {
		if t.Failed() {
			for _, n := range c.Nodes() {
				t.Logf("--- last lines of %s (%s):\n%s", n.ID, n.LogPath, n.Tail(40))
			}
		}
		_ = c.Close(stopWithin)
	})
	require.NoError(t, c.StartAll())
	require.NoError(t, c.WaitHealthy(t.Context(), healthyWithin))
	return c
}

func spanNamed(name string) func(otlpsink.Span) bool {
	return func(s otlpsink.Span) bool { return s.Name() == name }
}

func nodeOf(s otlpsink.Span) string {
	id, _ := s.ResourceAttr(semconv.ServiceInstanceIDKey)
	return id
}

// TestSpansFollowTheConventions runs a traced three-node cluster through a
// transaction posted to a follower, a snapshot catch-up of a node restarted
// behind, and an election after the leader is killed, then checks every span
// of semconv.Spans the cluster emitted against the conventions table: each
// carries its Always attributes, and the validation stages are one chain
// across nodes.
func TestSpansFollowTheConventions(t *testing.T) {
	sink := otlpsink.Start(t)
	c := startTracedCluster(t, sink, nil, fmt.Sprintf("--snapshot-every=%d", conventionsSnapshotEvery))
	cl := harness.NewClient(8, requestTimeout)

	t.Log("a transaction through a follower")
	leader := waitLeader(t, cl, c.Nodes(), "")
	follower := otherThan(c.Nodes(), leader)[0]
	r := submitMany(t, cl, []*harness.Node{follower}, 1, 1)[0]
	server := sink.WaitSpans(t, spansWithin, "the POST /tx span", 1, func(s otlpsink.Span) bool {
		h, _ := s.Attr(semconv.TxHashKey)
		return s.Name() == "POST /tx" && h == r.TxHash
	})[0]
	tid := server.TraceID()
	inTrace := func(name string) func(otlpsink.Span) bool {
		return func(s otlpsink.Span) bool { return s.Name() == name && s.TraceID() == tid }
	}
	vt := sink.WaitSpans(t, spansWithin, "validate.transaction", 1, inTrace(semconv.SpanValidateTransaction))[0]
	st := sink.WaitSpans(t, spansWithin, "validate.state_transition", 1, inTrace(semconv.SpanValidateStateTransition))[0]
	gas := sink.WaitSpans(t, spansWithin, "validate.gas_usage", 1, inTrace(semconv.SpanValidateGasUsage))[0]
	require.Equal(t, vt.SpanID(), st.ParentSpanID(), "validate.state_transition is validate.transaction's child")
	require.Equal(t, st.SpanID(), gas.ParentSpanID(), "validate.gas_usage is validate.state_transition's child")
	require.Equal(t, follower.ID, nodeOf(vt), "validate.transaction on the node posted to")
	require.Equal(t, leader, nodeOf(st), "validate.state_transition where the tx is admitted")

	t.Log("a node restarted behind the leader's compacted log")
	victim := otherThan(c.Nodes(), leader)[1]
	rest := otherThan(c.Nodes(), victim.ID)
	stale, err := latestHeight(ctxFor(t, requestTimeout), cl, victim)
	require.NoError(t, err)
	require.NoError(t, c.Kill(victim.ID))
	want := stale + conventionsSnapshotEvery + snapshotCatchUp + 30
	deadline := time.Now().Add(catchUpWithin)
	for {
		h, err := latestHeight(ctxFor(t, requestTimeout), cl, rest[0])
		require.NoError(t, err)
		if h >= want {
			break
		}
		require.True(t, time.Now().Before(deadline), "the chain reached only height %d of %d in %v", h, want, catchUpWithin)
		submitMany(t, cl, rest, 100, 4)
	}
	require.NoError(t, c.Start(victim.ID))
	require.NoError(t, c.WaitHealthy(t.Context(), healthyWithin))
	onVictim := func(name string) func(otlpsink.Span) bool {
		return func(s otlpsink.Span) bool { return s.Name() == name && nodeOf(s) == victim.ID }
	}
	sink.WaitSpans(t, spansWithin, "sync.fetch on "+victim.ID, 1, onVictim(semconv.SpanSyncFetch))
	sink.WaitSpans(t, spansWithin, "sync.apply on "+victim.ID, 1, onVictim(semconv.SpanSyncApply))

	t.Log("an election after the leader is killed")
	before := len(sink.SpansMatching(spanNamed(semconv.SpanConsensusPrevote)))
	leader = waitLeader(t, cl, c.Nodes(), "")
	require.NoError(t, c.Kill(leader))
	waitLeader(t, cl, otherThan(c.Nodes(), leader), leader)
	sink.WaitFor(t, spansWithin, "pre-votes and votes, sent and received, on the survivors", func() error {
		seen := map[[3]string]bool{}
		for _, s := range sink.SpansMatching(spanNamed(semconv.SpanConsensusPrevote))[before:] {
			typ, _ := s.Attr(semconv.ConsensusVoteTypeKey)
			msg, _ := s.Attr(semconv.ConsensusVoteMessageKey)
			dir, _ := s.Attr(semconv.ConsensusVoteDirectionKey)
			seen[[3]string{typ, msg, dir}] = true
		}
		for _, typ := range []string{semconv.VoteTypePreVote, semconv.VoteTypeVote} {
			for _, msg := range []string{semconv.VoteMessageRequest, semconv.VoteMessageResponse} {
				for _, dir := range []string{semconv.VoteSent, semconv.VoteReceived} {
					if !seen[[3]string{typ, msg, dir}] {
						return fmt.Errorf("no %s %s %s yet", typ, msg, dir)
					}
				}
			}
		}
		return nil
	})

	t.Log("every span against the table")
	checkConventions(t, sink.Spans(), semconv.SpanValidateTransaction, semconv.SpanValidateStateTransition,
		semconv.SpanValidateGasUsage, semconv.SpanMempoolAdd, semconv.SpanConsensusPropose, semconv.SpanConsensusPrevote,
		semconv.SpanConsensusCommit, semconv.SpanBlockApply, semconv.SpanSyncFetch, semconv.SpanSyncApply)
}

// conventionsSnapshotEvery is small so a node down for a few hundred blocks
// falls behind the leader's compacted log.
const conventionsSnapshotEvery = 50

// checkConventions requires each name of want among spans, and every span
// named in semconv.Spans to carry that row's Always attributes.
func checkConventions(t *testing.T, spans []otlpsink.Span, want ...string) {
	t.Helper()
	var errs []error
	seen := map[string]int{}
	for _, s := range spans {
		conv, ok := semconv.SpanConventionOf(s.Name())
		if !ok {
			continue
		}
		seen[s.Name()]++
		for _, key := range conv.Always {
			if _, ok := s.Attributes().Get(key); !ok {
				errs = append(errs, fmt.Errorf("%s from %s lacks %s: %v", s.Name(), nodeOf(s), key, s.Attributes().AsRaw()))
			}
		}
	}
	for _, name := range want {
		if seen[name] == 0 {
			errs = append(errs, fmt.Errorf("no %s span at all", name))
		}
	}
	names := make([]string, 0, len(seen))
	for n, k := range seen {
		names = append(names, fmt.Sprintf("%s:%d", n, k))
	}
	slices.Sort(names)
	t.Logf("spans checked: %v", names)
	require.NoError(t, errors.Join(errs...))
}
