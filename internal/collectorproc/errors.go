package collectorproc

import "errors"

// Errors the helpers wrap.
var (
	// ErrExited: the collector process ended while it was expected to run.
	ErrExited = errors.New("otelcol-chain exited")
	// ErrNotOK: an HTTP endpoint of the collector answered with a status other than 200.
	ErrNotOK = errors.New("unexpected HTTP status")
	// ErrInvalidConfig: `otelcol-chain validate` refused a configuration.
	ErrInvalidConfig = errors.New("invalid collector configuration")
)

// ErrNoMetric: the collector does not expose the metric asked for (yet).
var ErrNoMetric = errors.New("metric not exposed")
