package store

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestClaimEngineBindsTheFolder(t *testing.T) {
	s, _, dir := devStore(t)
	e, err := s.Engine()
	require.NoError(t, err)
	require.Empty(t, e)

	require.NoError(t, s.ClaimEngine("raft"))
	require.NoError(t, s.ClaimEngine("raft"), "the same engine again")
	require.NoError(t, s.Close())

	s = openTemp(t, dir)
	t.Cleanup(func() { _ = s.Close() })
	e, err = s.Engine()
	require.NoError(t, err)
	require.Equal(t, "raft", e, "the binding survives a reopen")
	err = s.ClaimEngine("pow")
	require.ErrorIs(t, err, ErrEngineMismatch)
	require.ErrorContains(t, err, "it holds a raft chain, and this node starts pow; start it with --consensus=raft")
	e, err = s.Engine()
	require.NoError(t, err)
	require.Equal(t, "raft", e, "a refused claim changes nothing")
}

// A folder written before the binding was recorded is judged by its keys.
func TestClaimEngineJudgesLegacyFolders(t *testing.T) {
	t.Run("raft log present", func(t *testing.T) {
		s, _, _ := devStore(t)
		// The raft log's keys (consensus/raft/raftlog) start with r/.
		require.NoError(t, s.Update(func(txn *Txn) error { return txn.Set([]byte("r/hardstate"), []byte{1}) }))
		require.ErrorIs(t, s.ClaimEngine("pow"), ErrEngineMismatch)
		require.NoError(t, s.ClaimEngine("raft"))
	})
	t.Run("pow blocks present", func(t *testing.T) {
		s, _, _ := devStore(t)
		// PoW's kept blocks (consensus/pow/storage.go) start with p/.
		require.NoError(t, s.Update(func(txn *Txn) error { return txn.Set([]byte("p/h/1"), []byte{1}) }))
		err := s.ClaimEngine("raft")
		require.ErrorIs(t, err, ErrEngineMismatch)
		require.ErrorContains(t, err, "it holds a pow chain")
		require.NoError(t, s.ClaimEngine("pow"))
	})
	t.Run("genesis only", func(t *testing.T) {
		s, _, _ := devStore(t)
		require.NoError(t, s.ClaimEngine("pow"))
		e, err := s.Engine()
		require.NoError(t, err)
		require.Equal(t, "pow", e)
	})
}
