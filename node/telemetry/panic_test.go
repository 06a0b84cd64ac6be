package telemetry

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"

	"github.com/chainotel/chainotel/semconv"
)

// explode panics a few frames deep, so the stack has something to show.
func explode(heights []int) int { return heights[3] }

func TestPanicGuard(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.BatchTimeout = time.Hour // only the guard's flush can export in time
	})
	ctx, parent := h.tel.TracerProvider.Tracer("test").Start(context.Background(), semconv.SpanBlockApply)
	h.tel.Go(ctx, "block.applier", func(context.Context) { explode([]int{1}) })

	require.Equal(t, PanicExitCode, h.waitExit(t))

	// The span was flushed before Exit, a child of the span in ctx.
	spans := h.spans.GetSpans()
	require.Len(t, spans, 1)
	s := spans[0]
	require.Equal(t, semconv.SpanPanic, s.Name)
	require.Equal(t, parent.SpanContext().SpanID(), s.Parent.SpanID())
	require.Equal(t, codes.Error, s.Status.Code)
	require.Contains(t, s.Status.Description, "index out of range")
	attrs := attribute.NewSet(s.Attributes...)
	require.Equal(t, semconv.ErrorGoroutinePanic, resourceValue(t, attrs, semconv.ErrorTypeKey))
	require.Equal(t, "block.applier", resourceValue(t, attrs, semconv.ThreadNameKey))
	require.Len(t, s.Events, 1)
	ev := s.Events[0]
	require.Equal(t, semconv.ExceptionEventName, ev.Name)
	evAttrs := attribute.NewSet(ev.Attributes...)
	require.Equal(t, "runtime.boundsError", resourceValue(t, evAttrs, semconv.ExceptionTypeKey))
	stack := resourceValue(t, evAttrs, semconv.ExceptionStacktraceKey)
	require.Contains(t, stack, "telemetry.explode", "the stack must show where it panicked")

	// The error log, with the same stack, in the OTLP records and the file.
	recs := h.logs.Records()
	require.Len(t, recs, 1)
	r := recs[0]
	require.Equal(t, s.SpanContext.TraceID(), r.TraceID())
	require.True(t, strings.HasPrefix(r.Body().AsString(), "goroutine panic: "), r.Body().AsString())
	found := false
	r.WalkAttributes(func(kv attribute.KeyValue) bool {
		if string(kv.Key) == semconv.ExceptionStacktraceKey {
			found = strings.Contains(kv.Value.AsString(), "telemetry.explode")
		}
		return true
	})
	require.True(t, found, "the log record lacks the stack")
	line := lineWithMsg(t, jsonLines(t, readFile(t, h.logFile)), r.Body().AsString())
	require.Equal(t, "ERROR", line["level"])
	require.Equal(t, semconv.ErrorGoroutinePanic, line[semconv.ErrorTypeKey])
	require.Equal(t, s.SpanContext.TraceID().String(), line[logTraceIDKey])
}

func TestRecoverPanicWithoutPanicDoesNothing(t *testing.T) {
	h := newHarness(t, nil)
	func() {
		defer h.tel.recoverPanic(context.Background(), "quiet")
	}()
	h.flush(t)
	require.Empty(t, h.spans.GetSpans())
	require.Empty(t, h.exits)
}

func TestRecoverPanicInPlace(t *testing.T) {
	// The deferred form, for goroutines the caller starts itself; a panic of
	// nil is a panic too.
	h := newHarness(t, nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer h.tel.recoverPanic(context.Background(), "raft.loop")
		panic(nil)
	}()
	require.Equal(t, PanicExitCode, h.waitExit(t))
	<-done
	spans := h.spans.GetSpans()
	require.Len(t, spans, 1)
	require.Equal(t, semconv.SpanPanic, spans[0].Name)
}

func TestPanicGuardWithSDKDisabled(t *testing.T) {
	// With OTEL_SDK_DISABLED the panic still reaches the local log and the
	// process still exits.
	t.Setenv("OTEL_SDK_DISABLED", "true")
	h := newHarness(t, nil)
	h.tel.Go(context.Background(), "sync.worker", func(context.Context) { explode(nil) })
	require.Equal(t, PanicExitCode, h.waitExit(t))
	lines := jsonLines(t, readFile(t, h.logFile))
	require.Len(t, lines, 1)
	require.Equal(t, semconv.ErrorGoroutinePanic, lines[0][semconv.ErrorTypeKey])
	require.Equal(t, "sync.worker", lines[0][semconv.ThreadNameKey])
	require.Contains(t, lines[0][semconv.ExceptionStacktraceKey], "telemetry.explode")
	require.Empty(t, h.spans.GetSpans())
}

// waitExit returns the code the guard passed to Exit.
func (h *harness) waitExit(t *testing.T) int {
	t.Helper()
	select {
	case code := <-h.exits:
		return code
	case <-time.After(waitFor):
		t.Fatal("the guard never called Exit")
		return 0
	}
}
