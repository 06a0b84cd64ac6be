package engine

import "errors"

// errMalformed is wrapped when a buffered chunk does not read as OTLP; the
// engine wrote every chunk itself, so it means memory was corrupted or the
// encoder changed under it.
var errMalformed = errors.New("malformed OTLP in buffered chunk")

// ErrFull is returned by Ingest, with RefuseWhenFull, while the buffer is at
// MaxTraces or MaxBytes. It is not permanent: the OTLP receiver answers it
// with the retryable gRPC status UNAVAILABLE (HTTP 503), and the sender
// retries the batch later.
var ErrFull = errors.New("sampling buffer full, retry later")
