package engine

import "errors"

// errMalformed is wrapped when a buffered chunk does not read as OTLP; the
// engine wrote every chunk itself, so it means memory was corrupted or the
// encoder changed under it.
var errMalformed = errors.New("malformed OTLP in buffered chunk")
