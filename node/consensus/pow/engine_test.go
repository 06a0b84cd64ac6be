package pow

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chainotel/chainotel/node/chain"
	"github.com/chainotel/chainotel/node/store"
)

func transfer(from, to string, amount uint64) chain.Tx {
	return chain.Tx{From: from, To: to, Amount: amount, ID: randomID()}
}

func randomID() string {
	const hex = "0123456789abcdef"
	b := make([]byte, 16)
	for i := range b {
		b[i] = hex[rand.IntN(16)]
	}
	return string(b)
}

// reseal mines h again after a test changed it.
func reseal(t *testing.T, h chain.Header) chain.Header {
	t.Helper()
	out, _, ok := NewMiner(1, 0).Mine(t.Context(), h)
	require.True(t, ok)
	return out
}

func TestEngineFollowsValidBlocksAndRefusesEachKindOfInvalidBlock(t *testing.T) {
	g := testGenesis()
	n := startNode(t, g, openStore(t, g))
	src := newBuilder(t, g)
	good := src.chain(3, time.Second, func(i int) []chain.Tx { return []chain.Tx{transfer("0xabc", "0x1", uint64(i+1))} })
	require.NoError(t, n.receive(t, "peer1", good...))
	_, headHash := n.head()
	require.Equal(t, good[2].Hash(), headHash)
	require.Eventually(t, func() bool { return n.tr.announcedCount() == 3 }, 5*time.Second, time.Millisecond,
		"each block that joined the best chain is relayed to the other peer")

	// The next valid block, and variants of it that each break one rule.
	headHdr := good[2].Header
	next := src.next(time.Second, transfer("0xabc", "0x2", 5))
	variant := func(mut func(b *chain.Block)) *chain.Block {
		b := &chain.Block{Header: next.Header, Txs: append([]chain.Tx(nil), next.Txs...)}
		mut(b)
		return b
	}
	tests := []struct {
		name string
		b    *chain.Block
		want error
	}{
		{"no proof of work", variant(func(b *chain.Block) {
			for MeetsTarget(b.Hash(), b.Header.Difficulty) {
				b.Header.Nonce++
			}
		}), ErrBadProofOfWork},
		{"wrong difficulty", variant(func(b *chain.Block) { b.Header.Difficulty /= 2; b.Header = reseal(t, b.Header) }), ErrBadDifficulty},
		{"time before the parent", variant(func(b *chain.Block) { b.Header.Time = headHdr.Time - 1; b.Header = reseal(t, b.Header) }), ErrBadTime},
		{"time in the future", variant(func(b *chain.Block) {
			b.Header.Time = time.Now().Add(time.Hour).UnixNano()
			b.Header = reseal(t, b.Header)
		}), ErrFutureBlock},
		{"wrong chain", variant(func(b *chain.Block) { b.Header.ChainID = "other"; b.Header = reseal(t, b.Header) }), ErrWrongChain},
		{"tx not in the tx root", variant(func(b *chain.Block) { b.Txs[0].Amount++ }), ErrBadTxs},
		{"wrong state root", variant(func(b *chain.Block) { b.Header.StateRoot[0] ^= 1; b.Header = reseal(t, b.Header) }), chain.ErrInvalidBlock},
		{"tx the state cannot pay", variant(func(b *chain.Block) {
			b.Txs = []chain.Tx{transfer("0x5eed", "0x2", 5)} // 0x5eed holds nothing
			b.Header.TxRoot = chain.TxRoot(b.Txs)
			b.Header = reseal(t, b.Header)
		}), chain.ErrInsufficientFunds},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := n.e.Receive(t.Context(), "bad-"+tt.name, tt.b)
			require.ErrorIs(t, err, tt.want)
			require.ErrorIs(t, err, chain.ErrInvalidBlock)
			_, h := n.head()
			require.Equal(t, good[2].Hash(), h, "an invalid block changes nothing")
		})
	}
	require.NoError(t, n.receive(t, "peer1", next))
	_, h := n.head()
	require.Equal(t, next.Hash(), h, "the valid block still goes in after its invalid variants")
}

func TestPeerIsBannedAfterRepeatedInvalidBlocks(t *testing.T) {
	g := testGenesis()
	n := startNode(t, g, openStore(t, g))
	src := newBuilder(t, g)
	b := src.next(time.Second)
	bad := &chain.Block{Header: b.Header}
	bad.Header.Difficulty++
	bad.Header = reseal(t, bad.Header)
	for range 3 {
		require.ErrorIs(t, n.e.Receive(t.Context(), "peer9", bad), ErrBadDifficulty)
	}
	require.ErrorIs(t, n.e.Receive(t.Context(), "peer9", b), ErrPeerBanned, "a banned peer's blocks are ignored, even valid ones")
	require.Contains(t, n.e.Status().PoW.Banned, "peer9")
	require.NoError(t, n.receive(t, "peer1", b), "other peers are unaffected")
}

func TestReorgOntoAHeavierBranchEqualsReplayingItFromGenesis(t *testing.T) {
	g := testGenesis()
	n := startNode(t, g, openStore(t, g))

	a := newBuilder(t, g)
	shared := a.next(time.Second, transfer("0xabc", "0xa1", 1))
	aOnly := a.chain(3, time.Second, func(i int) []chain.Tx {
		return []chain.Tx{transfer("0xabc", "0xa2", uint64(10+i)), transfer("0xb0b", "0xabc", 7)}
	})
	b := newBuilder(t, g)
	b.adopt([]*chain.Block{shared})
	bOnly := b.chain(4, time.Second, func(i int) []chain.Tx {
		txs := []chain.Tx{transfer("0xdef", "0xb1", uint64(20+i))}
		if i == 1 {
			txs = append(txs, aOnly[0].Txs[1]) // a transaction both branches hold
		}
		return txs
	})
	require.Greater(t, b.work(), a.work())

	require.NoError(t, n.receive(t, "peer1", shared))
	require.NoError(t, n.receive(t, "peer1", aOnly...))
	_, h := n.head()
	require.Equal(t, aOnly[2].Hash(), h)
	require.NoError(t, n.receive(t, "peer2", bOnly...))
	head, h := n.head()
	require.Equal(t, bOnly[3].Hash(), h, "the heavier branch wins")
	st := n.e.Status().PoW
	require.Equal(t, uint64(1), st.Reorgs)
	require.Equal(t, b.work(), st.TotalWork)

	// Replaying the winning branch from genesis gives the same state.
	replay := openStore(t, g)
	_, err := blockStore{replay}.applyBranch(t.Context(), &g.Consensus, 0, b.blocks, b.works[1:])
	require.NoError(t, err)
	replayHead, _ := replay.Head()
	require.Equal(t, replayHead.StateRoot, head.StateRoot)
	for _, addr := range []string{"0xabc", "0xdef", "0xb0b", "0xa11ce", "0xa1", "0xa2", "0xb1"} {
		want, err := replay.Account(addr)
		require.NoError(t, err)
		got, err := n.s.Account(addr)
		require.NoError(t, err)
		require.Equal(t, want, got, addr)
	}
	for height, blk := range b.blocks {
		got, err := n.s.BlockByHeight(uint64(height + 1))
		require.NoError(t, err)
		require.Equal(t, blk.Hash(), got.Hash())
		for i := range blk.Txs {
			in, err := n.s.HasTx(blk.Txs[i].Hash())
			require.NoError(t, err)
			require.True(t, in)
		}
	}
	// The abandoned blocks' transactions that the new branch lacks are back
	// in the mempool, and out of the committed index.
	abandoned := 0
	for _, blk := range aOnly {
		for i := range blk.Txs {
			if blk.Txs[i].Hash() == aOnly[0].Txs[1].Hash() {
				continue
			}
			abandoned++
			in, err := n.s.HasTx(blk.Txs[i].Hash())
			require.NoError(t, err)
			require.False(t, in)
		}
	}
	require.Equal(t, abandoned, n.pool.Len())
}

func TestForkChoiceKeepsTheFirstOfEqualBranchesAndSwitchesOnMoreWork(t *testing.T) {
	g := testGenesis()
	n := startNode(t, g, openStore(t, g))
	a, b := newBuilder(t, g), newBuilder(t, g)
	aBlocks := a.chain(2, time.Second, nil)
	bBlocks := b.chain(2, 1100*time.Millisecond, nil)
	require.Equal(t, a.work(), b.work())
	require.NoError(t, n.receive(t, "peer1", aBlocks...))
	require.NoError(t, n.receive(t, "peer2", bBlocks...))
	_, h := n.head()
	require.Equal(t, aBlocks[1].Hash(), h, "a tie keeps the branch seen first")
	require.NotNil(t, n.e.tree.get(bBlocks[1].Hash()), "the lighter branch is kept")

	// A side-branch block is checked against its own branch's state before
	// it is kept: a wrong state root is refused even though it cannot win.
	c := newBuilder(t, g)
	c.adopt(bBlocks[:1])
	bad := c.next(1300*time.Millisecond, transfer("0xdef", "0xc", 1))
	bad.Header.StateRoot[0] ^= 1
	bad.Header = reseal(t, bad.Header)
	require.ErrorIs(t, n.e.Receive(t.Context(), "peer3", bad), chain.ErrInvalidBlock)
	require.Nil(t, n.e.tree.get(bad.Hash()), "an invalid side block is not kept")
	_, err := blockStore{n.s}.block(bad.Hash())
	require.ErrorIs(t, err, store.ErrNotFound)

	more := b.next(time.Second)
	require.NoError(t, n.receive(t, "peer2", more))
	_, h = n.head()
	require.Equal(t, more.Hash(), h)
}

func TestOrphanStartsARangeSyncThatFindsTheForkPoint(t *testing.T) {
	g := testGenesis()
	n := startNode(t, g, openStore(t, g))
	own := newBuilder(t, g)
	require.NoError(t, n.receive(t, "peer2", own.chain(3, 1500*time.Millisecond, nil)...))

	peer := newBuilder(t, g)
	blocks := peer.chain(150, time.Second, func(i int) []chain.Tx {
		return []chain.Tx{transfer("0xa11ce", "0xc1", uint64(i+1))}
	})
	n.tr.mu.Lock()
	n.tr.source = peer.s
	n.tr.mu.Unlock()
	// Only the tip is gossiped: its parent is unknown, so the node fetches
	// the peer's chain in ranges, stepping back to the common genesis.
	require.NoError(t, n.e.Receive(t.Context(), "peer1", blocks[149]))
	require.Eventually(t, func() bool {
		_, h := n.head()
		return h == blocks[149].Hash()
	}, 20*time.Second, 10*time.Millisecond)
	require.Equal(t, uint64(1), n.e.Status().PoW.Reorgs)
}

func TestRestartReloadsTheBlockTreeFromDisk(t *testing.T) {
	g := testGenesis()
	dir := t.TempDir()
	s, err := store.Open(dir, nil)
	require.NoError(t, err)
	require.NoError(t, s.InitGenesis(g))
	a, b := newBuilder(t, g), newBuilder(t, g)
	aBlocks := a.chain(3, time.Second, nil)
	bBlocks := b.chain(4, 1200*time.Millisecond, nil)

	run := func(s *store.Store, blocks ...*chain.Block) *Engine {
		cfg := DefaultConfig()
		cfg.NodeID, cfg.Genesis, cfg.Store, cfg.Transport, cfg.Disabled = "node0", g, s, &testTransport{}, true
		cfg.Pool = startNode(t, g, openStore(t, g)).pool // any pool will do
		e, err := New(cfg)
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- e.Run(ctx) }()
		require.Eventually(t, e.running.Load, 5*time.Second, time.Millisecond)
		for _, blk := range blocks {
			require.NoError(t, e.Receive(t.Context(), "peer1", blk))
		}
		cancel()
		require.NoError(t, <-done)
		return e
	}
	run(s, append(aBlocks, bBlocks[:2]...)...) // b's first two blocks are a lighter side branch
	require.NoError(t, s.Close())

	s, err = store.Open(dir, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	e := run(s) // nothing new: the tree comes from disk
	require.Equal(t, aBlocks[2].Hash(), e.Status().PoW.Hash)
	require.NotNil(t, e.tree.get(bBlocks[1].Hash()), "side branch reloaded")
	run(s, bBlocks[2:]...) // the side branch grows heavier: a reorg that needs its bodies from disk
	_, h := s.Head()
	require.Equal(t, bBlocks[3].Hash(), h)
}
