package chainsamplingprocessor

import "errors"

// errInvalidConfig is wrapped by every Validate error; match it with
// errors.Is. The policy file's errors wrap policy.ErrInvalid.
var errInvalidConfig = errors.New("invalid chainsampling config")
