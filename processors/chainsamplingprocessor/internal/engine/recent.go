package engine

import (
	"github.com/chainotel/chainotel/processors/chainsamplingprocessor/internal/match"
)

// Recent is one decided trace as the preview replays it: the summary the
// rules saw, in the layout of the policy then in force.
type Recent struct {
	Sum     match.Summary
	Keys    *match.Keys // layout of Sum
	Spans   int
	At      int64  // decision time, Unix nanoseconds
	Head    int64  // the chain head the rules saw
	Trigger string // the trigger whose window kept it; "" when a rule decided
}

// recentRing holds the last len(buf) decided traces. Guarded by the
// engine's lock.
type recentRing struct {
	buf  []Recent
	next int
	full bool
}

func newRecentRing(n int) *recentRing {
	if n <= 0 {
		return nil
	}
	return &recentRing{buf: make([]Recent, n)}
}

func (r *recentRing) add(x Recent) {
	if r == nil {
		return
	}
	r.buf[r.next] = x
	r.next++
	if r.next == len(r.buf) {
		r.next, r.full = 0, true
	}
}

// snapshot copies the ring, oldest first.
func (r *recentRing) snapshot() []Recent {
	if r == nil {
		return nil
	}
	if !r.full {
		return append([]Recent(nil), r.buf[:r.next]...)
	}
	out := make([]Recent, 0, len(r.buf))
	out = append(out, r.buf[r.next:]...)
	return append(out, r.buf[:r.next]...)
}

// remember puts a trace being decided in the ring. Called with the lock
// held, before the trace's summary is released.
func (e *Engine) remember(t *trace, nowNs int64, trigger string) {
	e.recent.add(Recent{Sum: t.sum, Keys: &e.pol.Keys, Spans: t.spans, At: nowNs, Head: e.head, Trigger: trigger})
}

// Recent returns the recently decided traces, oldest first: at most
// Config.PreviewTraces of them.
func (e *Engine) Recent() []Recent {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.recent.snapshot()
}
