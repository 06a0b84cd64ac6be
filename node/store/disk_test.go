package store

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chainotel/chainotel/node/chain"
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

// TestStoreRefusesWritesBelowReserve: with less free space than the
// reserve, a block, a transaction and a batch are refused whole.
func TestStoreRefusesWritesBelowReserve(t *testing.T) {
	var free atomic.Uint64
	free.Store(1 << 40)
	s, err := OpenWith(t.TempDir(), nil, Options{MinFreeBytes: 1 << 30, FreeBytes: func(string) (uint64, error) {
		return free.Load(), nil
	}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	g := chain.DevGenesis([]string{"node0"}, time.Unix(1_700_000_000, 0))
	require.NoError(t, s.InitGenesis(g))
	require.NoError(t, s.Update(func(txn *Txn) error { return txn.Set([]byte("x/1"), []byte("one")) }))
	b := nextBlock(t, s, g, transfer(1))

	free.Store(1 << 20)
	_, err = s.ApplyBlock(t.Context(), b, &g.Consensus, 2)
	require.ErrorIs(t, err, ErrDiskFull)
	err = s.Update(func(txn *Txn) error { return txn.Set([]byte("x/2"), []byte("two")) })
	require.ErrorIs(t, err, ErrDiskFull)
	err = s.WriteBatch(func(b *Batch) error { return b.Set([]byte("x/3"), []byte("three")) })
	require.ErrorIs(t, err, ErrDiskFull)

	head, _ := s.Head()
	require.Zero(t, head.Height, "the block was not applied")
	n := 0
	require.NoError(t, s.View(func(txn *Txn) error {
		return txn.Iterate([]byte("x/"), func([]byte, []byte) error { n++; return nil })
	}))
	require.Equal(t, 1, n, "only the write made before the disk filled is there")
}

// TestSetMinFreeBytes: a reserve changed while the store is open applies to
// the next write.
func TestSetMinFreeBytes(t *testing.T) {
	s, err := OpenWith(t.TempDir(), nil, Options{MinFreeBytes: 1 << 30, FreeBytes: func(string) (uint64, error) {
		return 1 << 20, nil
	}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	write := func() error { return s.Update(func(txn *Txn) error { return txn.Set([]byte("x/1"), []byte("one")) }) }
	require.ErrorIs(t, write(), ErrDiskFull)

	s.SetMinFreeBytes(1 << 10)
	require.Equal(t, uint64(1<<10), s.MinFreeBytes())
	require.NoError(t, write())
}
