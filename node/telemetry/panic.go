package telemetry

import (
	"context"
	"fmt"
	"runtime/debug"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/chainotel/chainotel/semconv"
)

// Go runs fn in a new goroutine guarded by recoverPanic: a panic in it is
// recorded, flushed, and ends the process through Config.Exit(PanicExitCode).
// name says which goroutine it was (thread.name on the panic span).
func (t *Telemetry) Go(ctx context.Context, name string, fn func(ctx context.Context)) {
	go func() {
		defer t.recoverPanic(ctx, name)
		fn(ctx)
	}()
}

// recoverPanic turns a panic of the calling goroutine into telemetry and
// ends the process: an error span goroutine.panic (child of the span in ctx,
// if any) with error.type=goroutine_panic and an exception event carrying the
// stack, an error log with the same stack, a flush bounded by
// Config.PanicFlushTimeout, then Config.Exit(PanicExitCode). The node does not
// limp on after a panic.
//
// It must be deferred directly, as recover only works there:
//
//	defer t.recoverPanic(ctx, "raft.loop")
func (t *Telemetry) recoverPanic(ctx context.Context, name string) {
	v := recover()
	if v == nil {
		return
	}
	t.handlePanic(ctx, name, v, string(debug.Stack()))
}

// handlePanic records the panic value v and exits. When several goroutines
// panic at once each is recorded, and the first to finish flushes and exits
// (Exit does not return in production; in tests the others return).
func (t *Telemetry) handlePanic(ctx context.Context, name string, v any, stack string) {
	t.RecordPanic(ctx, name, v, stack)
	t.exitOnce.Do(func() {
		// The goroutine's own context may be cancelled already; the flush
		// gets its own bounded one.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), t.panicFlush)
		defer cancel()
		if err := t.Shutdown(fctx); err != nil {
			t.local.Error("flush telemetry after panic", "error", err)
		}
		t.exit(PanicExitCode)
	})
}

// RecordPanic records a recovered panic without ending the process, for the
// places that recover and go on serving (HTTP and gRPC handlers; it is a
// guard.Recorder): an error span goroutine.panic (child of the span in ctx,
// if any) with error.type=goroutine_panic, thread.name=name and an exception
// event carrying the stack, and an error log inside it with the same stack.
func (t *Telemetry) RecordPanic(ctx context.Context, name string, v any, stack string) {
	msg := fmt.Sprint(v)
	typ := fmt.Sprintf("%T", v)
	ctx, span := t.tracer.Start(ctx, semconv.SpanPanic, trace.WithAttributes(
		attribute.String(semconv.ErrorTypeKey, semconv.ErrorGoroutinePanic),
		attribute.String(semconv.ThreadNameKey, name),
	))
	span.AddEvent(semconv.ExceptionEventName, trace.WithAttributes(
		attribute.String(semconv.ExceptionTypeKey, typ),
		attribute.String(semconv.ExceptionMessageKey, msg),
		attribute.String(semconv.ExceptionStacktraceKey, stack),
	))
	span.SetStatus(codes.Error, fmt.Sprintf("%v: %s", errPanic, msg))
	t.Logger.ErrorContext(ctx, "goroutine panic: "+msg,
		semconv.ErrorTypeKey, semconv.ErrorGoroutinePanic,
		semconv.ThreadNameKey, name,
		semconv.ExceptionTypeKey, typ,
		semconv.ExceptionMessageKey, msg,
		semconv.ExceptionStacktraceKey, stack,
	)
	span.End()
}
