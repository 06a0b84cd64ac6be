package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chainotel/chainotel/node/chain"
)

func openTemp(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(dir, nil)
	require.NoError(t, err)
	return s
}

func devStore(t *testing.T) (*Store, *chain.Genesis, string) {
	t.Helper()
	dir := t.TempDir()
	s := openTemp(t, dir)
	t.Cleanup(func() { _ = s.Close() })
	g := chain.DevGenesis([]string{"node0"}, time.Unix(1_700_000_000, 0))
	require.NoError(t, s.InitGenesis(g))
	return s, g, dir
}

// nextBlock builds a valid block on the store's head, as the leader would.
func nextBlock(t *testing.T, s *Store, g *chain.Genesis, txs ...chain.Tx) *chain.Block {
	t.Helper()
	head, hash := s.Head()
	b, rejected, err := chain.BuildBlock(&g.Consensus, s, head, hash, txs, "node0", time.Now())
	require.NoError(t, err)
	require.Empty(t, rejected)
	return b
}

func transfer(amount uint64) chain.Tx {
	return chain.Tx{From: "0xabc", To: "0xdef", Amount: amount}
}

func TestApplyBlockWritesEverything(t *testing.T) {
	s, g, _ := devStore(t)
	ctx := context.Background()
	b := nextBlock(t, s, g, transfer(10), transfer(5))
	ok, err := s.ApplyBlock(ctx, b, &g.Consensus, 3)
	require.NoError(t, err)
	require.True(t, ok)

	head, hash := s.Head()
	require.Equal(t, uint64(1), head.Height)
	require.Equal(t, b.Hash(), hash)
	require.Equal(t, uint64(3), s.AppliedIndex())

	abc, err := s.Account("0xabc")
	require.NoError(t, err)
	require.Equal(t, chain.Account{Balance: chain.DevBalance - 15, Nonce: 2}, abc)

	byHash, err := s.BlockByHash(hash)
	require.NoError(t, err)
	require.Equal(t, b.Header, byHash.Header)
	tx, loc, err := s.Tx(b.Txs[1].Hash())
	require.NoError(t, err)
	require.Equal(t, uint64(5), tx.Amount)
	require.Equal(t, TxLocation{Height: 1, Index: 1, Nonce: 1}, loc)

	// Exactly once: the same raft index again changes nothing.
	ok, err = s.ApplyBlock(ctx, b, &g.Consensus, 3)
	require.NoError(t, err)
	require.False(t, ok)
	abc2, _ := s.Account("0xabc")
	require.Equal(t, abc, abc2)
}

func TestApplyBlockIsAtomic(t *testing.T) {
	s, g, _ := devStore(t)
	ctx := context.Background()
	b := nextBlock(t, s, g, transfer(1), transfer(2), transfer(3))
	injected := errors.New("disk on fire")
	s.beforeTxWrite = func(i int) error {
		if i == 2 {
			return injected
		}
		return nil
	}
	_, err := s.ApplyBlock(ctx, b, &g.Consensus, 7)
	require.ErrorIs(t, err, injected)

	head, _ := s.Head()
	require.Equal(t, uint64(0), head.Height, "head unchanged")
	require.Equal(t, uint64(0), s.AppliedIndex(), "applied index unchanged")
	abc, err := s.Account("0xabc")
	require.NoError(t, err)
	require.Equal(t, chain.Account{Balance: chain.DevBalance}, abc, "no tx of the block applied")
	def, _ := s.Account("0xdef")
	require.Equal(t, chain.DevBalance, def.Balance)
	_, err = s.BlockByHeight(1)
	require.ErrorIs(t, err, ErrNotFound)
	_, _, err = s.Tx(b.Txs[0].Hash())
	require.ErrorIs(t, err, ErrNotFound)

	// The same block applies cleanly once the fault is gone.
	s.beforeTxWrite = nil
	ok, err := s.ApplyBlock(ctx, b, &g.Consensus, 7)
	require.NoError(t, err)
	require.True(t, ok)
	abc, _ = s.Account("0xabc")
	require.Equal(t, chain.DevBalance-6, abc.Balance)
}

func TestApplyBlockRefusesBadBlocks(t *testing.T) {
	s, g, _ := devStore(t)
	ctx := context.Background()
	good := nextBlock(t, s, g, transfer(1))

	gap := *good
	gap.Header.Height = 2
	_, err := s.ApplyBlock(ctx, &gap, &g.Consensus, 1)
	require.ErrorIs(t, err, chain.ErrInvalidBlock)

	forged := *good
	forged.Txs = []chain.Tx{transfer(1000)}
	_, err = s.ApplyBlock(ctx, &forged, &g.Consensus, 1)
	require.ErrorIs(t, err, chain.ErrInvalidBlock)
	require.ErrorContains(t, err, "tx root")

	badState := *good
	badState.Header.StateRoot = chain.Hash{1}
	_, err = s.ApplyBlock(ctx, &badState, &g.Consensus, 1)
	require.ErrorContains(t, err, "state root")

	head, _ := s.Head()
	require.Equal(t, uint64(0), head.Height)
}

func TestGenesisMismatch(t *testing.T) {
	s, _, _ := devStore(t)
	other := chain.DevGenesis([]string{"node9"}, time.Unix(1_700_000_000, 0))
	require.ErrorIs(t, s.InitGenesis(other), ErrGenesisMismatch)
}

func TestStateSurvivesReopen(t *testing.T) {
	s, g, dir := devStore(t)
	ctx := context.Background()
	b := nextBlock(t, s, g, transfer(10))
	_, err := s.ApplyBlock(ctx, b, &g.Consensus, 4)
	require.NoError(t, err)
	require.NoError(t, s.Close())

	s2 := openTemp(t, dir)
	t.Cleanup(func() { require.NoError(t, s2.Close()) })
	require.NoError(t, s2.InitGenesis(g))
	head, hash := s2.Head()
	require.Equal(t, uint64(1), head.Height)
	require.Equal(t, b.Hash(), hash)
	require.Equal(t, uint64(4), s2.AppliedIndex())
}
