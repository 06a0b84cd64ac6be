//go:build integration

// Package loadgen holds loadgen's process tests: its counting collector
// (node/cmd/loadgen/countcol) run as the ocb-built otelcol-chain.
package loadgen

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/chainotel/chainotel/internal/testbin"
	"github.com/chainotel/chainotel/node/cmd/loadgen/countcol"
)

// TestCollectorCountsWhatItReceives starts the ocb-built collector with the
// comparison's config, sends it spans over OTLP/gRPC and checks the count
// loadgen reads back (from the debug exporter's lines and from the
// collector's own metrics), so a comparison cannot silently measure nothing.
func TestCollectorCountsWhatItReceives(t *testing.T) {
	bin := testbin.OtelcolChain(t)
	col, err := countcol.Start(t.Context(), bin, t.TempDir(), func(msg string) { t.Log(msg) })
	require.NoError(t, err)
	t.Cleanup(col.Kill)

	exp, err := otlptracegrpc.New(t.Context(), otlptracegrpc.WithEndpoint(col.Addr), otlptracegrpc.WithInsecure())
	require.NoError(t, err)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	tracer := tp.Tracer("loadgen-test")
	for range 7 {
		_, span := tracer.Start(t.Context(), "test.span")
		span.End()
	}
	require.NoError(t, tp.Shutdown(t.Context()))

	// The syncer exported each span before End returned, so the receiver
	// has accepted all of them.
	accepted, err := col.AcceptedSpans(t.Context())
	require.NoError(t, err)
	assert.Equal(t, uint64(7), accepted, "the receiver's accepted spans, from the collector's own metrics")

	// SIGTERM makes the collector flush its batch processor before exiting.
	require.NoError(t, col.Stop(30*time.Second))
	spans, logs := col.Received()
	assert.Equal(t, 7, spans)
	assert.Zero(t, logs)
}
