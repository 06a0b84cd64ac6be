package telemetry

import (
	"errors"

	"github.com/chainotel/chainotel/node/telemetry/internal/otlpexport"
)

// Sentinel errors, matched with errors.Is. Returned errors wrap them with the
// name of the offending field or environment variable.
var (
	// ErrInvalidConfig reports a Config field with a value Setup cannot use.
	ErrInvalidConfig = errors.New("invalid telemetry config")
	// ErrInvalidEnv reports an OTEL_* environment variable with a value Setup
	// cannot use.
	ErrInvalidEnv = otlpexport.ErrInvalidEnv
	// ErrPanic is the error recorded on the span of a recovered panic.
	ErrPanic = errors.New("goroutine panic")
)
