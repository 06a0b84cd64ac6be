// Package telemetry builds what the node plugs into its seams: a
// TracerProvider exporting every span over OTLP/gRPC, a LoggerProvider and a
// *slog.Logger that writes JSON locally and OTLP log records remotely, the
// text-map propagator (OTEL_PROPAGATORS, with sensitive baggage filtered out),
// and Prometheus counters for the telemetry that had to be dropped.
//
// The node samples nothing away: policy lives in the collector. What this
// package guarantees instead is that telemetry never blocks the chain: spans
// and log records go through bounded queues with non-blocking enqueue, and
// what does not fit is dropped and counted.
//
// Failures become telemetry too: [Telemetry.Go] and [Telemetry.RecoverPanic]
// turn a panic into an error span and an error log with the stack, flush, and
// exit through an injected function; [RecordError] marks a span as failed with
// a stable error category.
package telemetry
