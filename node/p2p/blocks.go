package p2p

import (
	"context"
	"fmt"
	"slices"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/chainotel/chainotel/node/chain"
	"github.com/chainotel/chainotel/node/pki"
)

// BlockHandler serves block gossip (proof of work). A Handler that is not
// also a BlockHandler answers Block calls with Unimplemented (raft nodes).
type BlockHandler interface {
	// HandleBlock is a block announced by node from (its certificate's id).
	HandleBlock(ctx context.Context, from string, b *chain.Block) error
}

func (s *service) block(ctx context.Context, in *chain.Block) (*empty, error) {
	bh, ok := s.h.(BlockHandler)
	if !ok {
		return nil, status.Error(codes.Unimplemented, "this node does not take gossiped blocks (it runs raft)")
	}
	from, err := callerID(ctx)
	if err != nil {
		return nil, status.Error(codes.PermissionDenied, err.Error())
	}
	if err := bh.HandleBlock(ctx, from, in); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	return &empty{}, nil
}

// callerID is the node id in the caller's certificate (the authorizer has
// checked it already).
func callerID(ctx context.Context) (string, error) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return "", errorf("no peer information")
	}
	ti, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok {
		return "", errorf("not a TLS connection")
	}
	return pki.PeerNodeID(ti.State)
}

// Announce gossips block b to node to.
func (p *Peers) Announce(ctx context.Context, to string, b *chain.Block) error {
	r, err := p.peer(to)
	if err != nil {
		return err
	}
	if err := r.conn.Invoke(ctx, "/"+ServiceName+"/Block", b, &empty{}); err != nil {
		return fmt.Errorf("announce block %d to %s: %w", b.Header.Height, to, err)
	}
	return nil
}

// Known lists the node ids of the peers that have introduced themselves.
func (p *Peers) Known() []string {
	p.mu.RLock()
	defer p.mu.RUnlock()
	out := make([]string, 0, len(p.byID))
	for id := range p.byID {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}
