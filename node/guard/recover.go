package guard

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
)

// Recorder records a panic recovered where the process goes on serving (an
// HTTP or gRPC handler): main passes telemetry's RecordPanic, which writes a
// goroutine.panic error span (child of the span in ctx) and an error log,
// both with the stack. name says where it happened (thread.name).
type Recorder func(ctx context.Context, name string, v any, stack string)

// Recovered reports a panic value v recovered by the caller, with the
// calling goroutine's stack: through r, or as an error log on log when r is
// nil (tests and libraries given no recorder).
func (r Recorder) Recovered(ctx context.Context, log *slog.Logger, name string, v any) {
	stack := string(debug.Stack())
	if r != nil {
		r(ctx, name, v, stack)
		return
	}
	log.ErrorContext(ctx, "panic recovered: "+fmt.Sprint(v), "thread.name", name, "exception.stacktrace", stack)
}
