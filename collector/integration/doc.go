// Package integration tests the otelcol-chain distribution as its users run
// it: the ocb-built binary (internal/testbin, built once and cached), started
// as a process with the shipped or a test configuration, fed OTLP over gRPC by
// the OpenTelemetry Go SDK, exporting to a real OTLP receiver
// (internal/otlpsink). It has no code of its own beyond this comment; the tests
// are the package.
package integration
