package raftlog

import (
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/chainotel/chainotel/node/store"
)

// openLog opens a store in dir (Badger on disk) and its raft log; the store
// closes with the test unless the test closes it first.
func openLog(t *testing.T, dir string) (*store.Store, *Log) {
	t.Helper()
	s, err := store.Open(dir, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	r, err := Open(s)
	require.NoError(t, err)
	return s, r
}

func ents(terms map[uint64]uint64, from, to uint64) []raftpb.Entry {
	var out []raftpb.Entry
	for i := from; i <= to; i++ {
		out = append(out, raftpb.Entry{Index: i, Term: terms[i], Data: []byte{byte(i)}})
	}
	return out
}

func TestRaftLogPersistsAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	s, r := openLog(t, dir)
	empty, err := r.IsEmpty()
	require.NoError(t, err)
	require.True(t, empty)

	terms := map[uint64]uint64{1: 1, 2: 1, 3: 1, 4: 2, 5: 2, 6: 2}
	require.NoError(t, r.Save(raftpb.HardState{Term: 1, Vote: 1, Commit: 2}, ents(terms, 1, 5), raftpb.Snapshot{}, true))
	// A new leader overwrites 4..5 with a shorter tail of term 3.
	require.NoError(t, r.Save(raftpb.HardState{Term: 3, Vote: 2, Commit: 3}, []raftpb.Entry{{Index: 4, Term: 3}}, raftpb.Snapshot{}, true))
	cs := raftpb.ConfState{Voters: []uint64{1, 2, 3}}
	_, err = r.CreateSnapshot(3, &cs, []byte("at-3"))
	require.NoError(t, err)
	require.NoError(t, r.Compact(3))
	// A second snapshot soon after may ask to compact to where the log
	// already starts, or before it: that is a no-op, not a failure.
	require.NoError(t, r.Compact(3))
	require.NoError(t, r.Compact(1))
	require.NoError(t, s.Close())

	_, r2 := openLog(t, dir)
	hs, gotCS, err := r2.InitialState()
	require.NoError(t, err)
	require.Equal(t, raftpb.HardState{Term: 3, Vote: 2, Commit: 3}, hs)
	require.Equal(t, cs.Voters, gotCS.Voters)
	first, err := r2.FirstIndex()
	require.NoError(t, err)
	last, err := r2.LastIndex()
	require.NoError(t, err)
	require.Equal(t, uint64(4), first, "compacted up to the snapshot")
	require.Equal(t, uint64(4), last, "the overwritten tail stays gone")
	term, err := r2.Term(4)
	require.NoError(t, err)
	require.Equal(t, uint64(3), term)
	snap, err := r2.Snapshot()
	require.NoError(t, err)
	require.Equal(t, uint64(3), snap.Metadata.Index)
	require.Equal(t, []byte("at-3"), snap.Data)
	pf, pl := r2.PersistedRange()
	require.Equal(t, uint64(3), pf)
	require.Equal(t, uint64(4), pl)
}

func TestRaftLogInstallsSnapshot(t *testing.T) {
	dir := t.TempDir()
	s, r := openLog(t, dir)
	require.NoError(t, r.Save(raftpb.HardState{Term: 1, Commit: 2}, ents(map[uint64]uint64{1: 1, 2: 1, 3: 1}, 1, 3), raftpb.Snapshot{}, true))
	snap := raftpb.Snapshot{Data: []byte("leader"), Metadata: raftpb.SnapshotMetadata{Index: 10, Term: 2, ConfState: raftpb.ConfState{Voters: []uint64{1, 2}}}}
	require.NoError(t, r.Save(raftpb.HardState{Term: 2, Commit: 10}, nil, snap, true))
	require.NoError(t, s.Close())

	_, r2 := openLog(t, dir)
	first, _ := r2.FirstIndex()
	last, _ := r2.LastIndex()
	require.Equal(t, uint64(11), first)
	require.Equal(t, uint64(10), last)
	_, last2 := r2.PersistedRange()
	require.Equal(t, uint64(10), last2, "the old entries were deleted")
}

// TestSaveRefusedBelowTheDiskReserve: with less free space than the store's
// reserve, raft state is not saved, and raft does not see it either.
func TestSaveRefusedBelowTheDiskReserve(t *testing.T) {
	var free atomic.Uint64
	free.Store(1 << 40)
	s, err := store.OpenWith(t.TempDir(), nil, store.Options{MinFreeBytes: 1 << 30, FreeBytes: func(string) (uint64, error) {
		return free.Load(), nil
	}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	r, err := Open(s)
	require.NoError(t, err)
	require.NoError(t, r.Save(raftpb.HardState{Term: 1, Commit: 1}, []raftpb.Entry{{Index: 1, Term: 1}}, raftpb.Snapshot{}, true))

	free.Store(1 << 20)
	err = r.Save(raftpb.HardState{Term: 1, Commit: 2}, []raftpb.Entry{{Index: 2, Term: 1}}, raftpb.Snapshot{}, true)
	require.ErrorIs(t, err, store.ErrDiskFull)
	last, err := r.LastIndex()
	require.NoError(t, err)
	require.Equal(t, uint64(1), last, "the refused entries are not in the log")
	_, pl := r.PersistedRange()
	require.Equal(t, uint64(1), pl)
}
