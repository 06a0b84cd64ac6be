//go:generate go tool mdatagen metadata.yaml

// Package chainheadsamplingextension is the chainheadsampling extension: it
// serves the head: section of the chainsampling policy file as Jaeger remote
// sampling strategies over HTTP, so SDKs (the node with
// OTEL_TRACES_SAMPLER=jaeger_remote, or any OpenTelemetry SDK's Jaeger
// remote sampler) sample at the source from the same file that holds the
// collector's tail rules.
package chainheadsamplingextension
