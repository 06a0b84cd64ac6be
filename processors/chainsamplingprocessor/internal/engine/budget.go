package engine

import "time"

// minScale keeps the scaled probability of shed rules above zero, so a rule
// under load still keeps the odd trace.
const minScale = 1e-4

// budget scales down the keep probability of rules not marked always when
// kept spans would exceed maxPerSecond, and back up when load falls. Each
// window it compares what the shed rules would keep at full probability with
// what is left of the budget after the always rules.
type budget struct {
	maxPerSecond float64
	scale        float64
	windowStart  time.Time
	alwaysSpans  float64 // spans kept by always rules in this window
	wantedSpans  float64 // spans other rules would keep at scale 1
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

// record notes one decided trace of spans spans.
func (b *budget) record(always, kept bool, spans int, keep float64) {
	if !b.enabled() {
		return
	}
	if always {
		if kept {
			b.alwaysSpans += float64(spans)
		}
		return
	}
	b.wantedSpans += float64(spans) * keep
}

// roll closes the window once a second has passed and sets the next scale.
// It reports whether the scale was recomputed.
func (b *budget) roll(now time.Time) bool {
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
	left := b.maxPerSecond*elapsed - b.alwaysSpans
	switch {
	case b.wantedSpans <= 0 || left >= b.wantedSpans:
		b.scale = 1
	case left <= 0:
		b.scale = minScale
	default:
		b.scale = max(minScale, left/b.wantedSpans)
	}
	b.windowStart, b.alwaysSpans, b.wantedSpans = now, 0, 0
	return true
}
