//go:build integration

package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/chainotel/chainotel/internal/cluster"
	"github.com/chainotel/chainotel/internal/collectorproc"
	"github.com/chainotel/chainotel/internal/otlpsink"
	"github.com/chainotel/chainotel/internal/testbin"
	"github.com/chainotel/chainotel/internal/testproc"
	"github.com/chainotel/chainotel/semconv"
)

// The head sampling test's sizes and bounds.
const (
	headPoll       = 200 * time.Millisecond // the nodes' pollingIntervalMs
	windowTxs      = 400                    // transactions per measured window
	windowWorkers  = 8                      // concurrent POST /tx of a window
	flakeOdds      = 1e-9                   // chance that a binomial bound fails a correct run
	pollsPerChange = 15                     // strategy requests served after an edit before a window starts (5 per node)
	// samplerParamKey is the attribute the contrib jaegerremote sampler puts
	// on the root spans it samples: the probability of the strategy in force.
	samplerParamKey = "jaeger.sampler.param"
)

// headTx is the head section that samples the node's POST /tx at keep.
func headTx(keep string) string {
	return fmt.Sprintf(`head:
  services:
    %s:
      operations:
        - {http_route: /tx, keep: %s}
`, semconv.ServiceName, keep)
}

// headPair is the pair of e2e_test.go with every node sampling at the head
// with jaeger_remote, from the collector's chainheadsampling extension.
type headPair struct {
	*pair
	polls    float64 // strategy requests answered when the last edit was saved
	accepted float64 // spans the collector's receiver had accepted when the last window started
}

func startHeadPair(t *testing.T) *headPair {
	t.Helper()
	p := startPair(t,
		func(*pair) string { return "OTEL_TRACES_SAMPLER=jaeger_remote" },
		func(p *pair) string {
			return fmt.Sprintf("OTEL_TRACES_SAMPLER_ARG=endpoint=%s,pollingIntervalMs=%d,initialSamplingRate=1",
				p.col.HeadSamplingURL, headPoll.Milliseconds())
		})
	return &headPair{pair: p}
}

// TestHeadSampling runs three nodes with OTEL_TRACES_SAMPLER=jaeger_remote
// against the shipped collector and edits the head: section of its policy
// file. Every window posts windowTxs transactions to a follower without a
// traceparent, so the follower's head sampler decides each trace; the kept
// ones are counted at the sink by their transaction hash and held to
// binomial bounds that a correct run misses with odds below flakeOdds.
func TestHeadSampling(t *testing.T) {
	h := startHeadPair(t)
	step := func(name string, f func(t *testing.T)) {
		if !t.Run(name, f) {
			t.FailNow()
		}
	}
	step("without a head section every transaction is traced", h.checkKeepEverything)
	step("an edit of the head section cuts the transactions traced", h.checkHeadEdit)
	step("a refused head edit keeps the previous strategies", h.checkRefusedEdit)
	step("the tail rules apply to what the head keeps", h.checkTailRules)
}

func (h *headPair) checkKeepEverything(t *testing.T) {
	hashes := h.window(t)
	var kept map[string]otlpsink.Span
	h.sink.WaitFor(t, traceWithin, "every transaction's POST /tx span", func() error {
		kept = h.roots(hashes)
		if len(kept) < len(hashes) {
			return fmt.Errorf("%d of %d transactions traced", len(kept), len(hashes))
		}
		return nil
	})
	for hash, s := range kept {
		if p := samplerParam(s); p != 1 {
			t.Fatalf("tx %s was sampled with %s=%v, want 1 (the strategy of a file without head:)", hash, samplerParamKey, p)
		}
	}
	h.sentinel(t)
	spans := 0
	for _, s := range kept {
		spans += len(h.sink.Trace(s.TraceID()))
	}
	t.Logf("%d/%d transactions traced, %.1f spans per transaction at the sink, %.1f accepted by the collector's receiver per transaction (block spans included)",
		len(kept), len(hashes), float64(spans)/float64(len(hashes)), h.acceptedPerTx(t, len(hashes)))
	h.checkWhole(t, hashes, kept)
}

func (h *headPair) checkHeadEdit(t *testing.T) {
	prev := 1.0
	for _, keep := range []float64{0, 0.1} {
		h.edit(t, policies("1")+headTx(strconv.FormatFloat(keep, 'f', -1, 64)))
		edited := time.Now()
		if got := h.servedTxRate(t); got != keep {
			t.Fatalf("the extension serves POST /tx at %v right after the edit, want %v", got, keep)
		}
		h.waitPolls(t)
		t.Logf("%d strategy polls answered %v after the edit (poll interval %v)", pollsPerChange, time.Since(edited).Round(time.Millisecond), headPoll)
		hashes := h.window(t)
		kept := h.checkRate(t, hashes, keep, prev)
		h.checkWhole(t, hashes, kept)
		prev = keep
	}
}

func (h *headPair) checkRefusedEdit(t *testing.T) {
	const keep = 0.1 // the strategy in force before the bad edit
	failures := h.metric(t, "otelcol_extension_chainheadsampling_policy_reload_failures", nil)
	h.edit(t, policies("1")+strings.Replace(headTx("0.1"), "operations:", "keep: 1.5\n      operations:", 1))
	testproc.WaitFor(t, policyWithin, "the extension refusing the edit", func() error {
		if h.metric(t, "otelcol_extension_chainheadsampling_policy_reload_failures", nil) <= failures {
			return errors.New("no refusal counted yet")
		}
		if log := h.col.Log(); !strings.Contains(log, "head.services.blockchain.keep: must be a probability") {
			return errors.New("the refusal is not in the collector's log yet")
		}
		return nil
	})
	if got := h.servedTxRate(t); got != keep {
		t.Fatalf("after a refused edit the extension serves POST /tx at %v, want the previous %v", got, keep)
	}
	h.waitPolls(t)
	hashes := h.window(t)
	h.checkRate(t, hashes, keep, keep)
}

// checkTailRules replaces the test's rules with the shipped ones (but their
// trigger windows, which would keep every trace of a node whose height stood
// still between two steps) and samples POST /tx at 0.5 at the head: of the
// transfer traces that arrive, the shipped transfers rule keeps about one in
// a hundred, and an error trace the head let in is kept by the errors rule.
func (h *headPair) checkTailRules(t *testing.T) {
	const headKeep, tailKeep = 0.5, 0.01
	shipped, err := os.ReadFile(filepath.Join(testbin.RepoRoot(t), "collector", "sampling-policies.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	rules := string(shipped)
	start, end := strings.Index(rules, "\ntriggers:"), strings.Index(rules, "\nrules:")
	if start < 0 || end < start {
		t.Fatalf("collector/sampling-policies.yaml: no triggers: section before rules:")
	}
	rules = rules[:start] + rules[end:]
	reloads := h.metric(t, "otelcol_processor_chainsampling_policy_reloads", nil)
	h.edit(t, rules+headTx("0.5"))
	testproc.WaitFor(t, policyWithin, "the shipped rules in force", func() error {
		if h.metric(t, "otelcol_processor_chainsampling_policy_reloads", nil) <= reloads {
			return errors.New("not reloaded yet")
		}
		return nil
	})
	h.waitPolls(t)
	decided := func() float64 {
		return h.metric(t, "otelcol_processor_chainsampling_traces_decided", map[string]string{"rule": "transfers"})
	}
	before := decided()
	hashes := h.window(t)
	rep := h.sentinel(t)
	if v, _ := rep.Attr(semconv.SamplingRuleKey); v != "errors" {
		t.Errorf("the error trace was kept by %s=%q, want the shipped errors rule", semconv.SamplingRuleKey, v)
	}

	// A transfer trace that arrived was decided by the transfers rule, or
	// kept by the slow rule (2 s is not much for -race nodes on a loaded
	// machine); the slow ones are at the sink.
	lo, hi := binomialBounds(len(hashes), headKeep, flakeOdds)
	var arrived, slow, keptTransfers int
	testproc.WaitFor(t, traceWithin, "the transfer traces the head kept, decided by the tail", func() error {
		slow, keptTransfers = 0, 0
		for _, s := range h.roots(hashes) {
			switch v, _ := s.Attr(semconv.SamplingRuleKey); v {
			case "slow":
				slow++
			case "transfers":
				keptTransfers++
			}
		}
		arrived = int(decided()-before) + slow
		if arrived < lo {
			return fmt.Errorf("%d transfer traces decided, want at least %d", arrived, lo)
		}
		return nil
	})
	if arrived > hi {
		t.Errorf("%d of %d transfer traces reached the tail sampler at head keep %v, want at most %d", arrived, len(hashes), headKeep, hi)
	}
	_, keptHi := binomialBounds(arrived, tailKeep, flakeOdds)
	if keptTransfers > keptHi {
		t.Errorf("the transfers rule (keep %v) kept %d of %d transfer traces, want at most %d", tailKeep, keptTransfers, arrived, keptHi)
	}
	t.Logf("head keep %v: %d of %d transfer traces reached the tail sampler (bounds %d..%d); the transfers rule kept %d (at most %d), the slow rule %d; the error trace kept by the errors rule",
		headKeep, arrived, len(hashes), lo, hi, keptTransfers, keptHi, slow)
}

// checkRate holds the transactions of a window that the follower's head
// sampler kept at keep to binomial bounds, and returns them by hash.
// Transactions decided by the previous strategy, at prev, are told apart by
// the sampler's own attribute and left out of the count.
func (h *headPair) checkRate(t *testing.T, hashes []string, keep, prev float64) map[string]otlpsink.Span {
	t.Helper()
	h.sentinel(t)
	var kept map[string]otlpsink.Span
	var n, k, lo, hi int
	h.sink.WaitFor(t, traceWithin, "the kept transactions' POST /tx spans", func() error {
		kept = h.roots(hashes)
		n, k = len(hashes), 0
		for hash, s := range kept {
			switch p := samplerParam(s); p {
			case keep:
				k++
			case prev:
				n-- // decided before the node polled the new strategy
			default:
				return testproc.GiveUp(fmt.Errorf("tx %s was sampled with %s=%v, want %v", hash, samplerParamKey, p, keep))
			}
		}
		lo, hi = binomialBounds(n, keep, flakeOdds)
		if k < lo {
			return fmt.Errorf("%d of %d transactions traced, want at least %d", k, n, lo)
		}
		return nil
	})
	if old := len(hashes) - n; old > len(hashes)/10 {
		t.Errorf("%d of %d transactions were still decided at %v after %d polls", old, len(hashes), prev, pollsPerChange)
	}
	if k > hi {
		t.Errorf("%d of %d transactions traced at head keep %v, want at most %d", k, n, keep, hi)
	}
	t.Logf("head keep %v: %d of %d transactions traced (bounds %d..%d at odds %g), %d decided before the new strategy; %.1f spans accepted by the collector's receiver per transaction (block spans included)",
		keep, k, n, lo, hi, flakeOdds, len(hashes)-n, h.acceptedPerTx(t, len(hashes)))
	return kept
}

// checkWhole checks that the head keeps or drops a transaction's trace on
// every node alike: each kept one has the leader's spans too, and the leader
// recorded nothing of a dropped one (its sampler follows the follower's
// decision). One kept transaction's block is applied on every node in spans
// that link to its trace.
func (h *headPair) checkWhole(t *testing.T, hashes []string, kept map[string]otlpsink.Span) {
	t.Helper()
	var one otlpsink.Span
	h.sink.WaitFor(t, traceWithin, "the leader's spans in every kept transaction's trace", func() error {
		for hash, s := range kept {
			spans := h.sink.Trace(s.TraceID())
			if find(spans, h.leader.ID, semconv.SpanMempoolAdd) == nil {
				return fmt.Errorf("tx %s: no mempool.add of the leader %s yet:%s", hash, h.leader.ID, describe(spans))
			}
			one = s
		}
		return nil
	})
	dropped := map[string]bool{}
	for _, hash := range hashes {
		if _, ok := kept[hash]; !ok {
			dropped[hash] = true
		}
	}
	if orphans := h.sink.SpansMatching(func(s otlpsink.Span) bool {
		v, _ := s.Attr(semconv.TxHashKey)
		return dropped[v]
	}); len(orphans) > 0 {
		t.Errorf("%d spans of transactions the follower did not sample:%s", len(orphans), describe(orphans))
	}
	if len(kept) == 0 {
		return
	}
	tid := one.TraceID()
	h.sink.WaitFor(t, traceWithin, "block.apply on every node, linked to a kept transaction", func() error {
		linked := h.sink.SpansMatching(func(s otlpsink.Span) bool { return linksTo(s, tid) })
		var missing []string
		for _, n := range h.cluster.Nodes() {
			if find(linked, n.ID, semconv.SpanBlockApply) == nil {
				missing = append(missing, n.ID)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("no block.apply on %v", missing)
		}
		return nil
	})
}

// edit saves the policy file and remembers how many strategy requests the
// extension had answered.
func (h *headPair) edit(t *testing.T, text string) {
	t.Helper()
	h.polls = h.metric(t, "otelcol_extension_chainheadsampling_requests", nil)
	writeAtomically(t, h.policy, text)
}

// waitPolls waits until the extension has answered pollsPerChange strategy
// requests since the last edit: with the three nodes polling every headPoll,
// each has fetched the file as saved.
func (h *headPair) waitPolls(t *testing.T) {
	t.Helper()
	testproc.WaitFor(t, policyWithin, "the nodes polling the edited strategies", func() error {
		if got := h.metric(t, "otelcol_extension_chainheadsampling_requests", nil) - h.polls; got < pollsPerChange {
			return fmt.Errorf("%v strategy requests since the edit", got)
		}
		return nil
	})
}

// sentinel raises a storage error on the follower after a window and waits
// for its trace: decided after the window's traces, it says they are
// decided too. It returns the error span.
func (h *headPair) sentinel(t *testing.T) otlpsink.Span {
	t.Helper()
	tid := mustTraceID(t, fault(t, h.follower, semconv.ErrorStorage).TraceID)
	return h.sink.WaitSpans(t, traceWithin, "the storage error after the window", 1, func(s otlpsink.Span) bool {
		return s.TraceID() == tid && s.Status().Code() == ptrace.StatusCodeError
	})[0]
}

// roots returns the follower's POST /tx spans at the sink of the
// transactions named, by hash.
func (h *headPair) roots(hashes []string) map[string]otlpsink.Span {
	want := make(map[string]bool, len(hashes))
	for _, hash := range hashes {
		want[hash] = true
	}
	got := map[string]otlpsink.Span{}
	for _, s := range h.sink.SpansMatching(func(s otlpsink.Span) bool {
		return s.Name() == "POST /tx" && instance(s) == h.follower.ID
	}) {
		if v, _ := s.Attr(semconv.TxHashKey); want[v] {
			got[v] = s
		}
	}
	return got
}

// metric reads one of the collector's own metrics; one not exposed yet is 0.
func (h *headPair) metric(t *testing.T, name string, labels map[string]string) float64 {
	t.Helper()
	v, err := h.col.Metric(t.Context(), name, labels)
	if errors.Is(err, collectorproc.ErrNoMetric) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// servedTxRate asks the extension, as the nodes do, at what probability the
// node's POST /tx is sampled.
func (h *headPair) servedTxRate(t *testing.T) float64 {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, h.col.HeadSamplingURL+"?service="+semconv.ServiceName, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := httpClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	raw, _ := io.ReadAll(resp.Body)
	var s struct {
		OperationSampling *struct {
			PerOperationStrategies []struct {
				Operation             string `json:"operation"`
				ProbabilisticSampling struct {
					SamplingRate float64 `json:"samplingRate"`
				} `json:"probabilisticSampling"`
			} `json:"perOperationStrategies"`
		} `json:"operationSampling"`
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", req.URL, resp.StatusCode, raw)
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatalf("GET %s: %v in %s", req.URL, err, raw)
	}
	if s.OperationSampling != nil {
		for _, op := range s.OperationSampling.PerOperationStrategies {
			if op.Operation == "POST /tx" {
				return op.ProbabilisticSampling.SamplingRate
			}
		}
	}
	t.Fatalf("GET %s: no strategy for POST /tx in %s", req.URL, raw)
	return 0
}

// window sends a window of transactions to the follower and remembers the
// spans the collector's receiver had accepted before.
func (h *headPair) window(t *testing.T) []string {
	t.Helper()
	h.accepted = h.metric(t, "otelcol_receiver_accepted_spans", nil)
	return sendWindow(t, h.follower)
}

// acceptedPerTx is the spans the collector's receiver accepted since the
// last window started, per transaction of the window.
func (h *headPair) acceptedPerTx(t *testing.T, txs int) float64 {
	t.Helper()
	return (h.metric(t, "otelcol_receiver_accepted_spans", nil) - h.accepted) / float64(txs)
}

// sendWindow posts windowTxs transfers to n without a traceparent, so that
// n's head sampler starts each trace, and returns their hashes.
func sendWindow(t *testing.T, n *cluster.Node) []string {
	t.Helper()
	hashes := make([]string, windowTxs)
	errs := make([]error, windowTxs)
	next := make(chan int)
	var wg sync.WaitGroup
	for range windowWorkers {
		wg.Go(func() {
			for i := range next {
				hashes[i], errs[i] = postUntraced(t.Context(), n)
			}
		})
	}
	for i := range windowTxs {
		next <- i
	}
	close(next)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	return hashes
}

// postUntraced posts a transfer to n, as a client without tracing does, and
// returns its hash once it commits.
func postUntraced(ctx context.Context, n *cluster.Node) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.API+"/tx",
		strings.NewReader(`{"from":"0xabc","to":"0xdef","amount":1}`))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := httpClient().Do(req)
	if err != nil {
		return "", fmt.Errorf("POST /tx on %s: %w", n.ID, err)
	}
	defer func() { _ = resp.Body.Close() }()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("POST /tx on %s: %d %s", n.ID, resp.StatusCode, raw)
	}
	var r struct {
		TxHash string `json:"tx_hash"`
	}
	if err := json.Unmarshal(raw, &r); err != nil || r.TxHash == "" {
		return "", fmt.Errorf("POST /tx on %s: no tx_hash in %s (%v)", n.ID, raw, err)
	}
	return r.TxHash, nil
}

// samplerParam is the probability the head sampler kept s's trace with, or
// -1 when s does not say.
func samplerParam(s otlpsink.Span) float64 {
	v, ok := s.Attr(samplerParamKey)
	if !ok {
		return -1
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return -1
	}
	return f
}

// binomialBounds returns lo and hi such that X ~ Binomial(n, p) is below lo
// with probability at most odds/2, and above hi with at most odds/2.
func binomialBounds(n int, p, odds float64) (lo, hi int) {
	pmf := func(k int) float64 {
		if p == 0 || p == 1 {
			if (p == 0 && k == 0) || (p == 1 && k == n) {
				return 1
			}
			return 0
		}
		a, _ := math.Lgamma(float64(n + 1))
		b, _ := math.Lgamma(float64(k + 1))
		c, _ := math.Lgamma(float64(n - k + 1))
		return math.Exp(a - b - c + float64(k)*math.Log(p) + float64(n-k)*math.Log1p(-p))
	}
	for tail := 0.0; lo < n && tail+pmf(lo) <= odds/2; lo++ {
		tail += pmf(lo)
	}
	hi = n
	for tail := 0.0; hi > 0 && tail+pmf(hi) <= odds/2; hi-- {
		tail += pmf(hi)
	}
	return lo, hi
}
