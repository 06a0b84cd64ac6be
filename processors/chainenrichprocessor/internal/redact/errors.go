package redact

import "errors"

// ErrEmptySecret is returned for an empty secret key; it would match every key.
var ErrEmptySecret = errors.New("empty secret key would match every attribute")
