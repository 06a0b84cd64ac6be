// Package consensus is the seam between the node and the protocol that orders
// its transactions into blocks: Raft (node/consensus/raft) or proof of work
// (node/consensus/pow), chosen by --consensus, with the same API, mempool and
// store in front of either.
package consensus

import (
	"context"
	"errors"

	"github.com/chainotel/chainotel/node/chain"
)

// Sentinel errors, matched with errors.Is.
var (
	// ErrNoQuorum means no leader was reachable, or nothing committed, within
	// the caller's deadline (503).
	ErrNoQuorum = errors.New("no quorum")
	// ErrNotLeader means a transaction was sent to a node that does not lead.
	ErrNotLeader = errors.New("not the leader")
	// ErrUnsupported means the engine named in the configuration does not exist yet.
	ErrUnsupported = errors.New("consensus engine not supported")
)

// Engine orders transactions into blocks that every node applies.
//
// Submit and Status may be called from any goroutine while Run runs.
type Engine interface {
	// Run drives the engine until ctx ends; it returns nil then, or the
	// error that stopped it (a storage failure, say).
	Run(ctx context.Context) error
	// Submit hands transactions whose format was checked to whoever orders
	// them (the raft leader; under proof of work, this node's miner and its
	// peers'). It returns one admission error per transaction,
	// nil for each one admitted; an admitted transaction is later seen in a
	// block passed to the BlockListener. It blocks until the orderer answered
	// or ctx ended (then the errors wrap ErrNoQuorum).
	Submit(ctx context.Context, txs []chain.Tx) []error
	// Status is a snapshot of the engine's view of the cluster.
	Status() Status
}

// LinearReader is implemented by an engine that can order a read after the
// writes committed before it: raft, through ReadIndex. Proof of work has no
// such point (a block may still be reorganised away), so its reads are local.
//
// ReadBarrier may be called from any goroutine while Run runs.
type LinearReader interface {
	// ReadBarrier returns once this node's state reflects every write
	// committed anywhere in the cluster before the call: the leader
	// confirmed it still leads with a quorum and named its commit index,
	// and this node applied that far. A read of the local state after it
	// is linearizable. It fails wrapping ErrNoQuorum when that did not
	// happen before ctx ended (no leader, no quorum, or too far behind).
	ReadBarrier(ctx context.Context) error
}

// BlockListener is told of every block after it was applied to the store,
// in height order, from the engine's apply goroutine: it must not block.
type BlockListener func(b *chain.Block)

// Status is what an engine reports about itself and its cluster.
type Status struct {
	NodeID    string `json:"node_id"`
	Consensus string `json:"consensus"`
	Leader    string `json:"leader"` // node id, "" while there is none
	IsLeader  bool   `json:"is_leader"`
	State     string `json:"state"` // e.g. StateLeader, StateFollower
	Term      uint64 `json:"term"`
	Commit    uint64 `json:"commit_index"`
	Applied   uint64 `json:"applied_index"`
	Members   int    `json:"members"`
	PeersUp   int    `json:"peers_up"` // live members, this node included

	// PoW is the proof-of-work view; nil under raft.
	PoW *PoWStatus `json:"pow,omitempty"`
}

// PoWStatus is what a proof-of-work engine reports about its best chain and
// its miner.
type PoWStatus struct {
	Height     uint64     `json:"height"`
	Hash       chain.Hash `json:"hash"`
	TotalWork  uint64     `json:"total_work"` // sum of the best chain's difficulties
	Difficulty uint64     `json:"difficulty"` // of the block being mined
	HashRate   float64    `json:"hash_rate"`  // header hashes per second, last second
	Reorgs     uint64     `json:"reorgs"`
	Banned     []string   `json:"banned_peers,omitempty"`
}
