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
// span ends up in exactly one counter: dropped (queue_full), exported, or
// dropped (export_failed).

// SpanBatcher is the node's span processor: ended spans are buffered and
// exported in batches of at most batchSize by one goroutine: a batch as soon
// as it is full, everything buffered every batchTimeout, on ForceFlush and on
// Shutdown. OnEnd never blocks.
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

	exports      context.Context // the parent of every export's context
	cancel       context.CancelFunc
	shutdownOnce sync.Once
	shutdownErr  error
}

var _ sdktrace.SpanProcessor = (*SpanBatcher)(nil)

func NewSpanBatcher(exp sdktrace.SpanExporter, b BatchSettings, s *Slots, m Counters) *SpanBatcher {
	sb := &SpanBatcher{
		exp: exp, b: b, slots: s, m: m,
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
// (queue_full) if not.
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

// loop is the export goroutine.
func (sb *SpanBatcher) loop() {
	defer close(sb.done)
	timer := time.NewTimer(sb.b.BatchTimeout)
	defer timer.Stop()
	for {
		select {
		case <-sb.kick:
			handle(sb.export(false))
			continue // the timer keeps running for what is left
		case <-timer.C:
			handle(sb.export(true))
		case flushed := <-sb.flushes:
			flushed <- sb.export(true)
		case <-sb.stop:
			handle(sb.export(true))
			return
		}
		timer.Reset(sb.b.BatchTimeout)
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
	var errs []error
	for {
		sb.mu.Lock()
		n := min(len(sb.buf), sb.b.BatchSize)
		if n == 0 || (!all && n < sb.b.BatchSize) {
			sb.mu.Unlock()
			return errors.Join(errs...)
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
		if err != nil {
			errs = append(errs, err)
		}
	}
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
