package node

import (
	"github.com/chainotel/chainotel/node/consensus/raft"
	"github.com/chainotel/chainotel/node/mempool"
	"github.com/chainotel/chainotel/node/store"
)

// The real stages behind the raft engine's seams (raftlog.Log checks its own).
var (
	_ raft.StateMachine = (*store.Store)(nil)
	_ raft.TxSource     = (*mempool.Pool)(nil)
)
