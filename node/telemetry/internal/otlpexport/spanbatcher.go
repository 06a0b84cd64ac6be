package otlpexport

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Why not the SDK's batch span processor: it hands every ended span to its
// export goroutine over a channel, so each span.End wakes that goroutine (a
// scheduler round trip per span; in the bench-telemetry profiles, about 3% of
// a follower's CPU, a fifth of what its telemetry cost). SpanBatcher appends
// the span to a slice under a mutex and wakes the export goroutine once per
// full batch. It also holds the bound and the accounting the gate and the
// counting exporter held around the SDK's processor: a span is refused, never
// waited for, when QueueSize spans are buffered or being exported, and every
// span ends up in exactly one counter: dropped (queue_full), exported,
// dropped (export_failed), or dropped (shutdown) when it ended after Shutdown.
//
// A tick of the timer sends one batch, not everything buffered: under steady
// load with a slow collector, draining on the tick would export whatever
// arrived during each round trip at once, back to back, and the batches
// would shrink to what one round trip brings. One batch a tick leaves the
// rest to fill up to a full batch or to wait for the next tick.

// SpanBatcher is the node's span processor: ended spans are buffered and
// exported in batches of at most batchSize by one goroutine: a batch as soon
// as one is full, one batch (the oldest spans, however few) every
// batchTimeout, everything buffered on ForceFlush and on Shutdown. OnEnd
// never blocks.
type SpanBatcher struct {
	exp   sdktrace.SpanExporter
	b     BatchSettings
	slots *Slots // buffered or being exported
	m     Counters

	mu      sync.Mutex
	buf     []sdktrace.ReadOnlySpan // ended, not yet taken for export; oldest first
	stopped bool

	batch []sdktrace.ReadOnlySpan // the spans being exported; the export loop's own

	kick    chan struct{}   // a full batch is waiting (capacity 1)
	flushes chan chan error // ForceFlush: export what is buffered, then send the exports' error
	stop    chan struct{}   // closed by Shutdown
	done    chan struct{}   // closed when the export loop returned

	timer timer // the batch timer; a fake one in tests

	exports      context.Context // the parent of every export's context
	cancel       context.CancelFunc
	shutdownOnce sync.Once
	shutdownErr  error
}

var _ sdktrace.SpanProcessor = (*SpanBatcher)(nil)

func NewSpanBatcher(exp sdktrace.SpanExporter, b BatchSettings, s *Slots, m Counters) *SpanBatcher {
	return newSpanBatcher(exp, b, s, m, realTimer{time.NewTimer(b.BatchTimeout)})
}

func newSpanBatcher(exp sdktrace.SpanExporter, b BatchSettings, s *Slots, m Counters, t timer) *SpanBatcher {
	sb := &SpanBatcher{
		exp: exp, b: b, slots: s, m: m, timer: t,
		kick:    make(chan struct{}, 1),
		flushes: make(chan chan error),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	sb.exports, sb.cancel = context.WithCancel(context.Background())
	go sb.loop()
	return sb
}

func (sb *SpanBatcher) OnStart(context.Context, sdktrace.ReadWriteSpan) {}

// OnEnd buffers a sampled span if there is room and counts it dropped
// (queue_full) if not, or dropped (shutdown) after Shutdown.
func (sb *SpanBatcher) OnEnd(s sdktrace.ReadOnlySpan) {
	if !s.SpanContext().IsSampled() {
		return
	}
	if !sb.slots.take() {
		sb.m.DroppedFull.Inc()
		return
	}
	sb.mu.Lock()
	if sb.stopped {
		sb.mu.Unlock()
		sb.slots.release(1)
		sb.m.DroppedShutdown.Inc()
		return
	}
	sb.buf = append(sb.buf, s)
	full := len(sb.buf) == sb.b.BatchSize
	sb.mu.Unlock()
	if full {
		select {
		case sb.kick <- struct{}{}:
		default: // already kicked
		}
	}
}

// timer is the batch timer as the export loop uses it.
type timer interface {
	C() <-chan time.Time
	Reset(d time.Duration)
	Stop()
}

type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time   { return r.t.C }
func (r realTimer) Reset(d time.Duration) { r.t.Reset(d) }
func (r realTimer) Stop()                 { r.t.Stop() }

// loop is the export goroutine. A full batch waits for nothing; a tick
// sends one batch and restarts the timer once that export has returned.
func (sb *SpanBatcher) loop() {
	defer close(sb.done)
	defer sb.timer.Stop()
	for {
		select {
		case <-sb.kick:
			handle(sb.export(false))
			continue // the timer keeps running for what is left
		case <-sb.timer.C():
			_, err := sb.exportBatch(1)
			handle(err)
		case flushed := <-sb.flushes:
			flushed <- sb.export(true)
		case <-sb.stop:
			handle(sb.export(true))
			return
		}
		sb.timer.Reset(sb.b.BatchTimeout)
	}
}

// handle passes a failed export to the SDK's error handler (the node logs
// it, rate-limited).
func handle(err error) {
	if err != nil {
		otel.Handle(err)
	}
}

// export sends the buffered spans in batches of batchSize; all says whether
// a last, partial batch goes too. It returns the failed exports' errors.
func (sb *SpanBatcher) export(all bool) error {
	least := sb.b.BatchSize
	if all {
		least = 1
	}
	var errs []error
	for {
		n, err := sb.exportBatch(least)
		if err != nil {
			errs = append(errs, err)
		}
		if n == 0 {
			return errors.Join(errs...)
		}
	}
}

// exportBatch sends the oldest batchSize buffered spans, or all of them when
// fewer are buffered, provided there are at least least. It returns how many
// it sent (0: none) and the export's error.
func (sb *SpanBatcher) exportBatch(least int) (int, error) {
	sb.mu.Lock()
	n := min(len(sb.buf), sb.b.BatchSize)
	if n == 0 || n < least {
		sb.mu.Unlock()
		return 0, nil
	}
	sb.batch = append(sb.batch[:0], sb.buf[:n]...)
	rest := copy(sb.buf, sb.buf[n:])
	clear(sb.buf[rest:])
	sb.buf = sb.buf[:rest]
	sb.mu.Unlock()

	ctx, cancel := context.WithTimeout(sb.exports, sb.b.ExportTimeout)
	err := sb.exp.ExportSpans(ctx, sb.batch)
	cancel()
	clear(sb.batch) // the spans are garbage once exported
	sb.slots.release(n)
	sb.count(n, err)
	return n, err
}

// count adds an export of n spans to the self-metrics. An export that lost
// only some spans (a partial success, a failed request of several) counts
// only those as export_failed.
func (sb *SpanBatcher) count(n int, err error) {
	if err == nil {
		sb.m.Exported.Add(float64(n))
		return
	}
	sb.m.Failures.Inc()
	lost := n
	var some lostSpansError
	if errors.As(err, &some) && some.lost >= 0 && some.lost < int64(n) {
		lost = int(some.lost)
	}
	sb.m.DroppedExport.Add(float64(lost))
	sb.m.Exported.Add(float64(n - lost))
}

// ForceFlush exports every span ended before the call and returns the
// exports' errors, or gives up when ctx ends first.
func (sb *SpanBatcher) ForceFlush(ctx context.Context) error {
	flushed := make(chan error, 1)
	select {
	case sb.flushes <- flushed:
	case <-sb.done:
		return nil // shut down: nothing is buffered
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-flushed:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Shutdown refuses further spans, exports the buffered ones and shuts the
// exporter down. Only the first call does anything.
func (sb *SpanBatcher) Shutdown(ctx context.Context) error {
	sb.shutdownOnce.Do(func() {
		sb.mu.Lock()
		sb.stopped = true
		sb.mu.Unlock()
		close(sb.stop)
		var err error
		select {
		case <-sb.done:
		case <-ctx.Done():
			err = ctx.Err() // an export may still be running: the cancel below ends it
		}
		sb.cancel()
		sb.shutdownErr = errors.Join(err, sb.exp.Shutdown(ctx))
	})
	return sb.shutdownErr
}
