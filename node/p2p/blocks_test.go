package p2p

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/chainotel/chainotel/internal/testproc"
	"github.com/chainotel/chainotel/node/chain"
	"github.com/chainotel/chainotel/node/pki"
)

// gossipHandler is a test double of a proof-of-work node: it records the
// blocks announced to it and who sent them, and refuses height 13.
type gossipHandler struct {
	recordingHandler
	mu   sync.Mutex
	from []string
	got  []chain.Hash
}

var _ BlockHandler = (*gossipHandler)(nil)

func (h *gossipHandler) HandleBlock(_ context.Context, from string, b *chain.Block) error {
	if b.Header.Height == 13 {
		return errors.New("block 13 is invalid")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.from, h.got = append(h.from, from), append(h.got, b.Hash())
	return nil
}

// peersTo starts node1's client side against addr and waits for node0 to
// answer its probes.
func peersTo(t *testing.T, certs, addr string) *Peers {
	t.Helper()
	b, err := pki.LoadNode(certs, "node1")
	require.NoError(t, err)
	p, err := NewPeers(ClientConfig{NodeID: "node1", Genesis: testGenesis, TLS: b, Addrs: []string{addr},
		Logger: slog.New(slog.DiscardHandler), Tracer: noop.NewTracerProvider().Tracer(""), TracerProvider: noop.NewTracerProvider(),
		Hello: func() Hello { return Hello{NodeID: "node1", GenesisHash: testGenesis.Hash()} }})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done; p.Close() })
	testproc.WaitFor(t, 10*time.Second, "node0 to answer probes", func() error {
		if p.PeersUp() != 1 {
			return fmt.Errorf("peers up: %d", p.PeersUp())
		}
		return nil
	})
	return p
}

func TestBlockGossipCarriesTheSendersCertifiedID(t *testing.T) {
	f := setup(t) // for its certificates
	b, err := pki.LoadNode(f.certs, "node0")
	require.NoError(t, err)
	h := &gossipHandler{}
	srv := NewServer(ServerConfig{NodeID: "node0", Genesis: testGenesis, TLS: b, Handler: h,
		Logger: slog.New(slog.DiscardHandler), TracerProvider: noop.NewTracerProvider()})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)

	p := peersTo(t, f.certs, lis.Addr().String())
	require.Equal(t, []string{"node0"}, p.Known())
	blk := &chain.Block{Header: chain.Header{ChainID: "c", Height: 12, Difficulty: 5, Nonce: 77}}
	require.NoError(t, p.Announce(t.Context(), "node0", blk))
	h.mu.Lock()
	require.Equal(t, []string{"node1"}, h.from, "the handler learns the sender from its certificate")
	require.Equal(t, []chain.Hash{blk.Hash()}, h.got, "the block arrives whole, seal included")
	h.mu.Unlock()

	err = p.Announce(t.Context(), "node0", &chain.Block{Header: chain.Header{Height: 13}})
	require.Equal(t, codes.InvalidArgument, status.Code(errors.Unwrap(err)), "%v", err)
	require.ErrorContains(t, err, "block 13 is invalid")
	require.ErrorIs(t, p.Announce(t.Context(), "node2", blk), ErrUnknownPeer)
}

func TestRaftNodeAnswersBlockGossipUnimplemented(t *testing.T) {
	f := setup(t) // recordingHandler is not a BlockHandler
	p := peersTo(t, f.certs, f.addr)
	err := p.Announce(t.Context(), "node0", &chain.Block{})
	require.Equal(t, codes.Unimplemented, status.Code(errors.Unwrap(err)), "%v", err)
}
