package engine

import (
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/sampling"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/chainotel/chainotel/processors/chainsamplingprocessor/internal/match"
	"github.com/chainotel/chainotel/processors/chainsamplingprocessor/internal/policy"
)

// Tick decides every trace whose wait is over at now and returns the spans
// of the kept ones, ready to send on.
func (e *Engine) Tick(now time.Time) (ptrace.Traces, error) {
	e.mu.Lock()
	var kept []keptTrace
	waitNs, rootNs := e.cfg.DecisionWait.Nanoseconds(), e.cfg.DecisionWaitAfterRoot.Nanoseconds()
	nowNs := now.UnixNano()
	for {
		it, ok := e.byFirst.front()
		if !ok || it.at+waitNs > nowNs {
			break
		}
		e.byFirst.pop()
		kept = e.decide(kept, it.t, now)
	}
	for rootNs > 0 {
		it, ok := e.byRoot.front()
		if !ok || it.at+rootNs > nowNs {
			break
		}
		e.byRoot.pop()
		kept = e.decide(kept, it.t, now)
	}
	for graceNs := e.cfg.CommitGrace.Nanoseconds(); graceNs > 0; {
		it, ok := e.byCommit.front()
		if !ok || it.at+graceNs > nowNs {
			break
		}
		e.byCommit.pop()
		kept = e.decide(kept, it.t, now)
	}
	if e.trig.enabled() || len(e.trig.windows) > 0 {
		for name, n := range e.trig.tick(nowNs, 2*e.cfg.DecisionWait) {
			e.tel.ProcessorChainsamplingTriggerWindowsOpen.Record(e.tel.ctx, n, e.trig.byName[name])
		}
	}
	if e.budget.roll(now, float64(e.bytes)/float64(e.cfg.MaxBytes)) {
		e.tel.ProcessorChainsamplingLoadScale.Record(e.tel.ctx, int64(e.budget.scale*1000))
	}
	e.notePressure()
	e.recordBuffered()
	e.mu.Unlock()
	return e.decodeKept(kept)
}

// Flush decides every buffered trace now, for shutdown.
func (e *Engine) Flush(now time.Time) (ptrace.Traces, error) {
	e.mu.Lock()
	var kept []keptTrace
	for {
		it, ok := e.byFirst.front()
		if !ok {
			break
		}
		e.byFirst.pop()
		kept = e.decide(kept, it.t, now)
		e.tel.ProcessorChainsamplingTracesDecidedEarly.Add(e.tel.ctx, 1, e.tel.early[reasonShutdown])
	}
	e.notePressure()
	e.recordBuffered()
	e.mu.Unlock()
	return e.decodeKept(kept)
}

func (e *Engine) recordBuffered() {
	e.tel.ProcessorChainsamplingBufferedTraces.Record(e.tel.ctx, int64(len(e.traces)))
	e.tel.ProcessorChainsamplingBufferedSpans.Record(e.tel.ctx, e.spans)
	e.tel.ProcessorChainsamplingBufferedBytes.Record(e.tel.ctx, e.bytes)
}

// decideOldest decides the trace that arrived first, to make room.
func (e *Engine) decideOldest(kept []keptTrace, now time.Time, reason string) []keptTrace {
	it, ok := e.byFirst.front()
	if !ok {
		return kept
	}
	e.byFirst.pop()
	e.tel.ProcessorChainsamplingTracesDecidedEarly.Add(e.tel.ctx, 1, e.tel.early[reason])
	return e.decide(kept, it.t, now)
}

// decide applies the policy to t, forgets it, and appends it to kept when it
// is kept. Called with the lock held.
func (e *Engine) decide(kept []keptTrace, t *trace, now time.Time) []keptTrace {
	if t.decided {
		return kept
	}
	t.decided = true
	delete(e.traces, t.id)
	e.spans -= int64(t.spans)
	for _, c := range t.chunks {
		c.refs--
		if c.refs == 0 {
			e.bytes -= int64(len(c.data))
		}
	}

	if w := e.trig.keptBy(t, now.UnixNano()); w != nil {
		return e.keepForTrigger(kept, t, w, now)
	}
	idx := e.pol.First(&t.sum, match.Env{Head: e.head})
	r := &e.rules[idx]
	th := r.threshold
	if f := e.budget.factor(r.Always); f < 1 {
		th = policy.Threshold(r.Keep * f)
	}
	// The trace's randomness: an rv from tracestate, else the low 56 bits
	// of its id, as OpenTelemetry's consistent probability sampling says.
	rnd := t.rnd
	if !t.hasRV {
		rnd = sampling.TraceIDToRandomness(t.id)
	}
	isKept := th.ShouldSample(rnd)
	if isKept && r.limiter != nil && !r.limiter.AllowN(now, 1) {
		isKept = false
	}
	e.budget.record(r.Always, isKept, t.spans, r.Keep)
	e.cache.Add(t.id, decision{rule: r.Name, th: th, kept: isKept})

	attrs := r.droppedSet
	if isKept {
		attrs = r.keptSet
		kept = append(kept, keptTrace{id: t.id, chunks: t.chunks, rule: r.Name, th: th})
	}
	e.tel.ProcessorChainsamplingTracesDecided.Add(e.tel.ctx, 1, attrs.opt)
	e.tel.ProcessorChainsamplingSpansDecided.Add(e.tel.ctx, int64(t.spans), attrs.opt)
	e.tel.ProcessorChainsamplingDecisionLatency.Record(e.tel.ctx, (now.UnixNano()-t.first)/int64(time.Millisecond))
	e.remember(t, now.UnixNano(), "")
	e.release(t)
	return kept
}

// keepForTrigger keeps t with probability 1 because window w covers it.
// It counts as an always rule against the span budget.
func (e *Engine) keepForTrigger(kept []keptTrace, t *trace, w *window, now time.Time) []keptTrace {
	name := w.decided.rule
	th := sampling.AlwaysSampleThreshold
	e.budget.record(true, true, t.spans, 1)
	e.cache.Add(t.id, decision{rule: name, th: th, kept: true})
	kept = append(kept, keptTrace{id: t.id, chunks: t.chunks, rule: name, th: th})
	attrs := w.decided
	e.tel.ProcessorChainsamplingTracesDecided.Add(e.tel.ctx, 1, attrs.opt)
	e.tel.ProcessorChainsamplingSpansDecided.Add(e.tel.ctx, int64(t.spans), attrs.opt)
	e.tel.ProcessorChainsamplingTriggerTracesKept.Add(e.tel.ctx, 1, w.keptOpt)
	e.tel.ProcessorChainsamplingDecisionLatency.Record(e.tel.ctx, (now.UnixNano()-t.first)/int64(time.Millisecond))
	e.remember(t, now.UnixNano(), w.trigger)
	e.release(t)
	return kept
}

// release lets go of a decided trace's spans and summary: it may linger in
// the other wait queue until its turn comes, and needs only the little it
// takes to be skipped.
func (e *Engine) release(t *trace) {
	t.chunks, t.sum, t.nodes = nil, match.Summary{}, nil
}
