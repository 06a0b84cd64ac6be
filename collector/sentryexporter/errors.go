package sentryexporter

import "errors"

var (
	errMissingDSN   = errors.New("missing Sentry DSN")
	errMalformedDSN = errors.New("malformed Sentry DSN")
)
