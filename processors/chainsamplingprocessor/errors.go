package chainsamplingprocessor

import "errors"

// Sentinel errors of the processor's configuration, matched with errors.Is.
var (
	// errInvalidConfig is wrapped by every Validate error.
	errInvalidConfig = errors.New("invalid chainsampling config")
	// errShutdown is returned by ConsumeTraces after Shutdown.
	errShutdown = errors.New("chainsampling processor is shut down")
)
