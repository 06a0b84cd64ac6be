package mempool

import "errors"

// Sentinel errors, matched with errors.Is.
var (
	// ErrFull means the pool holds its maximum number of transactions (429).
	ErrFull = errors.New("mempool full")
	// ErrDuplicate means a transaction with the same hash is pending or
	// already committed (409).
	ErrDuplicate = errors.New("duplicate transaction")
)
