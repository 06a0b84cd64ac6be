//go:build integration

package collector

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploggrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	otellog "go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/chainotel/chainotel/semconv"
)

// nodeResource is what a node's telemetry carries (CONVENTIONS.md).
func nodeResource(nodeID string) *resource.Resource {
	return resource.NewSchemaless(
		attribute.String(semconv.ServiceNameKey, semconv.ServiceName),
		attribute.String(semconv.ServiceInstanceIDKey, nodeID),
		attribute.String(semconv.ChainIDKey, "chainotel-test"),
		attribute.String(semconv.ChainConsensusKey, semconv.ConsensusRaft),
	)
}

// newTracer returns a tracer exporting to the collector at endpoint over
// OTLP/gRPC. The syncer exports each span as it ends, so when a span's End
// returns the collector has accepted it: no flush to wait for.
func newTracer(t *testing.T, endpoint string) trace.Tracer {
	t.Helper()
	ctx := context.Background()
	exp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(endpoint), otlptracegrpc.WithInsecure())
	require.NoError(t, err)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithResource(nodeResource("node0")))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = tp.Shutdown(ctx)
	})
	return tp.Tracer("chainotel/test/collector")
}

// newLogger returns a logger exporting to the collector at endpoint over
// OTLP/gRPC, one record per export (simple processor).
func newLogger(t *testing.T, endpoint string) otellog.Logger {
	t.Helper()
	ctx := context.Background()
	exp, err := otlploggrpc.New(ctx, otlploggrpc.WithEndpoint(endpoint), otlploggrpc.WithInsecure())
	require.NoError(t, err)
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewSimpleProcessor(exp)), sdklog.WithResource(nodeResource("node0")))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = lp.Shutdown(ctx)
	})
	return lp.Logger("chainotel/test/collector")
}

// txTrace sends the trace of one transaction as a node makes it: the HTTP
// server span with validation below it. failed marks validation as failed
// (status error, error.type validation_error). It returns the trace id.
func txTrace(ctx context.Context, tracer trace.Tracer, txType string, failed bool) trace.TraceID {
	ctx, root := tracer.Start(ctx, "POST /tx", trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(
			attribute.String(semconv.HTTPRouteKey, "/tx"),
			attribute.String(semconv.TxTypeKey, txType),
		))
	_, validate := tracer.Start(ctx, semconv.SpanValidateTransaction,
		trace.WithAttributes(attribute.String(semconv.TxTypeKey, txType)))
	if failed {
		validate.SetStatus(codes.Error, "insufficient balance")
		validate.SetAttributes(attribute.String(semconv.ErrorTypeKey, semconv.ErrorValidation))
	}
	validate.End()
	if failed {
		root.SetStatus(codes.Error, "transaction rejected")
	}
	root.End()
	return root.SpanContext().TraceID()
}
