package api

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/chainotel/chainotel/node/guard"
	"github.com/chainotel/chainotel/semconv"
)

// Recover serves h and turns a panic in it into a recorded failure: the
// request's span (if any) becomes an error with error.type=goroutine_panic,
// rec records a goroutine.panic span and an error log with the stack under
// it, and the client gets a 500 JSON answer (when nothing was written yet),
// while the server goes on serving. net/http would otherwise swallow the
// panic with a line on stderr. http.ErrAbortHandler, net/http's way of
// aborting a response on purpose, passes through.
func Recover(name string, h http.Handler, rec guard.Recorder, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(v)
			}
			ctx := r.Context()
			span := trace.SpanFromContext(ctx)
			span.SetStatus(codes.Error, fmt.Sprintf("panic: %v", v))
			span.SetAttributes(attribute.String(semconv.ErrorTypeKey, semconv.ErrorGoroutinePanic))
			rec.Recovered(ctx, log, name, v)
			writeJSON(w, http.StatusInternalServerError, ErrorBody{Error: "internal error: the handler panicked; the node logged it"})
		}()
		h.ServeHTTP(w, r)
	})
}
