package pow

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chainotel/chainotel/node/chain"
	"github.com/chainotel/chainotel/node/store"
)

// TestApplyBranchIsAllOrNothing: a branch whose last block is invalid leaves
// the head, the state, the tx index and the undo records as they were, even
// though it first rolled blocks back.
func TestApplyBranchIsAllOrNothing(t *testing.T) {
	g := chain.DevGenesis([]string{"node0"}, time.Unix(1_700_000_000, 0))
	s := openStore(t, g)
	bs := blockStore{s}
	params := &g.Consensus
	tx := func(to string, amount uint64) chain.Tx {
		return chain.Tx{From: "0xabc", To: to, Amount: amount, ID: to}
	}

	b1 := nextBlock(t, s, g, tx("0x1", 5))
	_, err := bs.applyBranch(t.Context(), params, 0, []*chain.Block{b1}, []uint64{1})
	require.NoError(t, err)
	b2 := nextBlock(t, s, g, tx("0x2", 7))
	_, err = bs.applyBranch(t.Context(), params, 1, []*chain.Block{b2}, []uint64{2})
	require.NoError(t, err)
	before, err := s.Account("0xabc")
	require.NoError(t, err)
	_, headHash := s.Head()

	// A branch from block 1, built on a second store that holds only block 1:
	// a valid block, then one with a wrong state root.
	fork := openStore(t, g)
	fbs := blockStore{fork}
	_, err = fbs.applyBranch(t.Context(), params, 0, []*chain.Block{b1}, []uint64{1})
	require.NoError(t, err)
	other := nextBlock(t, fork, g, tx("0x3", 9))
	_, err = fbs.applyBranch(t.Context(), params, 1, []*chain.Block{other}, []uint64{3})
	require.NoError(t, err)
	bad := nextBlock(t, fork, g, tx("0x4", 1))
	bad.Header.StateRoot[0] ^= 1
	_, err = bs.applyBranch(t.Context(), params, 1, []*chain.Block{other, bad}, []uint64{3, 4})
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
	require.NoError(t, bs.checkBranch(t.Context(), params, 1, []*chain.Block{other}))
	require.ErrorIs(t, bs.checkBranch(t.Context(), params, 1, []*chain.Block{other, bad}), chain.ErrInvalidBlock)
	_, h = s.Head()
	require.Equal(t, headHash, h)
	in, err := s.HasTx(other.Txs[0].Hash())
	require.NoError(t, err)
	require.False(t, in)
	_, err = bs.block(other.Hash())
	require.ErrorIs(t, err, store.ErrNotFound)

	// The rollback then works for real: block 2 comes off, its tx leaves the index.
	abandoned, err := bs.applyBranch(t.Context(), params, 1, []*chain.Block{other}, []uint64{3})
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
	require.ErrorIs(t, err, store.ErrNotFound)
	kept, err := bs.block(b2.Hash())
	require.NoError(t, err, "the abandoned block is still kept for a later reorg back")
	require.Equal(t, b2.Hash(), kept.Hash())
}

// nextBlock builds a valid block on the store's head, as a miner would
// (without the proof of work, which the storage does not check).
func nextBlock(t *testing.T, s *store.Store, g *chain.Genesis, txs ...chain.Tx) *chain.Block {
	t.Helper()
	head, hash := s.Head()
	b, rejected, err := chain.BuildBlock(&g.Consensus, s, head, hash, txs, "node0", time.Now())
	require.NoError(t, err)
	require.Empty(t, rejected)
	return b
}

// TestUndoRecordFormat pins the undo record's bytes, which data folders on
// disk hold.
func TestUndoRecordFormat(t *testing.T) {
	entries := []store.AccountBefore{
		{Addr: "0xa", Existed: true, Account: chain.Account{Balance: 300, Nonce: 1}},
		{Addr: "b"},
	}
	raw := encodeUndo(entries)
	require.Equal(t, []byte{2, 3, '0', 'x', 'a', 1, 0xac, 0x02, 1, 0, 1, 'b', 0, 0, 0, 0}, raw)
	back, err := decodeUndo(raw)
	require.NoError(t, err)
	require.Equal(t, entries, back)
	_, err = decodeUndo(raw[:len(raw)-1])
	require.ErrorIs(t, err, chain.ErrCorrupt)
}
