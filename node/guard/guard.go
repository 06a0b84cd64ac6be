// Package guard is the seam through which the node starts its long-lived
// goroutines, so that the process can run each of them under its panic guard
// (main passes telemetry's Go: a panic becomes an error span and log with the
// stack, telemetry is flushed, the process exits non-zero).
package guard

import (
	"context"
	"sync"
)

// Go starts fn in a new goroutine named name (thread.name on a panic span).
// A nil Go starts plain goroutines, which is what tests and libraries that
// are given no guard get.
type Go func(ctx context.Context, name string, fn func(ctx context.Context))

// Start runs fn in a new goroutine through g, counted on wg when wg is not
// nil (wg.Done runs when fn returns, or unwinds from a panic).
func (g Go) Start(ctx context.Context, wg *sync.WaitGroup, name string, fn func(ctx context.Context)) {
	run := fn
	if wg != nil {
		wg.Add(1)
		run = func(ctx context.Context) {
			defer wg.Done()
			fn(ctx)
		}
	}
	if g == nil {
		go run(ctx)
		return
	}
	g(ctx, name, run)
}
