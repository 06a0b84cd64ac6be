package main

import (
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/chainotel/chainotel/internal/testbin"
)

// TestCollectorCountsWhatItReceives starts the ocb-built collector with the
// comparison's config, sends it spans over OTLP/gRPC and checks the count
// loadgen reads back, so a comparison cannot silently measure nothing.
func TestCollectorCountsWhatItReceives(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the ocb-built collector")
	}
	bin := testbin.OtelcolChain(t)
	col, err := startCollector(t.Context(), bin, t.TempDir(), newDisplay(io.Discard))
	require.NoError(t, err)
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = col.stop()
		}
	})

	exp, err := otlptracegrpc.New(t.Context(), otlptracegrpc.WithEndpoint(col.addr), otlptracegrpc.WithInsecure())
	require.NoError(t, err)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	tracer := tp.Tracer("loadgen-test")
	for range 7 {
		_, span := tracer.Start(t.Context(), "test.span")
		span.End()
	}
	require.NoError(t, tp.Shutdown(t.Context()))

	// SIGTERM makes the collector flush its batch processor before exiting.
	require.NoError(t, col.stop())
	stopped = true
	spans, logs := col.received()
	assert.Equal(t, 7, spans)
	assert.Zero(t, logs)
}
