//go:build integration

package e2e

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/chainotel/chainotel/internal/cluster"
	"github.com/chainotel/chainotel/internal/collectorproc"
	"github.com/chainotel/chainotel/internal/otlpsink"
	"github.com/chainotel/chainotel/internal/testproc"
	"github.com/chainotel/chainotel/semconv"
)

// The chain-aware test's settings.
const (
	// decisionWait is testdata/commit.yaml's decision_wait; its
	// decision_wait_after_root is off, so a trace is decided by its commit
	// or by this timer.
	decisionWait = 20 * time.Second
	// triggerName and triggerWindow are those of windowPolicy's trigger.
	triggerName   = "timeouts"
	triggerWindow = 10 * time.Second

	windowsOpenMetric  = "otelcol_processor_chainsampling_trigger_windows_open"
	triggerKeptMetric  = "otelcol_processor_chainsampling_trigger_traces_kept"
	transferBody       = `{"from":"0xabc","to":"0xdef","amount":%d}`
	stakeBody          = `{"from":"0xabc","to":"0xabc","amount":1,"type":"stake"}`
	unaffordableAmount = 1 << 62 // more than any dev account holds
)

// windowPolicy keeps nothing by rule but stakes (the sentinels of
// checkTriggerWindow), and every trace of the chain while a window of the
// consensus timeout trigger is open.
var windowPolicy = fmt.Sprintf(`triggers:
  - name: %s
    on: {error_type: %s}
    window: %s
    scope: chain
rules:
  - name: sentinel
    match: {tx_type: %s}
    keep: 1
  - name: default
    keep: 0
`, triggerName, semconv.ErrorConsensusTimeout, triggerWindow, semconv.TxTypeStake)

// TestChainAwareDecisions runs the pair with commit decisions and a long
// timer, and checks the two ways chainsampling decides with the chain: at a
// transaction's commit, and in a trigger window opened by a consensus
// timeout injected with --debug-faults.
func TestChainAwareDecisions(t *testing.T) {
	p := startPairWith(t, []string{"commit.yaml"})
	step := func(name string, f func(t *testing.T)) {
		if !t.Run(name, f) {
			t.FailNow()
		}
	}
	step("a committed transaction is decided at its commit, a rejected one by the timer", func(t *testing.T) { checkCommitDecision(t, p) })
	step("a consensus timeout opens a window that keeps the chain's traces", func(t *testing.T) { checkTriggerWindow(t, p) })
}

// checkCommitDecision posts a transaction the leader rejects and one that
// commits, each in a trace of its own. The timer decides a trace
// decisionWait after its first span arrived, so no sooner than decisionWait
// after it was sent: the committed trace must reach the sink before that,
// the rejected one must not.
func checkCommitDecision(t *testing.T, p *pair) {
	rejected := newTraceID()
	rejectedSent := time.Now()
	if code, raw := sendTx(t, p.follower, rejected, fmt.Sprintf(transferBody, unaffordableAmount)); code != http.StatusUnprocessableEntity {
		t.Fatalf("an unaffordable transfer: %d %s, want %d", code, raw, http.StatusUnprocessableEntity)
	}
	committed := newTraceID()
	committedSent := time.Now()
	if code, raw := sendTx(t, p.follower, committed, fmt.Sprintf(transferBody, 3)); code != http.StatusOK {
		t.Fatalf("a transfer: %d %s", code, raw)
	}
	receipt := time.Now()

	timer := committedSent.Add(decisionWait)
	at := arrival(t, p.sink, time.Until(timer), "the committed transaction's trace before decision_wait", committed)
	if at.After(timer) {
		t.Errorf("the committed transaction's trace reached the sink %v after it was sent: the timer decided it, not the commit",
			at.Sub(committedSent).Round(time.Millisecond))
	}
	t.Logf("committed transaction: receipt to sink %v (decision_wait %v)", at.Sub(receipt).Round(time.Millisecond), decisionWait)

	at = arrival(t, p.sink, time.Until(rejectedSent.Add(decisionWait))+traceWithin, "the rejected transaction's trace", rejected)
	if waited := at.Sub(rejectedSent); waited < decisionWait {
		t.Errorf("the rejected transaction's trace reached the sink %v after it was sent, before decision_wait %v: something but the timer decided it",
			waited.Round(time.Millisecond), decisionWait)
	} else {
		t.Logf("rejected transaction: sent to sink %v (decision_wait %v)", waited.Round(time.Millisecond), decisionWait)
	}
}

// checkTriggerWindow installs windowPolicy, then:
//   - posts a transfer and, after it, a stake on the same node. The stake's
//     trace starts and commits after the transfer's, so it is decided no
//     sooner: once the sentinel rule's stake is at the sink, the transfer
//     was decided (and dropped) before any window opened.
//   - injects a consensus timeout, waits for its window, posts transfers
//     during it and finds them kept by the trigger, then sees the window
//     close no sooner than triggerWindow after the fault.
func checkTriggerWindow(t *testing.T, p *pair) {
	writeAtomically(t, p.policy, windowPolicy)
	p.sink.WaitFor(t, policyWithin, "the window policy in force", func() error {
		rep, err := livePreview(p)
		if err != nil {
			return err
		}
		if len(rep.Rules) == 0 || rep.Rules[0].Name != "sentinel" || len(rep.Triggers) != 1 {
			return fmt.Errorf("live rules %+v, triggers %+v", rep.Rules, rep.Triggers)
		}
		return nil
	})

	before := newTraceID()
	postTx(t, p.follower, before, 21)
	sentinel := newTraceID()
	if code, raw := sendTx(t, p.follower, sentinel, stakeBody); code != http.StatusOK {
		t.Fatalf("a stake: %d %s", code, raw)
	}
	arrival(t, p.sink, traceWithin, "the sentinel stake's trace", sentinel)
	if spans := p.sink.Trace(before); len(spans) > 0 {
		t.Fatalf("the transfer decided before the window was kept:%s", describe(spans))
	}
	if open := collectorMetric(t, p.col, windowsOpenMetric, triggerName); open != 0 {
		t.Fatalf("%v %s windows open before the fault", open, triggerName)
	}
	keptBefore := collectorMetric(t, p.col, triggerKeptMetric, triggerName)

	faulted := time.Now()
	rep := fault(t, p.follower, semconv.ErrorConsensusTimeout)
	testproc.WaitFor(t, traceWithin, "the "+triggerName+" window open", func() error {
		if open := collectorMetric(t, p.col, windowsOpenMetric, triggerName); open != 1 {
			return fmt.Errorf("%s = %v", windowsOpenMetric, open)
		}
		return nil
	})
	opened := time.Now()
	during := map[*cluster.Node]pcommon.TraceID{p.follower: newTraceID(), p.leader: newTraceID()}
	for n, tid := range during {
		postTx(t, n, tid, 22)
	}
	rule := "trigger:" + triggerName
	for n, tid := range during {
		p.sink.WaitFor(t, traceWithin, "the transfer posted to "+n.ID+" in the window, kept by "+rule, func() error {
			if spans := p.sink.Trace(tid); find(spans, n.ID, "POST /tx") == nil {
				return fmt.Errorf("no POST /tx span of %s yet:%s", n.ID, describe(spans))
			}
			return nil
		})
		for _, s := range p.sink.Trace(tid) {
			if got, _ := s.Attr(semconv.SamplingRuleKey); got != rule {
				t.Errorf("%s on %s: sampling.rule %q, want %q", s.Name(), instance(s), got, rule)
			}
		}
	}

	testproc.WaitFor(t, triggerWindow+traceWithin, "the "+triggerName+" window closed", func() error {
		if open := collectorMetric(t, p.col, windowsOpenMetric, triggerName); open != 0 {
			return fmt.Errorf("%s = %v", windowsOpenMetric, open)
		}
		return nil
	})
	lasted := time.Since(faulted)
	if lasted < triggerWindow {
		t.Errorf("the window closed %v after the fault, before its %v", lasted.Round(time.Millisecond), triggerWindow)
	}
	kept := collectorMetric(t, p.col, triggerKeptMetric, triggerName) - keptBefore
	if kept < float64(len(during)) {
		t.Errorf("%s moved by %v, want at least the %d transfers of the window", triggerKeptMetric, kept, len(during))
	}
	t.Logf("window %s: open %v after the fault, closed %v after it (window %v); %v traces kept by it",
		triggerName, opened.Sub(faulted).Round(time.Millisecond), lasted.Round(time.Millisecond), triggerWindow, kept)
	// The timeout's own trace never commits: the timer decides it, in the
	// window it opened.
	timeout := mustTraceID(t, rep.TraceID)
	got := p.sink.WaitSpans(t, decisionWait+traceWithin, "the consensus.timeout span", 1, func(s otlpsink.Span) bool {
		return s.TraceID() == timeout && s.Name() == semconv.SpanConsensusTimeout
	})[0]
	requireAttr(t, got, semconv.SamplingRuleKey, rule)
}

// sendTx posts body to node n's /tx inside a remote parent span of trace
// tid and returns the status and the answer.
func sendTx(t *testing.T, n *cluster.Node, tid pcommon.TraceID, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, n.API+"/tx", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("traceparent", fmt.Sprintf("00-%s-%s-01", tid, "00f067aa0ba902b7"))
	resp, err := httpClient().Do(req)
	if err != nil {
		t.Fatalf("POST /tx %s on %s: %v", body, n.ID, err)
	}
	defer func() { _ = resp.Body.Close() }()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

// arrival waits until a span of trace tid is at the sink and returns when it
// was seen there: the sink wakes the wait on every arrival, so this is the
// arrival time to within the scheduling of the test.
func arrival(t *testing.T, sink *otlpsink.Sink, within time.Duration, what string, tid pcommon.TraceID) time.Time {
	t.Helper()
	var at time.Time
	sink.WaitFor(t, within, what, func() error {
		if len(sink.Trace(tid)) == 0 {
			return errors.New("no span yet")
		}
		at = time.Now()
		return nil
	})
	return at
}

// collectorMetric reads the collector's metric name for trigger; one not
// exposed yet is 0.
func collectorMetric(t *testing.T, col *collectorproc.Collector, name, trigger string) float64 {
	t.Helper()
	v, err := col.Metric(t.Context(), name, map[string]string{"trigger": trigger})
	if errors.Is(err, collectorproc.ErrNoMetric) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return v
}
