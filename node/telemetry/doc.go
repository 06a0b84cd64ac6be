// Package telemetry builds what the node plugs into its seams: a
// TracerProvider exporting every span over OTLP/gRPC, a *slog.Logger that
// writes JSON locally and OTLP log records remotely, the text-map propagator
// (OTEL_PROPAGATORS, with sensitive baggage filtered out), a panic guard for
// goroutines, and Prometheus counters for the telemetry that had to be
// dropped. Its API is what cmd/blockchain and the node use: [Setup] with its
// [Config], the [Telemetry] it returns, [NewPropagator], the
// [ExemplarObserver] of node/api's latency histogram, and [StartSpanAt] for
// the spans the node times itself (node/mempool's), which the node's tracers
// write without the SDK's span lifecycle.
//
// The package is two layers. This one is setup: the resource, the queue
// settings from Config and OTEL_BSP_* / OTEL_BLRP_*, the collector endpoint
// from --otlp-endpoint and OTEL_EXPORTER_OTLP_*, logging, propagation,
// exemplars, panics, and the self-metrics. internal/otlpexport is the export
// pipeline behind the providers: the span batcher, the bounded log pipeline,
// and the node's own OTLP/gRPC span exporter and encoder.
//
// The node samples nothing away: policy lives in the collector. What this
// package guarantees instead is that telemetry never blocks the chain: spans
// and log records go through bounded queues with non-blocking enqueue, and
// what does not fit is dropped and counted.
//
// Failures become telemetry too: [Telemetry.Go] turns a panic into an error
// span and an error log with the stack, flushes, and exits through
// Config.Exit.
package telemetry
