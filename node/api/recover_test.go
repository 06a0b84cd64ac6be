package api

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/chainotel/chainotel/semconv"
)

// A panicking handler under Recover answers 500 JSON, marks the request's
// span an error, hands the panic and its stack to the recorder, and the
// server serves the next request.
func TestRecoverAnswers500AndKeepsServing(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tracer := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp)).Tracer("test")
	type recorded struct {
		name  string
		v     any
		stack string
		span  trace.SpanContext
	}
	got := make(chan recorded, 1)
	rec := func(ctx context.Context, name string, v any, stack string) {
		got <- recorded{name, v, stack, trace.SpanContextFromContext(ctx)}
	}
	h := Recover("http test", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/boom" {
			panic("boom")
		}
		w.WriteHeader(http.StatusNoContent)
	}), rec, slog.New(slog.DiscardHandler))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, span := tracer.Start(r.Context(), "server")
		defer span.End()
		h.ServeHTTP(w, r.WithContext(ctx))
	}))
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/boom")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusInternalServerError, resp.StatusCode)
	var eb ErrorBody
	require.NoError(t, json.Unmarshal(body, &eb), "a JSON answer: %s", body)
	require.Contains(t, eb.Error, "panicked")
	r := <-got
	require.Equal(t, "http test", r.name)
	require.Equal(t, "boom", r.v)
	require.Contains(t, r.stack, "recover_test.go", "the stack of the panic")

	resp, err = http.Get(srv.URL + "/fine")
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusNoContent, resp.StatusCode, "the server goes on serving")

	spans := exp.GetSpans()
	require.Len(t, spans, 2)
	require.Equal(t, r.span.SpanID(), spans[0].SpanContext.SpanID(), "recorded under the request's span")
	require.Equal(t, codes.Error, spans[0].Status.Code)
	require.Contains(t, spans[0].Attributes, attribute.String(semconv.ErrorTypeKey, semconv.ErrorGoroutinePanic))
	require.Equal(t, codes.Unset, spans[1].Status.Code)
}
