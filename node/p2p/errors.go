package p2p

import (
	"errors"
	"fmt"

	"github.com/chainotel/chainotel/node/chain"
	"github.com/chainotel/chainotel/node/consensus"
	"github.com/chainotel/chainotel/node/mempool"
)

// Sentinel errors, matched with errors.Is.
var (
	// ErrUnknownPeer means no connected peer has that node id (yet).
	ErrUnknownPeer = errors.New("unknown peer")
	// ErrQueueFull means a peer's send queue is full; raft retries.
	ErrQueueFull = errors.New("peer send queue full")
	// ErrBadPeer means a peer presented an identity it may not have.
	ErrBadPeer = errors.New("peer identity refused")
)

// txErrorCodes maps admission errors to the stable codes that travel in a
// forward answer, so the follower that took the request can answer its
// client with the right status.
var txErrorCodes = []struct {
	code string
	err  error
}{
	{"malformed", chain.ErrMalformed},
	{"bad_signature", chain.ErrBadSignature},
	{"bad_nonce", chain.ErrBadNonce},
	{"insufficient_funds", chain.ErrInsufficientFunds},
	{"fee_too_low", chain.ErrFeeTooLow},
	{"overflow", chain.ErrOverflow},
	{"duplicate", mempool.ErrDuplicate},
	{"mempool_full", mempool.ErrFull},
	{"not_leader", consensus.ErrNotLeader},
	{"no_quorum", consensus.ErrNoQuorum},
}

// txError is an admission error on the wire.
type txError struct {
	Code  string `json:"code,omitempty"`
	Field string `json:"field,omitempty"`
	Msg   string `json:"msg,omitempty"`
}

func encodeTxError(err error) txError {
	if err == nil {
		return txError{}
	}
	out := txError{Code: "internal", Msg: err.Error()}
	for _, c := range txErrorCodes {
		if errors.Is(err, c.err) {
			out.Code = c.code
			break
		}
	}
	var fe *chain.FieldError
	if errors.As(err, &fe) {
		out.Field, out.Msg = fe.Field, fe.Msg
	}
	return out
}

func decodeTxError(e txError) error {
	if e.Code == "" {
		return nil
	}
	sentinel := errors.New("internal error on the leader")
	for _, c := range txErrorCodes {
		if c.code == e.Code {
			sentinel = c.err
			break
		}
	}
	if e.Field != "" {
		return &chain.FieldError{Field: e.Field, Msg: e.Msg, Err: sentinel}
	}
	return fmt.Errorf("%w: %s", sentinel, e.Msg)
}

func errorf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrBadPeer}, args...)...)
}
