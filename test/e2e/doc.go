//go:build integration

// Package e2e holds the end-to-end test of the node + collector pair
// (`make e2e`): three `blockchain` processes exporting their telemetry to the
// ocb-built otelcol-chain with its shipped configuration,
// the kept traces going to a test OTLP receiver (internal/otlpsink) and the
// errors to a local Sentry endpoint (internal/sentrytest).
package e2e
