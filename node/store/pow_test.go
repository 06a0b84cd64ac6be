package store

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chainotel/chainotel/node/chain"
)

// TestApplyBranchIsAllOrNothing: a branch whose last block is invalid leaves
// the head, the state, the tx index and the undo records as they were, even
// though it first rolled blocks back.
func TestApplyBranchIsAllOrNothing(t *testing.T) {
	s, g, _ := devStore(t)
	params := &g.Consensus
	tx := func(to string, amount uint64) chain.Tx {
		return chain.Tx{From: "0xabc", To: to, Amount: amount, ID: to}
	}

	b1 := nextBlock(t, s, g, tx("0x1", 5))
	_, err := s.ApplyBranch(t.Context(), params, 0, []*chain.Block{b1}, []uint64{1})
	require.NoError(t, err)
	b2 := nextBlock(t, s, g, tx("0x2", 7))
	_, err = s.ApplyBranch(t.Context(), params, 1, []*chain.Block{b2}, []uint64{2})
	require.NoError(t, err)
	before, err := s.Account("0xabc")
	require.NoError(t, err)
	_, headHash := s.Head()

	// A branch from block 1, built on a second store that holds only block 1:
	// a valid block, then one with a wrong state root.
	fork, _, _ := devStore(t)
	require.NoError(t, fork.InitGenesis(g))
	_, err = fork.ApplyBranch(t.Context(), params, 0, []*chain.Block{b1}, []uint64{1})
	require.NoError(t, err)
	other := nextBlock(t, fork, g, tx("0x3", 9))
	_, err = fork.ApplyBranch(t.Context(), params, 1, []*chain.Block{other}, []uint64{3})
	require.NoError(t, err)
	bad := nextBlock(t, fork, g, tx("0x4", 1))
	bad.Header.StateRoot[0] ^= 1
	_, err = s.ApplyBranch(t.Context(), params, 1, []*chain.Block{other, bad}, []uint64{3, 4})
	require.ErrorIs(t, err, chain.ErrInvalidBlock)

	_, h := s.Head()
	require.Equal(t, headHash, h)
	after, err := s.Account("0xabc")
	require.NoError(t, err)
	require.Equal(t, before, after)
	for _, want := range []struct {
		tx chain.Tx
		in bool
	}{{b2.Txs[0], true}, {other.Txs[0], false}} {
		in, err := s.HasTx(want.tx.Hash())
		require.NoError(t, err)
		require.Equal(t, want.in, in)
	}

	// Checking the valid branch passes and changes nothing either.
	require.NoError(t, s.CheckBranch(t.Context(), params, 1, []*chain.Block{other}))
	require.ErrorIs(t, s.CheckBranch(t.Context(), params, 1, []*chain.Block{other, bad}), chain.ErrInvalidBlock)
	_, h = s.Head()
	require.Equal(t, headHash, h)
	in, err := s.HasTx(other.Txs[0].Hash())
	require.NoError(t, err)
	require.False(t, in)
	_, err = s.PoWBlock(other.Hash())
	require.ErrorIs(t, err, ErrNotFound)

	// The rollback then works for real: block 2 comes off, its tx leaves the index.
	abandoned, err := s.ApplyBranch(t.Context(), params, 1, []*chain.Block{other}, []uint64{3})
	require.NoError(t, err)
	require.Len(t, abandoned, 1)
	require.Equal(t, b2.Hash(), abandoned[0].Hash())
	in, err = s.HasTx(b2.Txs[0].Hash())
	require.NoError(t, err)
	require.False(t, in)
	acct, err := s.Account("0x2")
	require.NoError(t, err)
	require.Equal(t, chain.Account{}, acct, "an account the abandoned block created is gone")
	_, err = s.BlockByHash(b2.Hash())
	require.ErrorIs(t, err, ErrNotFound)
	kept, err := s.PoWBlock(b2.Hash())
	require.NoError(t, err, "the abandoned block is still kept for a later reorg back")
	require.Equal(t, b2.Hash(), kept.Hash())
}
