package raft

import (
	"context"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/chainotel/chainotel/node/chain"
	"github.com/chainotel/chainotel/node/mempool"
)

// The engine meets the rest of the node at three small seams besides its
// Transport, in the manner of hashicorp/raft's FSM and LogStore: the chain
// it applies committed blocks to, the log it persists raft's state in, and
// the queue it takes transactions from. The node wires node/store,
// node/consensus/raft/raftlog and node/mempool into them; the engine's unit
// tests wire in-memory doubles.

// StateMachine is the chain raft applies committed blocks to (node/store).
//
// A raft snapshot holds no state, only a pointer to it: the height and hash
// of Head when it was taken. Restoring one means bringing the chain up to
// that block (ApplyBlock with index 0 for each block fetched from a peer),
// then recording the snapshot's index as applied (SetAppliedIndex).
//
// ApplyBlock and SetAppliedIndex are called from the engine's Ready loop
// only, one at a time and in log order. The readers (Head, AppliedIndex,
// BlockByHeight, Account, HasTx) may be called from any goroutine while an
// apply runs, and see each block applied whole or not at all.
type StateMachine interface {
	// Account and HasTx: block building and admission check transactions
	// against the applied state.
	mempool.State
	// ApplyBlock applies a committed block carried by raft entry index,
	// recording index as applied in the same atomic write. It applies
	// nothing and returns false when index is at or below the applied index
	// or the block's height was already applied, and an error wrapping
	// chain.ErrInvalidBlock when the block does not follow the head or fails
	// its checks. index 0 means the block comes from a sync and leaves the
	// applied index as it is.
	ApplyBlock(ctx context.Context, b *chain.Block, params *chain.Params, index uint64) (bool, error)
	// SetAppliedIndex records that entries up to i needed nothing applied
	// (empty entries, configuration changes, a refused block) or are covered
	// by a restored snapshot. It never moves the index back.
	SetAppliedIndex(ctx context.Context, i uint64) error
	// AppliedIndex is the raft index the state reflects.
	AppliedIndex() uint64
	// Head is the latest applied block's header and hash.
	Head() (chain.Header, chain.Hash)
	// BlockByHeight reads an applied block.
	BlockByHeight(h uint64) (*chain.Block, error)
}

// LogStorage is raft's log on stable storage: etcd raft reads it through
// raft.Storage, the engine writes it with the rest.
//
// etcd raft calls the raft.Storage methods from its own goroutine, at any
// time. The writers (Save, ApplySnapshot, CreateSnapshot, Compact) and
// IsEmpty are called from one goroutine: Run, before raft starts, then the
// Ready loop. A writer makes its change durable before raft.Storage shows
// it, so raft never acts on state a crash would lose.
type LogStorage interface {
	raft.Storage
	// IsEmpty reports whether nothing was ever stored: no snapshot, hard
	// state or entry, so the node must bootstrap.
	IsEmpty() (bool, error)
	// Save persists what a Ready asks for: the snapshot, then the entries
	// (dropping any stored entries past the last of them), then the hard
	// state. It syncs to disk when mustSync (Ready.MustSync) or a snapshot
	// is saved.
	Save(hs raftpb.HardState, ents []raftpb.Entry, snap raftpb.Snapshot, mustSync bool) error
	// ApplySnapshot persists a snapshot and replaces the log with it.
	ApplySnapshot(snap raftpb.Snapshot) error
	// CreateSnapshot records and persists a snapshot at applied index i.
	CreateSnapshot(i uint64, cs *raftpb.ConfState, data []byte) (raftpb.Snapshot, error)
	// Compact discards the entries before i; compacting to where the log
	// already starts, or before it, does nothing.
	Compact(i uint64) error
}

// TxSource is the queue of admitted transactions the leader cuts blocks
// from (node/mempool). Its methods are safe for concurrent use: the forward
// workers admit, the proposer takes and releases, the Ready loop settles.
type TxSource interface {
	// Add admits a transaction after checking it against state plus what is
	// pending, under a span in ctx's trace; AddUntraced does without one.
	// A transaction already pending or committed is mempool.ErrDuplicate.
	Add(ctx context.Context, tx chain.Tx, h chain.Hash, state mempool.State, params *chain.Params) error
	AddUntraced(tx chain.Tx, h chain.Hash, state mempool.State, params *chain.Params) error
	// Ready is signalled when a transaction joins the queue.
	Ready() <-chan struct{}
	// Queued is how many transactions wait and how long the oldest waited.
	Queued() (int, time.Duration)
	// Take removes transactions from the front of the queue for a block;
	// they stay pending until Settle or Release.
	Take(maxTxs, maxBytes int) []chain.Tx
	// Settle runs apply (which applies a block holding txs) and forgets
	// txs, atomically with respect to admissions.
	Settle(txs []chain.Tx, apply func() error) error
	// Release forgets taken transactions that will not be applied.
	Release(txs []chain.Tx)
	// Drain empties the queue and returns what it held.
	Drain() []chain.Tx
}
