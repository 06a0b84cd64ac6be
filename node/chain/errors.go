package chain

import (
	"errors"
	"fmt"
)

// Sentinel errors, matched with errors.Is. The API maps each to an HTTP status
// (see node/api): the malformed-input ones to 400, the state ones to 422.
var (
	// ErrMalformed means a field is syntactically wrong: a bad address, a zero
	// amount, an unknown type, hex that does not decode.
	ErrMalformed = errors.New("malformed transaction")
	// ErrBadSignature means a signature is missing where required, does not
	// verify, or its public key does not belong to the sender.
	ErrBadSignature = errors.New("bad signature")
	// ErrInsufficientFunds means the sender cannot pay amount plus fee.
	ErrInsufficientFunds = errors.New("insufficient funds")
	// ErrBadNonce means a given nonce is not the sender's next one.
	ErrBadNonce = errors.New("bad nonce")
	// ErrFeeTooLow means the fee does not cover the gas the transaction uses.
	ErrFeeTooLow = errors.New("fee too low")
	// ErrOverflow means a balance would exceed what a uint64 holds.
	ErrOverflow = errors.New("balance overflow")
	// ErrInvalidBlock means a block does not follow from its parent and the
	// state: wrong height, parent, roots, or a transaction that fails.
	ErrInvalidBlock = errors.New("invalid block")
	// ErrBadGenesis means a genesis file is unreadable or inconsistent.
	ErrBadGenesis = errors.New("invalid genesis")
	// ErrCorrupt means stored bytes do not decode as what they should be.
	ErrCorrupt = errors.New("corrupt encoding")
)

// FieldError is a rejected transaction field: which one, and why. It wraps
// one of the sentinels above so callers can classify it with errors.Is.
type FieldError struct {
	Field string // JSON name of the offending field, e.g. "amount"
	Msg   string // what is wrong with it, for the user
	Err   error  // the sentinel it belongs to
}

func (e *FieldError) Error() string { return fmt.Sprintf("%s: %s", e.Field, e.Msg) }

// Unwrap lets errors.Is match the sentinel.
func (e *FieldError) Unwrap() error { return e.Err }

func fieldErr(sentinel error, field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...), Err: sentinel}
}
