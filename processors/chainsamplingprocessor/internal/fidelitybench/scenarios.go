package main

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/sampling"
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/chainotel/chainotel/internal/otlpsink"
	"github.com/chainotel/chainotel/processors/chainsamplingprocessor/internal/benchproc"
	"github.com/chainotel/chainotel/semconv"
)

// keepPercent is the estimates scenario's keep probability of every rule.
const keepPercent = 1

// estimatesPolicy keeps 1% with every rule; the classes of the traffic
// match one rule each.
var estimatesPolicy = fmt.Sprintf(`rules:
  - name: errors
    match: {error: true}
    keep: %[1]g
  - name: transfers
    match: {tx_type: transfer}
    keep: %[1]g
  - name: consensus
    match: {span_name: {regex: "^consensus\\."}}
    keep: %[1]g
  - name: default
    keep: %[1]g
`, keepPercent/100.0)

// The samplers decide a trace 200 ms after its root span arrived (a batch
// holds its traces whole; across sidecars, a trace's spans arrive within
// one batch's sending), or 2 s after its first span.
const decisionSettings = `    decision_wait: 2s
    decision_wait_after_root: 500ms
    max_traces: 2000000
    max_bytes: 4294967296
`

// maxTolerance is the estimates scenario's bound on each estimate's error.
const maxTolerance = 0.05

// count is traces and spans.
type count struct{ traces, spans float64 }

// adjustedCount reads a kept span's ot=th threshold: the number of spans
// like it in the traffic it stands for.
func adjustedCount(s otlpsink.Span) (float64, error) {
	ts, err := sampling.NewW3CTraceState(s.TraceState().AsRaw())
	if err != nil {
		return 0, fmt.Errorf("span %s of trace %s: tracestate %q: %w", s.Name(), s.TraceID(), s.TraceState().AsRaw(), err)
	}
	if _, ok := ts.OTelValue().TValueThreshold(); !ok {
		return 0, fmt.Errorf("span %s of trace %s: no ot=th in tracestate %q", s.Name(), s.TraceID(), s.TraceState().AsRaw())
	}
	return ts.OTelValue().AdjustedCount(), nil
}

func estimates(ctx context.Context, o options, dir string) (bool, error) {
	fmt.Printf("\n== estimates: %d traces, every rule keeping %d%%; counts estimated from adjusted counts must be within ±%.0f%% of the truth per rule\n",
		o.traces, keepPercent, 100*maxTolerance)
	sp, err := startSampled(ctx, o.bin, dir, "estimates", estimatesPolicy, decisionSettings)
	if err != nil {
		return false, err
	}
	defer sp.close()
	sink, col, cl := sp.sink, sp.col, sp.cl
	var truth [classes]count
	d := drive{total: o.traces, batchTraces: o.batch, workers: o.workers, seed: o.seed,
		shares: [classes]float64{0.25, 0.25, 0.25, 0.25}, targets: []*client{cl}, what: "estimates",
		record: func(batch map[pcommon.TraceID]traceInfo, _, _ time.Time) {
			for _, t := range batch {
				truth[t.class].traces++
				truth[t.class].spans += float64(t.spans)
			}
		}}
	sentTraces, _, _, err := d.run(ctx)
	if err != nil {
		return false, err
	}
	ms, err := settle(ctx, []*collector{col}, nil)
	if err != nil {
		return false, err
	}

	var est, kept [classes]count
	seen := map[pcommon.TraceID]bool{}
	wrongRule := 0
	for _, s := range sink.Spans() {
		ac, err := adjustedCount(s)
		if err != nil {
			return false, err
		}
		rule, _ := s.Attr(semconv.SamplingRuleKey)
		c := classOf(rule)
		if c < 0 {
			wrongRule++
			continue
		}
		est[c].spans += ac
		kept[c].spans++
		if !seen[s.TraceID()] {
			seen[s.TraceID()] = true
			est[c].traces += ac
			kept[c].traces++
		}
	}
	ok := true
	fmt.Printf("\n  %-10s %12s %12s %8s %12s %12s %8s %7s %8s  %s\n", "rule", "traces", "estimate", "error",
		"spans", "estimate", "error", "kept", "1σ", "±5%")
	for c := range classes {
		te := est[c].traces/truth[c].traces - 1
		se := est[c].spans/truth[c].spans - 1
		good := math.Abs(te) <= maxTolerance && math.Abs(se) <= maxTolerance
		ok = ok && good
		// The relative standard error of a count estimated from k kept
		// traces of equal weight is about 1/sqrt(k).
		fmt.Printf("  %-10s %12.0f %12.0f %+7.2f%% %12.0f %12.0f %+7.2f%% %7.0f %7.2f%%  %s\n", ruleOf[c],
			truth[c].traces, est[c].traces, 100*te, truth[c].spans, est[c].spans, 100*se,
			kept[c].traces, 100/math.Sqrt(max(1, kept[c].traces)), pass(good))
	}
	received := ms[0]["otelcol_processor_chainsampling_traces_received"]
	lost := refused(ms)
	fmt.Printf("  traces received by the sampler: %.0f of %d sent; spans refused or failed: %.0f; kept spans under another rule than their class's: %d\n",
		received, sentTraces, lost, wrongRule)
	if received != float64(sentTraces) || lost > 0 || wrongRule > 0 {
		ok = false
	}
	fmt.Printf("  estimates: %s\n", pass(ok))
	return ok, nil
}

func classOf(rule string) class {
	for c, r := range ruleOf {
		if r == rule {
			return class(c)
		}
	}
	return -1
}

// budgetPolicy keeps errors always and everything else with probability 1,
// which the budget scales down; a consensus timeout opens a chain-wide
// window.
const budgetWindow = 3 * time.Second

var budgetPolicy = fmt.Sprintf(`triggers:
  - name: faults
    on: {error_type: [consensus_timeout]}
    window: %s
    scope: chain
rules:
  - name: errors
    match: {error: true}
    keep: 1
    always: true
  - name: default
    keep: 1
`, budgetWindow)

func budget(ctx context.Context, o options, dir string) (bool, error) {
	spansPerTrace := 2.0 // 1-3 spans, evenly
	rate := 10 * float64(o.budget) / spansPerTrace
	total := int(rate * o.budgetDuration.Seconds())
	fmt.Printf("\n== budget: max_spans_per_second %d, ten times that offered (%.0f traces/s of ~2 spans for %v, 1%% errors); two %v trigger windows; every error trace and every trace sent in a window must be kept\n",
		o.budget, rate, o.budgetDuration, budgetWindow)
	settings := decisionSettings + fmt.Sprintf("    max_spans_per_second: %d\n", o.budget)
	sp, err := startSampled(ctx, o.bin, dir, "budget", budgetPolicy, settings)
	if err != nil {
		return false, err
	}
	defer sp.close()
	sink, col, cl := sp.sink, sp.col, sp.cl

	// The windows: opened by a fault span at a third and two thirds of the
	// load. A window is open from the fault span's acknowledgement (the
	// sampler has read it) for budgetWindow; the traces counted as sent in
	// it are those whose batch was sent after it opened and acknowledged a
	// second before it closes.
	type window struct{ from, to time.Time }
	var windows []window
	var faults []pcommon.TraceID
	faultGen := newGenerator(o.seed^0xfa17, [classes]float64{0, 0, 0, 1})
	between := func(ctx context.Context, sent int) error {
		if len(windows) >= 2 || sent < (len(windows)+1)*total/3 {
			return nil
		}
		td, id := faultGen.faultSpan()
		if err := cl.send(ctx, td); err != nil {
			return err
		}
		now := time.Now()
		windows = append(windows, window{from: now, to: now.Add(budgetWindow - time.Second)})
		faults = append(faults, id)
		return nil
	}
	errorsSent, inWindow := map[pcommon.TraceID]bool{}, map[pcommon.TraceID]bool{}
	var others count
	d := drive{total: total, batchTraces: max(1, o.batch/10), workers: o.workers, seed: o.seed + 1, rate: rate,
		shares: [classes]float64{0.01, 0.33, 0.33, 0.33}, targets: []*client{cl}, what: "budget", between: between,
		record: func(batch map[pcommon.TraceID]traceInfo, sentAt, ackedAt time.Time) {
			open := false
			for _, w := range windows {
				if !sentAt.Before(w.from) && ackedAt.Before(w.to) {
					open = true
				}
			}
			for id, t := range batch {
				switch {
				case t.class == classError:
					errorsSent[id] = true
				case open:
					inWindow[id] = true
				default:
					others.traces++
					others.spans += float64(t.spans)
				}
			}
		}}
	_, sentSpans, took, err := d.run(ctx)
	if err != nil {
		return false, err
	}
	ms, err := settle(ctx, []*collector{col}, nil)
	if err != nil {
		return false, err
	}
	kept := map[pcommon.TraceID]bool{}
	var othersKept count
	for _, s := range sink.Spans() {
		id := s.TraceID()
		if rule, _ := s.Attr(semconv.SamplingRuleKey); rule == "default" && !errorsSent[id] && !inWindow[id] && !contains(faults, id) {
			othersKept.spans++
			if !kept[id] {
				othersKept.traces++
			}
		}
		kept[id] = true
	}
	errorsKept, windowKept := 0, 0
	for id := range errorsSent {
		if kept[id] {
			errorsKept++
		}
	}
	for id := range inWindow {
		if kept[id] {
			windowKept++
		}
	}
	errorsOK := errorsKept == len(errorsSent) && len(errorsSent) > 0
	windowOK := windowKept == len(inWindow) && len(inWindow) > 0 && len(windows) == 2
	fmt.Printf("\n  %-34s %10s %10s %8s  %s\n", "traces", "sent", "kept", "kept %", "check")
	fmt.Printf("  %-34s %10d %10d %7.2f%%  %s (100%%)\n", "errors (always)", len(errorsSent), errorsKept,
		100*float64(errorsKept)/float64(max(1, len(errorsSent))), pass(errorsOK))
	fmt.Printf("  %-34s %10d %10d %7.2f%%  %s (100%%)\n", fmt.Sprintf("sent in %d trigger windows", len(windows)), len(inWindow), windowKept,
		100*float64(windowKept)/float64(max(1, len(inWindow))), pass(windowOK))
	fmt.Printf("  %-34s %10.0f %10.0f %7.2f%%  (kept by their rule, keep 1 scaled by the budget: about 10%% once it binds)\n",
		"the others", others.traces, othersKept.traces, 100*othersKept.traces/max(1, others.traces))
	offered := float64(sentSpans) / took.Seconds()
	fmt.Printf("  offered: %.0f spans/s, %.1f times the budget (the bench sends as fast as it can up to ten times; a loaded machine may fall short)\n",
		offered, offered/float64(o.budget))
	lost := refused(ms)
	fmt.Printf("  spans refused or failed: %.0f; traces kept by the trigger windows (the sampler's count): %.0f\n", lost,
		ms[0]["otelcol_processor_chainsampling_trigger_traces_kept"])
	ok := errorsOK && windowOK && lost == 0
	fmt.Printf("  budget: %s\n", pass(ok))
	return ok, nil
}

func contains(ids []pcommon.TraceID, id pcommon.TraceID) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// scaleOutPolicy keeps errors and 5% of the rest: enough kept traces to
// check each for wholeness.
const scaleOutPolicy = `rules:
  - name: errors
    match: {error: true}
    keep: 1
  - name: default
    keep: 0.05
`

func scaleOut(ctx context.Context, o options, dir string) (bool, error) {
	fmt.Printf("\n== scale-out: %d traces over %d nodes, each node's spans through its own sidecar (load_balancing by trace id) to two sampling collectors; every kept trace must reach one sampler's sink whole, with the spans of every node it crossed\n",
		o.scaleoutTraces, nodes)
	var sinks []*otlpsink.Sink
	var samplers, sidecars []*collector
	defer func() {
		for _, c := range append(samplers, sidecars...) {
			c.Kill()
		}
		for _, s := range sinks {
			s.Close()
		}
	}()
	var tier []string
	for i := range 2 {
		sink, err := benchproc.Sink()
		if err != nil {
			return false, err
		}
		sinks = append(sinks, sink)
		col, err := startSampler(ctx, o.bin, dir, fmt.Sprintf("sampler%d", i), scaleOutPolicy, decisionSettings, sink.Addr())
		if err != nil {
			return false, err
		}
		samplers = append(samplers, col)
		tier = append(tier, col.endpoint())
	}
	var targets []*client
	for i := range nodes {
		col, err := startSidecar(ctx, o.bin, dir, fmt.Sprintf("sidecar-node%d", i), tier)
		if err != nil {
			return false, err
		}
		sidecars = append(sidecars, col)
		cl, err := dial(col.endpoint())
		if err != nil {
			return false, err
		}
		defer cl.close()
		targets = append(targets, cl)
	}
	truth := map[pcommon.TraceID]traceInfo{}
	d := drive{total: o.scaleoutTraces, batchTraces: o.batch, workers: o.workers, seed: o.seed + 2,
		shares: [classes]float64{0.01, 0.33, 0.33, 0.33}, targets: targets, what: "scale-out",
		record: func(batch map[pcommon.TraceID]traceInfo, _, _ time.Time) {
			for id, t := range batch {
				truth[id] = t
			}
		}}
	if _, _, _, err := d.run(ctx); err != nil {
		return false, err
	}
	ms, err := settle(ctx, samplers, sidecars)
	if err != nil {
		return false, err
	}
	type got struct {
		spans int
		nodes uint8
		sinks uint8
	}
	kept := map[pcommon.TraceID]*got{}
	var perSink [2]int
	for i, sink := range sinks {
		for _, s := range sink.Spans() {
			g := kept[s.TraceID()]
			if g == nil {
				g = &got{}
				kept[s.TraceID()] = g
			}
			if g.sinks&(1<<i) == 0 {
				perSink[i]++
			}
			g.spans++
			g.sinks |= 1 << i
			node, _ := s.ResourceAttr(semconv.ServiceInstanceIDKey)
			var n int
			if _, err := fmt.Sscanf(node, "node%d", &n); err == nil && n < nodes {
				g.nodes |= 1 << n
			}
		}
	}
	whole, missingNode, missingSpan, twoSinks, unknown, multiNode, errorsKept, errorsSent := 0, 0, 0, 0, 0, 0, 0, 0
	for id, t := range truth {
		if t.class == classError {
			errorsSent++
		}
		g := kept[id]
		if g == nil {
			continue
		}
		if t.class == classError {
			errorsKept++
		}
		if t.nodes&(t.nodes-1) != 0 {
			multiNode++
		}
		switch {
		case g.sinks == 3:
			twoSinks++
		case g.nodes != t.nodes:
			missingNode++
		case g.spans != t.spans:
			missingSpan++
		default:
			whole++
		}
	}
	for id := range kept {
		if _, ok := truth[id]; !ok {
			unknown++
		}
	}
	lost := refused(ms)
	ok := len(kept) > 0 && whole == len(kept) && errorsKept == errorsSent && lost == 0 && perSink[0] > 0 && perSink[1] > 0
	fmt.Printf("\n  kept traces: %d (sampler 0: %d, sampler 1: %d; %d crossed more than one node; expected about %.0f)\n",
		len(kept), perSink[0], perSink[1], multiNode, float64(errorsSent)+0.05*float64(len(truth)-errorsSent))
	fmt.Printf("  %-44s %8d  %s\n", "whole: every span, from every node crossed", whole, pass(whole == len(kept)))
	fmt.Printf("  %-44s %8d\n", "missing a node's spans", missingNode)
	fmt.Printf("  %-44s %8d\n", "missing spans of a node they have", missingSpan)
	fmt.Printf("  %-44s %8d\n", "at both samplers' sinks", twoSinks)
	fmt.Printf("  %-44s %8d\n", "not sent by the bench", unknown)
	fmt.Printf("  %-44s %5d/%-4d %s\n", "error traces kept", errorsKept, errorsSent, pass(errorsKept == errorsSent))
	fmt.Printf("  spans refused or failed: %.0f\n", lost)
	fmt.Printf("  scale-out: %s\n", pass(ok))
	return ok, nil
}
