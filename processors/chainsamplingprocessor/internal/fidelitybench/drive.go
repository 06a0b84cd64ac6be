package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/chainotel/chainotel/processors/chainsamplingprocessor/internal/benchproc"
)

// drive is one scenario's load: total traces in batches of batchTraces from
// workers goroutines, at rate traces per second over all workers (0: as
// fast as the collectors take them). The traffic depends on seed alone.
type drive struct {
	total, batchTraces, workers int
	rate                        float64
	shares                      [classes]float64
	seed                        uint64
	// targets are where the spans go: one collector takes whole batches;
	// nodes collectors take one node's spans each (the scale-out sidecars).
	targets []*client
	// record is told each batch's truth, when its sending began and when
	// every target had acknowledged it; calls are serialised.
	record func(truth map[pcommon.TraceID]traceInfo, sentAt, ackedAt time.Time)
	// between, when set, is called by worker 0 before each of its batches,
	// serialised with record (the trigger scenario sends its fault events
	// from it).
	between func(ctx context.Context, sent int) error
	what    string // for the progress lines
}

// run sends the load, printing progress every 5 s, and returns the traces
// and spans sent and how long that took.
func (d drive) run(ctx context.Context) (traces, spans int64, took time.Duration, err error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var claimed, sentTraces, sentSpans atomic.Int64
	var mu sync.Mutex
	start := time.Now()
	stopProgress := benchproc.Every(ctx, 5*time.Second, func(time.Time) bool {
		n := sentTraces.Load()
		el := time.Since(start)
		fmt.Printf("  %s: %d of %d traces sent (%.0f%%), %.0f traces/s, %v\n", d.what, n, d.total,
			100*float64(n)/float64(d.total), float64(n)/el.Seconds(), el.Round(time.Second))
		return true
	})
	var wg sync.WaitGroup
	for w := range d.workers {
		wg.Go(func() {
			var interval time.Duration
			if d.rate > 0 {
				interval = time.Duration(float64(time.Second) * float64(d.batchTraces) * float64(d.workers) / d.rate)
			}
			next := time.Now()
			for ctx.Err() == nil {
				k := claimed.Add(1) - 1 // the batch's index
				n := min(int64(d.batchTraces), int64(d.total)-k*int64(d.batchTraces))
				if n <= 0 {
					return
				}
				if w == 0 && d.between != nil {
					mu.Lock()
					err := d.between(ctx, int(sentTraces.Load()))
					mu.Unlock()
					if err != nil {
						cancel(err)
						return
					}
				}
				if interval > 0 {
					if wait := time.Until(next); wait > 0 {
						time.Sleep(wait)
					}
					next = next.Add(interval)
				}
				// A generator per batch, seeded by its index: the traffic is
				// the same whichever worker sends which batch, and so are
				// the decisions (the trace ids are their randomness).
				byNode, truth := newGenerator(d.seed<<32+uint64(k), d.shares).batch(int(n))
				s := 0
				for _, td := range byNode {
					s += td.SpanCount()
				}
				sentAt := time.Now()
				if err := d.send(ctx, byNode); err != nil {
					cancel(err)
					return
				}
				ackedAt := time.Now()
				sentTraces.Add(n)
				sentSpans.Add(int64(s))
				mu.Lock()
				d.record(truth, sentAt, ackedAt)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	stopProgress()
	if err := context.Cause(ctx); err != nil && ctx.Err() != nil {
		return 0, 0, 0, err
	}
	el := time.Since(start)
	fmt.Printf("  %s: %d traces (%d spans) sent in %v, %.0f traces/s\n", d.what, sentTraces.Load(), sentSpans.Load(),
		el.Round(time.Millisecond), float64(sentTraces.Load())/el.Seconds())
	return sentTraces.Load(), sentSpans.Load(), el, nil
}

// send hands a batch to the targets: all of it to a single one, else each
// node's spans to the node's own.
func (d drive) send(ctx context.Context, byNode [nodes]ptrace.Traces) error {
	if len(d.targets) == 1 {
		whole := ptrace.NewTraces()
		for _, td := range byNode {
			td.ResourceSpans().MoveAndAppendTo(whole.ResourceSpans())
		}
		return d.targets[0].send(ctx, whole)
	}
	for i, td := range byNode {
		if err := d.targets[i].send(ctx, td); err != nil {
			return err
		}
	}
	return nil
}
