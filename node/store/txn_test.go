package store

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chainotel/chainotel/node/chain"
)

// TestTxnRawKeys: a protocol's raw keys round-trip and iterate by prefix in
// key order; the store's own key spaces are refused; a discarded
// transaction leaves nothing.
func TestTxnRawKeys(t *testing.T) {
	s, _, _ := devStore(t)
	require.NoError(t, s.Update(func(txn *Txn) error {
		for _, k := range []string{"x/2", "x/1", "y/1"} {
			if err := txn.Set([]byte(k), []byte("v"+k)); err != nil {
				return err
			}
		}
		return txn.Delete([]byte("y/1"))
	}))
	for _, k := range []string{"m/head", "b/h/x", "t/x", "a/0xabc"} {
		err := s.Update(func(txn *Txn) error { return txn.Set([]byte(k), nil) })
		require.ErrorIs(t, err, ErrReservedKey, k)
		err = s.WriteBatch(func(b *Batch) error { return b.Delete([]byte(k)) })
		require.ErrorIs(t, err, ErrReservedKey, k)
	}
	acct, err := s.Account("0xabc")
	require.NoError(t, err)
	require.Equal(t, chain.DevBalance, acct.Balance)

	txn := s.Begin()
	require.NoError(t, txn.Set([]byte("x/3"), []byte("never")))
	txn.Discard()

	var keys, vals []string
	require.NoError(t, s.View(func(txn *Txn) error {
		if _, err := txn.Get([]byte("y/1")); err != ErrNotFound {
			t.Errorf("deleted key: got %v, want ErrNotFound", err)
		}
		return txn.Iterate([]byte("x/"), func(k, v []byte) error {
			keys, vals = append(keys, string(k)), append(vals, string(v))
			return nil
		})
	}))
	require.Equal(t, []string{"x/1", "x/2"}, keys)
	require.Equal(t, []string{"vx/1", "vx/2"}, vals)
}

// TestUnapplyHeadUndoesApplyBlock: taking a block off with what ApplyBlock
// returned restores the accounts, the indexes and the head, and the store
// publishes the head only when the transaction commits.
func TestUnapplyHeadUndoesApplyBlock(t *testing.T) {
	s, g, _ := devStore(t)
	genesis, genesisHash := s.Head()
	b := nextBlock(t, s, g, transfer(3), chain.Tx{From: "0xabc", To: "0xnew", Amount: 4})

	txn := s.Begin()
	defer txn.Discard()
	before, err := txn.ApplyBlock(&g.Consensus, b)
	require.NoError(t, err)
	require.Len(t, before, 3, "0xabc, 0xdef and 0xnew changed")
	head, hash := txn.Head()
	require.Equal(t, b.Hash(), hash)
	require.Equal(t, uint64(1), head.Height)
	_, published := s.Head()
	require.Equal(t, genesisHash, published, "not published before Commit")
	require.NoError(t, txn.Commit())
	_, published = s.Head()
	require.Equal(t, b.Hash(), published)

	again := s.Begin()
	defer again.Discard()
	_, err = again.ApplyBlock(&g.Consensus, b)
	require.ErrorIs(t, err, chain.ErrInvalidBlock, "the same block again does not follow the head")

	require.NoError(t, s.Update(func(txn *Txn) error {
		off, err := txn.UnapplyHead(before)
		if err == nil {
			require.Equal(t, b.Hash(), off.Hash())
		}
		return err
	}))
	head, hash = s.Head()
	require.Equal(t, genesis, head)
	require.Equal(t, genesisHash, hash)
	for addr, want := range map[string]chain.Account{"0xabc": {Balance: chain.DevBalance}, "0xdef": {Balance: chain.DevBalance}, "0xnew": {}} {
		got, err := s.Account(addr)
		require.NoError(t, err)
		require.Equal(t, want, got, addr)
	}
	in, err := s.HasTx(b.Txs[0].Hash())
	require.NoError(t, err)
	require.False(t, in)
	_, err = s.BlockByHash(b.Hash())
	require.ErrorIs(t, err, ErrNotFound)

	err = s.Update(func(txn *Txn) error { _, err := txn.UnapplyHead(nil); return err })
	require.ErrorIs(t, err, chain.ErrInvalidBlock, "the genesis block stays")
}
