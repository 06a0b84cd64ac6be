package node

import (
	"context"
	"errors"
	"fmt"

	"go.opentelemetry.io/otel/trace"

	"github.com/chainotel/chainotel/node/chain"
	"github.com/chainotel/chainotel/node/consensus/pow"
	"github.com/chainotel/chainotel/node/p2p"
)

// errNotRaft answers raft traffic sent to a proof-of-work node.
var errNotRaft = errors.New("this node runs proof of work, not raft")

// newPoW makes the proof-of-work engine (--consensus=pow), which needs a
// genesis with a pow section.
func (n *Node) newPoW(g *chain.Genesis, tracer trace.Tracer) error {
	if g.PoW == nil {
		return fmt.Errorf("--consensus=pow: %s has no pow section; `blockchain init --force` (make init) writes a genesis with one, for both engines", n.cfg.GenesisPath)
	}
	pc := pow.DefaultConfig()
	pc.NodeID, pc.Genesis, pc.Store, pc.Pool, pc.Transport = n.cfg.NodeID, g, n.store, n.pool, n.peers
	pc.Logger, pc.Tracer, pc.Registerer, pc.Go = n.log, tracer, n.cfg.Registerer, n.cfg.Go
	pc.OnApplied = func(b *chain.Block) { n.api.OnApplied(b) }
	if n.cfg.PoWThreads > 0 {
		pc.Threads = n.cfg.PoWThreads
	}
	pc.MaxHashRate = n.cfg.PoWMaxHashRate
	e, err := pow.New(pc)
	if err != nil {
		return err
	}
	n.pow, n.engine = e, e
	return nil
}

var _ p2p.BlockHandler = peerHandler{}

// HandleBlock takes a block a peer gossiped (proof of work only).
func (h peerHandler) HandleBlock(ctx context.Context, from string, b *chain.Block) error {
	if h.n.pow == nil {
		return fmt.Errorf("this node runs raft and takes no gossiped blocks")
	}
	return h.n.pow.Receive(ctx, from, b)
}
