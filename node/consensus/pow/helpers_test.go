package pow

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/chainotel/chainotel/node/chain"
	"github.com/chainotel/chainotel/node/mempool"
	"github.com/chainotel/chainotel/node/store"
)

// testGenesis is a PoW dev genesis with a difficulty a test mines at once.
func testGenesis() *chain.Genesis {
	g := chain.DevGenesis([]string{"node0", "node1"}, time.Now().Add(-time.Hour))
	g.PoW = testParams()
	return g
}

func openStore(t *testing.T, g *chain.Genesis) *store.Store {
	t.Helper()
	s, err := store.Open(t.TempDir(), nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	require.NoError(t, s.InitGenesis(g))
	return s
}

// builder makes valid PoW chains in a store of its own, as another miner
// would: each block on its head, with the right difficulty, mined.
type builder struct {
	t       *testing.T
	g       *chain.Genesis
	s       *store.Store
	headers []chain.Header // best chain by height
	works   []uint64
	blocks  []*chain.Block // blocks[i] is at height i+1
}

func newBuilder(t *testing.T, g *chain.Genesis) *builder {
	s := openStore(t, g)
	gb, err := s.BlockByHeight(0)
	require.NoError(t, err)
	return &builder{t: t, g: g, s: s, headers: []chain.Header{gb.Header}, works: []uint64{0}}
}

// adopt applies another builder's blocks, so this one forks from them.
func (b *builder) adopt(blocks []*chain.Block) {
	for _, blk := range blocks {
		head := b.headers[len(b.headers)-1]
		work := b.works[len(b.works)-1] + blk.Header.Difficulty
		_, err := blockStore{b.s}.applyBranch(b.t.Context(), &b.g.Consensus, head.Height, []*chain.Block{blk}, []uint64{work})
		require.NoError(b.t, err)
		b.headers, b.works, b.blocks = append(b.headers, blk.Header), append(b.works, work), append(b.blocks, blk)
	}
}

// next mines the block after the head with txs, spaced by spacing from it.
func (b *builder) next(spacing time.Duration, txs ...chain.Tx) *chain.Block {
	b.t.Helper()
	head := b.headers[len(b.headers)-1]
	d, err := NextDifficulty(b.g.PoW, head, func(h uint64) (chain.Header, error) { return b.headers[h], nil })
	require.NoError(b.t, err)
	blk, _, rejected, err := chain.BuildBlockChanges(&b.g.Consensus, b.s, head, head.Hash(), txs, "builder", time.Now())
	require.NoError(b.t, err)
	require.Empty(b.t, rejected)
	blk.Header.Difficulty, blk.Header.Time = d, head.Time+int64(spacing)
	sealed, _, ok := NewMiner(1, 0).Mine(b.t.Context(), blk.Header)
	require.True(b.t, ok)
	blk.Header = sealed
	b.adopt([]*chain.Block{blk})
	return blk
}

func (b *builder) chain(n int, spacing time.Duration, txs func(i int) []chain.Tx) []*chain.Block {
	out := make([]*chain.Block, n)
	for i := range out {
		var t []chain.Tx
		if txs != nil {
			t = txs(i)
		}
		out[i] = b.next(spacing, t...)
	}
	return out
}

func (b *builder) work() uint64 { return b.works[len(b.works)-1] }

// testTransport is a test double of Transport: it records announcements
// and serves fetches from a builder's store, standing in for a peer (the
// real transport runs in the cluster test).
type testTransport struct {
	mu        sync.Mutex
	announced []chain.Hash
	source    *store.Store
}

var _ Transport = (*testTransport)(nil)

func (tr *testTransport) Announce(_ context.Context, _ string, b *chain.Block) error {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.announced = append(tr.announced, b.Hash())
	return nil
}

func (tr *testTransport) announcedCount() int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return len(tr.announced)
}

func (tr *testTransport) Forward(context.Context, string, []chain.Tx) ([]error, error) {
	return nil, nil
}

func (tr *testTransport) FetchBlocks(_ context.Context, _ string, from, to uint64) ([]*chain.Block, error) {
	tr.mu.Lock()
	src := tr.source
	tr.mu.Unlock()
	if src == nil {
		return nil, fmt.Errorf("no source")
	}
	head, _ := src.Head()
	if from > head.Height {
		return nil, fmt.Errorf("fetch from %d: head is %d", from, head.Height)
	}
	return src.Blocks(from, min(to, head.Height), 1<<20)
}

func (tr *testTransport) Known() []string { return []string{"peer1", "peer2"} }
func (tr *testTransport) PeersUp() int    { return 1 }

// testNode is an engine on a real store and mempool that does not mine,
// so blocks reach it only as a test sends them.
type testNode struct {
	e    *Engine
	s    *store.Store
	pool *mempool.Pool
	tr   *testTransport
}

func startNode(t *testing.T, g *chain.Genesis, s *store.Store) *testNode {
	t.Helper()
	n := &testNode{s: s, pool: mempool.New(1000, noop.NewTracerProvider().Tracer("")), tr: &testTransport{}}
	cfg := DefaultConfig()
	cfg.NodeID, cfg.Genesis, cfg.Store, cfg.Pool, cfg.Transport = "node0", g, s, n.pool, n.tr
	cfg.Disabled, cfg.BanAfter = true, 3
	e, err := New(cfg)
	require.NoError(t, err)
	n.e = e
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	require.Eventually(t, e.running.Load, 5*time.Second, time.Millisecond)
	return n
}

func (n *testNode) receive(t *testing.T, from string, blocks ...*chain.Block) error {
	t.Helper()
	for _, b := range blocks {
		if err := n.e.Receive(t.Context(), from, b); err != nil {
			return err
		}
	}
	return nil
}

func (n *testNode) head() (chain.Header, chain.Hash) { return n.s.Head() }
