package telemetry

import (
	"errors"

	"github.com/chainotel/chainotel/node/telemetry/internal/otlpexport"
)

// Sentinel errors, matched with errors.Is in this package's tests. Returned
// errors wrap them with the name of the offending field or environment
// variable.
var (
	// errInvalidConfig reports a Config field with a value Setup cannot use.
	errInvalidConfig = errors.New("invalid telemetry config")
	// errInvalidEnv reports an OTEL_* environment variable with a value Setup
	// cannot use.
	errInvalidEnv = otlpexport.ErrInvalidEnv
	// errPanic is the error recorded on the span of a recovered panic.
	errPanic = errors.New("goroutine panic")
)
