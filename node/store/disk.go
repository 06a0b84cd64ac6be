package store

import (
	"fmt"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Badger writes its memtable log and value log through memory-mapped files.
// On a full filesystem a write into such a mapping is a SIGBUS, not an error:
// the process dies without a word. So the store refuses to write while the
// free space on its filesystem is below a reserve that covers what Badger may
// still write through its mappings: a memtable log (2 x memTableSize) and
// the rest of a value-log file.
const (
	memTableSize     = 32 << 20
	valueLogFileSize = 64 << 20

	// DefaultMinFreeBytes is the reserve: one memtable log, one value-log
	// file, and a margin for the LSM tables a flush writes.
	DefaultMinFreeBytes = 2*memTableSize + valueLogFileSize + 32<<20
)

// freeBytesFunc reports the bytes free to unprivileged writers on the
// filesystem holding path; tests inject their own.
type freeBytesFunc func(path string) (uint64, error)

func statfsFree(path string) (uint64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0, fmt.Errorf("statfs %s: %w", path, err)
	}
	return st.Bavail * uint64(st.Bsize), nil
}

// diskGuard answers whether a write may go ahead. It asks the filesystem on
// every write batch (a statfs costs about a microsecond, a batch holds a
// whole block or Ready), so a disk that fills suddenly is seen at once.
type diskGuard struct {
	path    string
	reserve atomic.Uint64 // changed by Store.SetMinFreeBytes while running
	free    freeBytesFunc
}

func newDiskGuard(path string, reserve uint64, free freeBytesFunc) *diskGuard {
	if free == nil {
		free = statfsFree
	}
	g := &diskGuard{path: path, free: free}
	g.reserve.Store(reserve)
	return g
}

// MinFreeBytes is the reserve the store keeps free now (0: no check).
func (s *Store) MinFreeBytes() uint64 { return s.disk.reserve.Load() }

// SetMinFreeBytes changes the reserve (SIGHUP reloads --min-free-disk); the
// next write batch is checked against it. 0 turns the check off.
func (s *Store) SetMinFreeBytes(n uint64) { s.disk.reserve.Store(n) }

// check returns nil when the filesystem has at least the reserve free, else
// an error wrapping ErrDiskFull that names the path, the free bytes and the
// reserve. A nil guard or a reserve of 0 allows everything.
func (g *diskGuard) check() error {
	if g == nil {
		return nil
	}
	reserve := g.reserve.Load()
	if reserve == 0 {
		return nil
	}
	free, err := g.free(g.path)
	if err != nil {
		return err
	}
	if free < reserve {
		return fmt.Errorf("%w: %s has %d bytes free, below the reserve of %d (--min-free-disk)",
			ErrDiskFull, g.path, free, reserve)
	}
	return nil
}
