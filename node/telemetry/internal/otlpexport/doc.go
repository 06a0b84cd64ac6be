// Package otlpexport carries the node's spans and log records from the
// OpenTelemetry SDK to the collector, and is the part of node/telemetry that
// a reader of the node's setup can skip.
//
//   - [NewSpanBatcher] is the span processor: ended spans are buffered and
//     exported in batches by one goroutine, and refused, never waited for,
//     when the queue is full.
//   - [NewLogPipeline] bounds the SDK's batch log processor the same way.
//   - [NewSpanExporter] sends spans over OTLP/gRPC, encoding them straight
//     from the SDK's ReadOnlySpans (encode.go) and reading the standard
//     OTEL_EXPORTER_OTLP_* variables as otlptracegrpc does (env.go).
//
// Both pipelines hold at most [Slots].Limit items between the moment they end
// and the moment their export returns, and count every item in exactly one
// of [Counters]' DroppedFull, Exported and DroppedExport.
package otlpexport
