//go:build integration

// Package collector tests the otelcol-chain distribution as its users run
// it: the ocb-built binary (internal/testbin), started as a process
// (internal/collectorproc) with the shipped configuration or one from
// testdata/, fed OTLP over gRPC by the OpenTelemetry Go SDK, exporting to a
// real OTLP receiver (internal/otlpsink) and to a Sentry endpoint
// (internal/sentrytest). It also checks the collectorproc harness itself.
package collector
