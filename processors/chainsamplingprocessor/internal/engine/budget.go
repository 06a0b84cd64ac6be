package engine

import "time"

// minScale keeps the scaled probability of shed rules above zero, so a rule
// under load still keeps the odd trace.
const minScale = 1e-4

// memoryKnee is the share of MaxBytes in use above which the budget also
// sheds for memory: from 1 at the knee down to minScale when full.
const memoryKnee = 0.5

// budget scales down the keep probability of rules not marked always when
// kept spans would exceed maxPerSecond, and back up when load falls. Each
// window it compares what the shed rules would keep at full probability with
// what is left of the budget after the always rules. What they would keep is
// the larger of two measures: the spans they wanted among the traces decided
// in the window, and the spans coming in during the window times the share
// of decided spans they wanted. The first lags the load by the decision wait;
// the second follows a surge as it arrives. Under memory pressure (more than
// memoryKnee of MaxBytes held) the scale falls further, so that fewer kept
// traces are decoded and sent on while the buffer is near its bound.
type budget struct {
	maxPerSecond float64
	scale        float64
	windowStart  time.Time
	alwaysSpans  float64 // spans kept by always rules in this window
	wantedSpans  float64 // spans other rules would keep at scale 1
	decidedSpans float64 // spans of every trace decided in this window
	incoming     float64 // spans ingested in this window
	// wantedShare and alwaysShare are the shares of decided spans that the
	// shed rules wanted and the always rules kept, in the last window that
	// decided anything: a surge may come in before any of it is decided.
	wantedShare, alwaysShare float64
}

func newBudget(maxPerSecond int) *budget {
	return &budget{maxPerSecond: float64(maxPerSecond), scale: 1}
}

func (b *budget) enabled() bool { return b.maxPerSecond > 0 }

// factor is what non-always rules multiply their probability by.
func (b *budget) factor(always bool) float64 {
	if always || !b.enabled() {
		return 1
	}
	return b.scale
}

// ingested notes spans coming in.
func (b *budget) ingested(spans int) {
	b.incoming += float64(spans)
}

// record notes one decided trace of spans spans.
func (b *budget) record(always, kept bool, spans int, keep float64) {
	if !b.enabled() {
		return
	}
	b.decidedSpans += float64(spans)
	if always {
		if kept {
			b.alwaysSpans += float64(spans)
		}
		return
	}
	b.wantedSpans += float64(spans) * keep
}

// roll closes the window once a second has passed and sets the next scale
// from the window's load and memory, the share of MaxBytes held now.
// It reports whether the scale was recomputed.
func (b *budget) roll(now time.Time, memory float64) bool {
	if !b.enabled() {
		return false
	}
	if b.windowStart.IsZero() {
		b.windowStart = now
		return false
	}
	elapsed := now.Sub(b.windowStart).Seconds()
	if elapsed < 1 {
		return false
	}
	if b.decidedSpans > 0 {
		b.wantedShare, b.alwaysShare = b.wantedSpans/b.decidedSpans, b.alwaysSpans/b.decidedSpans
	}
	wanted := max(b.wantedSpans, b.incoming*b.wantedShare)
	always := max(b.alwaysSpans, b.incoming*b.alwaysShare)
	left := b.maxPerSecond*elapsed - always
	switch {
	case wanted <= 0 || left >= wanted:
		b.scale = 1
	case left <= 0:
		b.scale = minScale
	default:
		b.scale = max(minScale, left/wanted)
	}
	if memory > memoryKnee {
		b.scale = max(minScale, min(b.scale, (1-memory)/(1-memoryKnee)))
	}
	b.windowStart, b.alwaysSpans, b.wantedSpans, b.decidedSpans, b.incoming = now, 0, 0, 0, 0
	return true
}
