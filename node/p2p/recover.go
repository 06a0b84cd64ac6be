package p2p

import (
	"context"
	"fmt"
	"log/slog"

	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/chainotel/chainotel/node/guard"
	"github.com/chainotel/chainotel/semconv"
)

// Without these, a panic in a handler ends the whole process: grpc-go does
// not recover its handlers' panics, so the node would die without a span, a
// log or a flush.

// recoverUnary turns a panic in a unary handler into a recorded failure
// (rec, under the call's server span, which becomes an error) and a
// codes.Internal answer; the server goes on serving.
func recoverUnary(rec guard.Recorder, log *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (resp any, err error) {
		defer func() {
			if v := recover(); v != nil {
				err = recovered(ctx, rec, log, info.FullMethod, v)
			}
		}()
		return next(ctx, req)
	}
}

// recoverStream is recoverUnary for streaming handlers.
func recoverStream(rec guard.Recorder, log *slog.Logger) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, next grpc.StreamHandler) (err error) {
		defer func() {
			if v := recover(); v != nil {
				err = recovered(ss.Context(), rec, log, info.FullMethod, v)
			}
		}()
		return next(srv, ss)
	}
}

func recovered(ctx context.Context, rec guard.Recorder, log *slog.Logger, method string, v any) error {
	span := trace.SpanFromContext(ctx)
	span.SetStatus(otelcodes.Error, fmt.Sprintf("panic: %v", v))
	span.SetAttributes(attribute.String(semconv.ErrorTypeKey, semconv.ErrorGoroutinePanic))
	rec.Recovered(ctx, log, "grpc "+method, v)
	return status.Errorf(codes.Internal, "%s: the handler panicked; the peer logged it", method)
}
