//go:build integration

package e2e

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/chainotel/chainotel/internal/cluster"
	"github.com/chainotel/chainotel/internal/collectorproc"
	"github.com/chainotel/chainotel/internal/otlpsink"
	"github.com/chainotel/chainotel/internal/sentrytest"
	"github.com/chainotel/chainotel/internal/testbin"
	"github.com/chainotel/chainotel/internal/testproc"
	"github.com/chainotel/chainotel/node/p2p"
	"github.com/chainotel/chainotel/semconv"
)

// Bounds of the waits. Generous: three -race node binaries and the collector
// share two cores with whatever else runs.
const (
	startWithin    = 120 * time.Second
	traceWithin    = 60 * time.Second
	policyWithin   = 30 * time.Second // the policy edit reaches decisions (about a second when idle)
	stopWithin     = 30 * time.Second
	exportInterval = "200" // OTEL_BSP/BLRP_SCHEDULE_DELAY, ms: spans reach the collector soon after they end
)

// pair is the running node + collector pair and where its output goes.
type pair struct {
	sink    *otlpsink.Sink
	sentry  *sentrytest.Server
	col     *collectorproc.Collector
	cluster *cluster.Cluster
	policy  string
	leader  *cluster.Node
	// follower is a node that does not lead.
	follower *cluster.Node
}

// startPair starts the collector and three nodes; nodeEnv adds variables
// to the nodes' environment, each made from the pair as started so far (the
// collector's addresses are known by then).
func startPair(t *testing.T, nodeEnv ...func(*pair) string) *pair {
	t.Helper()
	return startPairWith(t, nil, nodeEnv...)
}

// startPairWith is startPair with testdata, files of testdata/ merged over
// the collector's configuration after decisions.yaml.
func startPairWith(t *testing.T, testdata []string, nodeEnv ...func(*pair) string) *pair {
	t.Helper()
	configs := append(collectorproc.Shipped(t, "otlp-out", "sentry"), collectorproc.Testdata(t, "decisions.yaml"))
	for _, name := range testdata {
		configs = append(configs, collectorproc.Testdata(t, name))
	}
	p := &pair{sink: otlpsink.Start(t), sentry: sentrytest.NewServer(t)}
	p.policy = filepath.Join(t.TempDir(), "sampling-policies.yaml")
	writeAtomically(t, p.policy, policies("1"))
	p.col = collectorproc.Start(t, collectorproc.Options{
		// The shipped configuration, kept traces to the sink, errors to Sentry.
		// testdata/decisions.yaml shortens the decision wait.
		ConfigFiles: configs,
		Env: []string{
			"CHAINOTEL_TRACES_OTLP_ENDPOINT=" + p.sink.Addr(),
			"CHAINOTEL_POLICY_FILE=" + p.policy,
			"SENTRY_DSN=" + p.sentry.DSN(),
		},
	})
	c, err := cluster.New(t.Context(), cluster.Config{
		Binary: testbin.Blockchain(t),
		Dir:    t.TempDir(),
		Env: append([]string{
			"OTEL_EXPORTER_OTLP_ENDPOINT=http://" + p.col.OTLPGRPC,
			"OTEL_BSP_SCHEDULE_DELAY=" + exportInterval,
			"OTEL_BLRP_SCHEDULE_DELAY=" + exportInterval,
		}, extraEnv(p, nodeEnv)...),
		Args:     []string{"--debug-faults"},
		Progress: func(msg string) { t.Log(msg) },
	})
	if err != nil {
		t.Fatal(err)
	}
	p.cluster = c
	t.Cleanup(func() {
		if t.Failed() {
			for _, n := range c.Nodes() {
				t.Logf("--- last lines of %s (%s):\n%s", n.ID, n.LogPath, n.Tail(40))
			}
			t.Logf("--- last lines of the collector (%s):\n%s", p.col.LogPath, p.col.Tail(40))
		}
		_ = c.Close(stopWithin)
	})
	if err := c.StartAll(); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitHealthy(t.Context(), startWithin); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitPeers(t.Context(), startWithin, len(c.Nodes())); err != nil {
		t.Fatal(err)
	}
	var leader string
	testproc.WaitFor(t, startWithin, "a leader every node agrees on", func() error {
		leader = ""
		for _, n := range c.Nodes() {
			l, err := leaderOf(t.Context(), n)
			if err != nil {
				return err
			}
			if leader != "" && l != leader {
				return fmt.Errorf("%s sees %s, others %s", n.ID, l, leader)
			}
			leader = l
		}
		return nil
	})
	for _, n := range c.Nodes() {
		if n.ID == leader {
			p.leader = n
		} else if p.follower == nil {
			p.follower = n
		}
	}
	return p
}

func extraEnv(p *pair, nodeEnv []func(*pair) string) []string {
	out := make([]string, 0, len(nodeEnv))
	for _, f := range nodeEnv {
		out = append(out, f(p))
	}
	return out
}

// TestNodeAndCollector walks through the pair's promises in order; each step
// relies on the cluster the previous one left.
func TestNodeAndCollector(t *testing.T) {
	p := startPair(t)
	step := func(name string, f func(t *testing.T)) {
		if !t.Run(name, f) {
			t.FailNow()
		}
	}
	step("a transaction sent to a follower is one trace across nodes", func(t *testing.T) { checkTxTrace(t, p) })
	step("a policy edit stops transfer traces while errors are kept", func(t *testing.T) { checkPolicyEdit(t, p) })
	step("a fault arrives as a categorised error at the sink and at Sentry", func(t *testing.T) { checkFault(t, p) })
	step("a panic is recorded and ends the node", func(t *testing.T) { checkPanic(t, p) })
}

func checkTxTrace(t *testing.T, p *pair) {
	tid := newTraceID()
	postTx(t, p.follower, tid, 11)
	nodes := p.cluster.Nodes()

	var spans []otlpsink.Span
	p.sink.WaitFor(t, traceWithin, "the transaction's trace with spans of the follower and the leader", func() error {
		spans = p.sink.Trace(tid)
		seen := map[string]bool{}
		for _, s := range spans {
			seen[instance(s)] = true
		}
		if !seen[p.follower.ID] || !seen[p.leader.ID] {
			return fmt.Errorf("spans from %v:%s", seen, describe(spans))
		}
		if find(spans, p.leader.ID, semconv.SpanMempoolAdd) == nil {
			return fmt.Errorf("no mempool.add on the leader yet:%s", describe(spans))
		}
		return nil
	})

	server := find(spans, p.follower.ID, "POST /tx")
	if server == nil || server.Kind() != ptrace.SpanKindServer {
		t.Fatalf("no POST /tx server span of %s:%s", p.follower.ID, describe(spans))
	}
	requireAttr(t, *server, semconv.HTTPRouteKey, "/tx")
	requireAttr(t, *server, semconv.TxTypeKey, semconv.TxTypeTransfer)
	txHash := requireAttr(t, *server, semconv.TxHashKey, "")
	// The follower checks what it can alone (validate.transaction, open
	// until the leader admits the transaction); the leader checks the state
	// transition and the gas when it admits the forwarded transaction to its
	// mempool: one chain, validate.transaction -> validate.state_transition
	// -> validate.gas_usage, across the two nodes.
	for _, want := range []struct{ node, name string }{
		{p.follower.ID, semconv.SpanValidateTransaction}, {p.leader.ID, semconv.SpanValidateStateTransition},
		{p.leader.ID, semconv.SpanValidateGasUsage}, {p.leader.ID, semconv.SpanMempoolAdd},
	} {
		if find(spans, want.node, want.name) == nil {
			t.Fatalf("no %s on %s:%s", want.name, want.node, describe(spans))
		}
	}
	vt := find(spans, p.follower.ID, semconv.SpanValidateTransaction)
	st := find(spans, p.leader.ID, semconv.SpanValidateStateTransition)
	gas := find(spans, p.leader.ID, semconv.SpanValidateGasUsage)
	if st.ParentSpanID() != vt.SpanID() || gas.ParentSpanID() != st.SpanID() {
		t.Errorf("the validation stages are not one chain across nodes:%s", describe(spans))
	}
	// The forward to the leader: a gRPC client span on the follower and its
	// server span on the leader, in the same trace.
	var client, srv *otlpsink.Span
	for i, s := range spans {
		if m, _ := s.Attr(semconv.RPCMethodKey); m == "Forward" || strings.HasSuffix(s.Name(), "/Forward") {
			switch {
			case s.Kind() == ptrace.SpanKindClient && instance(s) == p.follower.ID:
				client = &spans[i]
			case s.Kind() == ptrace.SpanKindServer && instance(s) == p.leader.ID:
				srv = &spans[i]
			}
		}
	}
	if client == nil || srv == nil {
		t.Fatalf("no Forward client span on %s and server span on %s:%s", p.follower.ID, p.leader.ID, describe(spans))
	}
	if srv.ParentSpanID() != client.SpanID() {
		t.Errorf("the leader's Forward server span is not the child of the follower's client span")
	}
	requireAttr(t, *client, semconv.RPCSystemKey, "grpc")
	requireAttr(t, *srv, semconv.RPCServiceKey, p2p.ServiceName)
	requireAttr(t, *srv, semconv.PeerIDKey, p.follower.ID)
	if v := requireAttr(t, *find(spans, p.leader.ID, semconv.SpanMempoolAdd), semconv.TxHashKey, ""); v != txHash {
		t.Errorf("the leader's mempool.add names tx %s, the follower's server span %s", v, txHash)
	}

	// The block: proposed by the leader, committed and applied on every
	// node, each linked to the transaction's trace (or in it).
	var applies []otlpsink.Span
	p.sink.WaitFor(t, traceWithin, "consensus.propose and block.apply on every node, linked to the transaction", func() error {
		linked := p.sink.SpansMatching(func(s otlpsink.Span) bool { return linksTo(s, tid) })
		var missing []string
		if find(linked, p.leader.ID, semconv.SpanConsensusPropose) == nil {
			missing = append(missing, "consensus.propose on "+p.leader.ID)
		}
		applies = applies[:0]
		for _, n := range nodes {
			if s := find(linked, n.ID, semconv.SpanBlockApply); s == nil {
				missing = append(missing, "block.apply on "+n.ID)
			} else {
				applies = append(applies, *s)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("missing %v", missing)
		}
		return nil
	})
	for _, a := range applies {
		for _, key := range []string{semconv.BlockHeightKey, semconv.BlockHashKey, semconv.StateRootKey} {
			requireAttr(t, a, key, "")
		}
		commit := p.sink.Trace(a.TraceID())
		parent := byID(commit, a.ParentSpanID())
		if parent == nil || parent.Name() != semconv.SpanConsensusCommit {
			t.Errorf("block.apply on %s is not the child of a consensus.commit:%s", instance(a), describe(commit))
			continue
		}
		for _, key := range []string{semconv.BlockHeightKey, semconv.BlockHashKey, semconv.ConsensusTermKey, semconv.ConsensusIndexKey} {
			requireAttr(t, *parent, key, "")
		}
	}
}

// checkPolicyEdit sets the transfers' keep rate to 0 and checks that new
// transfer traces stop arriving soon after, while error traces are still
// kept. Whether a transfer trace was dropped is known without waiting on
// time: an error trace started on the same node after it is decided after
// it, so once the error trace arrived the transfer trace would have too.
func checkPolicyEdit(t *testing.T, p *pair) {
	edited := time.Now()
	writeAtomically(t, p.policy, policies("0"))
	var droppedAfter time.Duration
	dropped := 0
	for attempt := 1; dropped < 2; attempt++ {
		if time.Since(edited) > policyWithin {
			t.Fatalf("transfer traces were still kept %v after the policy edit", policyWithin)
		}
		tid := newTraceID()
		postTx(t, p.follower, tid, 100+attempt)
		rep := fault(t, p.follower, semconv.ErrorStorage)
		etid := mustTraceID(t, rep.TraceID)
		p.sink.WaitSpans(t, traceWithin, "the error trace after transfer "+tid.String(), 1, func(s otlpsink.Span) bool {
			return s.TraceID() == etid && s.Status().Code() == ptrace.StatusCodeError
		})
		if isTransferTrace(p.sink.Trace(tid)) {
			dropped = 0 // the edit is not in force yet
			continue
		}
		if dropped == 0 {
			droppedAfter = time.Since(edited)
		}
		dropped++
	}
	t.Logf("transfer traces stopped arriving %v after the policy edit; error traces still kept", droppedAfter.Round(time.Millisecond))
}

// checkFault triggers a consensus timeout on a follower and finds it as an
// error at the sink and in Sentry, with its category and the chain head.
func checkFault(t *testing.T, p *pair) {
	rep := fault(t, p.follower, semconv.ErrorConsensusTimeout)
	tid := mustTraceID(t, rep.TraceID)
	got := p.sink.WaitSpans(t, traceWithin, "the consensus.timeout error span", 1, func(s otlpsink.Span) bool {
		return s.TraceID() == tid && s.Name() == semconv.SpanConsensusTimeout
	})[0]
	if got.Status().Code() != ptrace.StatusCodeError {
		t.Errorf("consensus.timeout status %v, want error", got.Status().Code())
	}
	requireAttr(t, got, semconv.ErrorTypeKey, semconv.ErrorConsensusTimeout)
	requireAttr(t, got, semconv.HeadHeightKey, "") // stamped by chainenrich

	var ev *sentrytest.Event
	testproc.WaitFor(t, traceWithin, "the consensus timeout at Sentry", func() error {
		for _, e := range p.sentry.Events() {
			if e.Tags[semconv.ErrorTypeKey] == semconv.ErrorConsensusTimeout && e.Tags[semconv.HeadHeightKey] != "" {
				ev = &e
				return nil
			}
		}
		return fmt.Errorf("%d events, none a consensus_timeout with %s (problems: %v)",
			len(p.sentry.Events()), semconv.HeadHeightKey, p.sentry.Problems())
	})
	t.Logf("Sentry event: %q tags %v", ev.Message, ev.Tags)
}

// checkPanic panics a follower on purpose: the panic span with its stack
// reaches the sink and the node exits non-zero.
func checkPanic(t *testing.T, p *pair) {
	n := p.follower
	fault(t, n, "panic")
	select {
	case <-n.Done():
	case <-time.After(traceWithin):
		t.Fatalf("%s still runs %v after the panic", n.ID, traceWithin)
	}
	var exit *exec.ExitError
	if err := n.ExitErr(); !errors.As(err, &exit) || exit.ExitCode() == 0 {
		t.Errorf("%s ended with %v, want a non-zero exit", n.ID, err)
	}
	got := p.sink.WaitSpans(t, traceWithin, "the goroutine.panic span", 1, func(s otlpsink.Span) bool {
		return s.Name() == semconv.SpanPanic && instance(s) == n.ID
	})[0]
	requireAttr(t, got, semconv.ErrorTypeKey, semconv.ErrorGoroutinePanic)
	stack := ""
	for i := 0; i < got.Events().Len(); i++ {
		if v, ok := got.Events().At(i).Attributes().Get(semconv.ExceptionStacktraceKey); ok {
			stack = v.AsString()
		}
	}
	if !strings.Contains(stack, "goroutine") {
		t.Errorf("the panic span carries no stack: %q", stack)
	}
}

func find(spans []otlpsink.Span, node, name string) *otlpsink.Span {
	for i, s := range spans {
		if s.Name() == name && instance(s) == node {
			return &spans[i]
		}
	}
	return nil
}

func byID(spans []otlpsink.Span, id pcommon.SpanID) *otlpsink.Span {
	for i, s := range spans {
		if s.SpanID() == id {
			return &spans[i]
		}
	}
	return nil
}

// requireAttr checks that s has key (equal to want unless want is empty) and
// returns its value.
func requireAttr(t *testing.T, s otlpsink.Span, key, want string) string {
	t.Helper()
	v, ok := s.Attr(key)
	switch {
	case !ok:
		t.Errorf("%s on %s has no %s", s.Name(), instance(s), key)
	case want != "" && v != want:
		t.Errorf("%s on %s: %s=%q, want %q", s.Name(), instance(s), key, v, want)
	}
	return v
}

func mustTraceID(t *testing.T, hexID string) pcommon.TraceID {
	t.Helper()
	var id pcommon.TraceID
	b, err := hex.DecodeString(hexID)
	if err != nil || len(b) != len(id) {
		t.Fatalf("trace id %q: want 32 hex digits (%v)", hexID, err)
	}
	copy(id[:], b)
	return id
}

// TestNodesExportOverMutualTLS runs the documented --otlp-tls set-up: the
// collector's OTLP receiver requires a client certificate from the cluster
// CA and presents one issued by `blockchain certs` for "collector".
func TestNodesExportOverMutualTLS(t *testing.T) {
	sink := otlpsink.Start(t)
	policy := filepath.Join(t.TempDir(), "sampling-policies.yaml")
	writeAtomically(t, policy, policies("1"))
	dir := t.TempDir()
	c, err := cluster.New(t.Context(), cluster.Config{Binary: testbin.Blockchain(t), Dir: dir, Args: []string{"--otlp-tls"},
		Progress: func(msg string) { t.Log(msg) }})
	if err != nil {
		t.Fatal(err)
	}
	if out, err := c.Run(t.Context(), "certs", "--dir", "certs", "--nodes", "collector"); err != nil {
		t.Fatalf("certificate for the collector: %v\n%s", err, out)
	}
	certs := filepath.Join(dir, "certs")
	col := collectorproc.Start(t, collectorproc.Options{
		ConfigFiles: append(collectorproc.Shipped(t, "otlp-out"),
			collectorproc.Testdata(t, "decisions.yaml"), collectorproc.Testdata(t, "otlp_mtls.yaml")),
		Env: []string{"CHAINOTEL_TRACES_OTLP_ENDPOINT=" + sink.Addr(), "CHAINOTEL_POLICY_FILE=" + policy, "CERTS_DIR=" + certs},
	})
	t.Cleanup(func() {
		if t.Failed() {
			for _, n := range c.Nodes() {
				t.Logf("--- last lines of %s:\n%s", n.ID, n.Tail(20))
			}
		}
		_ = c.Close(stopWithin)
	})
	for _, n := range c.Nodes() {
		if err := c.Start(n.ID, "--otlp-endpoint=https://"+col.OTLPGRPC); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.WaitHealthy(t.Context(), startWithin); err != nil {
		t.Fatal(err)
	}
	n := c.Nodes()[0]
	tid := newTraceID()
	postTx(t, n, tid, 5)
	sink.WaitSpans(t, traceWithin, "the transaction's server span, exported over mutual TLS", 1, func(s otlpsink.Span) bool {
		return s.TraceID() == tid && s.Name() == "POST /tx" && instance(s) == n.ID
	})
}
