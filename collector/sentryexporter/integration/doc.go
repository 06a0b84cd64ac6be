// Package integration runs the ocb-built otelcol-chain with chainenrich and
// the sentry exporter against a local Sentry endpoint (internal/sentrytest).
package integration
