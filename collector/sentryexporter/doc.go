//go:generate go tool mdatagen metadata.yaml

// Package sentryexporter is the chainsentry exporter: it turns error spans and
// error logs into Sentry events (github.com/getsentry/sentry-go's event
// model and envelope transport) and delivers them through the collector's
// exporter helper, so a Sentry outage or rate limit keeps events queued
// instead of losing them.
package sentryexporter
