package store

import (
	"errors"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	"go.etcd.io/raft/v3/raftpb"
)

func TestDiskGuard(t *testing.T) {
	var free atomic.Uint64
	g := newDiskGuard("/data", 100, func(string) (uint64, error) { return free.Load(), nil })

	free.Store(1000)
	require.NoError(t, g.check())
	free.Store(10)
	err := g.check()
	require.ErrorIs(t, err, ErrDiskFull)
	require.ErrorContains(t, err, "/data has 10 bytes free, below the reserve of 100")
	free.Store(100)
	require.NoError(t, g.check(), "writes resume when space comes back")

	statErr := errors.New("statfs failed")
	require.ErrorIs(t, newDiskGuard("/data", 100, func(string) (uint64, error) { return 0, statErr }).check(), statErr)

	var off *diskGuard
	require.NoError(t, off.check())
	require.NoError(t, newDiskGuard("/data", 0, g.free).check(), "a reserve of 0 turns the check off")

	onDisk := newDiskGuard(t.TempDir(), 1, nil)
	require.NoError(t, onDisk.check(), "statfs of a real folder")
}

// TestStoreRefusesWritesBelowReserve: with less free space than the reserve,
// raft state is not saved; nothing is half-written.
func TestStoreRefusesWritesBelowReserve(t *testing.T) {
	var free atomic.Uint64
	free.Store(1 << 40)
	s, err := OpenWith(t.TempDir(), nil, Options{MinFreeBytes: 1 << 30, freeBytes: func(string) (uint64, error) {
		return free.Load(), nil
	}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })

	r := s.RaftLog()
	require.NoError(t, r.Save(raftpb.HardState{Term: 1, Commit: 1}, []raftpb.Entry{{Index: 1, Term: 1}}, raftpb.Snapshot{}, true))

	free.Store(1 << 20)
	err = r.Save(raftpb.HardState{Term: 1, Commit: 2}, []raftpb.Entry{{Index: 2, Term: 1}}, raftpb.Snapshot{}, true)
	require.ErrorIs(t, err, ErrDiskFull)
	last, err := r.LastIndex()
	require.NoError(t, err)
	require.Equal(t, uint64(1), last, "the refused entries are not in the log")
}

// TestSetMinFreeBytes: a reserve changed while the store is open applies to
// the next write.
func TestSetMinFreeBytes(t *testing.T) {
	s, err := OpenWith(t.TempDir(), nil, Options{MinFreeBytes: 1 << 30, freeBytes: func(string) (uint64, error) {
		return 1 << 20, nil
	}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	r := s.RaftLog()
	entry := []raftpb.Entry{{Index: 1, Term: 1}}
	require.ErrorIs(t, r.Save(raftpb.HardState{Term: 1, Commit: 1}, entry, raftpb.Snapshot{}, true), ErrDiskFull)

	s.SetMinFreeBytes(1 << 10)
	require.Equal(t, uint64(1<<10), s.MinFreeBytes())
	require.NoError(t, r.Save(raftpb.HardState{Term: 1, Commit: 1}, entry, raftpb.Snapshot{}, true))
}
