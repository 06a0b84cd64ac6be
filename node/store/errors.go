package store

import "errors"

// Sentinel errors, matched with errors.Is.
var (
	// ErrNotFound means no block, transaction or snapshot has that key.
	ErrNotFound = errors.New("not found")
	// ErrGenesisMismatch means the data folder belongs to another chain.
	ErrGenesisMismatch = errors.New("data folder holds another genesis")
	// ErrClosed means the store was used after Close.
	ErrClosed = errors.New("store closed")
	// ErrDiskFull means the store refused a write because its filesystem has
	// less free space than the reserve Badger's memory-mapped files need.
	ErrDiskFull = errors.New("disk full")
	// ErrReservedKey means a raw write (Txn.Set, Batch.Set, their Deletes)
	// aimed at one of the store's own key spaces.
	ErrReservedKey = errors.New("key in the store's own key space")
	// ErrTxnTooBig means a transaction outgrew what Badger commits at once.
	ErrTxnTooBig = errors.New("transaction too big")
)

// ErrEngineMismatch means the data folder holds the chain of another
// consensus engine than the one starting on it.
var ErrEngineMismatch = errors.New("data folder belongs to another consensus engine")
