package telemetry

import (
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/chainotel/chainotel/semconv"
)

// RecordError marks span as failed with a stable error category (one of the
// semconv.Error* values, e.g. semconv.ErrorConsensusTimeout): error.type,
// an exception event with err's type and message, and status Error with err's
// message. A nil err records nothing.
func RecordError(span trace.Span, category string, err error) {
	if err == nil {
		return
	}
	span.SetAttributes(attribute.String(semconv.ErrorTypeKey, category))
	span.RecordError(err)
	span.SetStatus(codes.Error, err.Error())
}

// ErrorLogAttrs are the slog arguments that give an error log line the same
// category and message as RecordError gives the span:
//
//	logger.ErrorContext(ctx, "peer dropped", telemetry.ErrorLogAttrs(semconv.ErrorP2PDisconnect, err)...)
func ErrorLogAttrs(category string, err error) []any {
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	return []any{semconv.ErrorTypeKey, category, semconv.ExceptionMessageKey, msg}
}
