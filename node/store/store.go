// Package store keeps a node's chain in Badger: the blocks with their hash
// and transaction indexes, the account state, the head, and the log index
// the state reflects (the applied raft index).
//
// A committed block is applied in one Badger transaction together with the
// applied index, so after a crash the state is that of a whole number of
// blocks and replaying the raft log from the applied index is exactly-once.
//
// The store knows no consensus protocol. A protocol keeps its own records in
// the same database through a small transaction API (Txn, Batch: raw keys
// outside the store's key spaces, next to the operations that move the
// head): the raft log lives in node/consensus/raft/raftlog, proof of work's
// side branches and undo records in node/consensus/pow.
package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/dgraph-io/badger/v4"

	"github.com/chainotel/chainotel/node/chain"
)

// Key layout. Heights and raft indexes are big-endian so keys sort by them.
// The protocols' keys: r/ (the raft log), p/ and u/ (proof of work).
var (
	keyHead      = []byte("m/head")    // height(8) | block hash(32)
	keyApplied   = []byte("m/applied") // raft index(8)
	keyGenesis   = []byte("m/genesis") // genesis hash(32)
	prefixHeight = []byte("b/h/")      // + height(8) -> encoded block
	prefixBlockH = []byte("b/x/")      // + block hash(32) -> height(8)
	prefixTx     = []byte("t/")        // + tx hash(32) -> TxLocation
	prefixAcct   = []byte("a/")        // + address -> account
)

// valueThreshold keeps values up to 1 KiB in the LSM tree: accounts, indexes
// and small blocks are read without a value-log seek.
const valueThreshold = 1024

// Store is a node's Badger database. Its methods are safe for concurrent use;
// the writers (ApplyBlock, SetAppliedIndex, read-write transactions and
// batches) are called from the consensus loop only.
type Store struct {
	db   *badger.DB
	disk *diskGuard // refuses writes before Badger's mmaps would hit a full disk

	mu      sync.RWMutex // guards head, headHash, applied
	head    chain.Header
	hash    chain.Hash
	applied uint64

	// beforeTxWrite, when set by a test, runs before each transaction of a
	// block is applied; an error aborts the block as a Badger failure would.
	beforeTxWrite func(i int) error
}

// Open opens (or creates) the database in dir. Writes are not synced one by
// one: Sync makes everything written so far durable, which the consensus loop
// calls once per batch of raft state.
func Open(dir string, logger *slog.Logger) (*Store, error) {
	return OpenWith(dir, logger, Options{MinFreeBytes: DefaultMinFreeBytes})
}

// Options tune a store beyond its folder.
type Options struct {
	// MinFreeBytes is the free space below which the store refuses writes
	// with ErrDiskFull instead of letting Badger die of a SIGBUS; 0 turns
	// the check off.
	MinFreeBytes uint64
	// FreeBytes, when set, replaces statfs in telling the free bytes of the
	// filesystem holding the store (tests simulate a filling disk with it).
	FreeBytes func(path string) (uint64, error)
}

// OpenWith is Open with options.
func OpenWith(dir string, logger *slog.Logger, o Options) (*Store, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	opts := badger.DefaultOptions(dir).
		WithValueThreshold(valueThreshold).
		WithSyncWrites(false).
		WithNumVersionsToKeep(1).
		WithLogger(badgerLogger{logger.With("component", "badger")}).
		WithMemTableSize(memTableSize).
		WithValueLogFileSize(valueLogFileSize).
		WithBlockCacheSize(32 << 20).
		WithIndexCacheSize(16 << 20).
		WithNumCompactors(2).
		WithDetectConflicts(false) // one writer: the consensus loop
	db, err := badger.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("open badger at %s: %w", dir, err)
	}
	s := &Store{db: db, disk: newDiskGuard(dir, o.MinFreeBytes, o.FreeBytes)}
	if err := s.loadMeta(); err != nil {
		_ = db.Close()
		return nil, err
	}
	return s, nil
}

// Close flushes and closes the database.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close badger: %w", err)
	}
	return nil
}

// Sync makes every write so far durable (one fsync of Badger's log).
func (s *Store) Sync() error {
	if err := s.db.Sync(); err != nil {
		return fmt.Errorf("sync badger: %w", err)
	}
	return nil
}

// Sizes are the on-disk sizes of the LSM tree and the value log, in bytes.
func (s *Store) Sizes() (lsm, vlog int64) { return s.db.Size() }

func (s *Store) loadMeta() error {
	return s.db.View(func(txn *badger.Txn) error {
		if v, err := get(txn, keyApplied); err == nil {
			s.applied = binary.BigEndian.Uint64(v)
		} else if !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("read applied index: %w", err)
		}
		v, err := get(txn, keyHead)
		if errors.Is(err, ErrNotFound) {
			return nil // a new database: InitGenesis fills it
		}
		if err != nil {
			return fmt.Errorf("read head: %w", err)
		}
		b, err := blockAt(txn, binary.BigEndian.Uint64(v[:8]))
		if err != nil {
			return fmt.Errorf("read head block: %w", err)
		}
		s.head, s.hash = b.Header, b.Hash()
		return nil
	})
}

// InitGenesis writes block 0 and the genesis accounts into a new database, or
// checks that an existing one was made from the same genesis.
func (s *Store) InitGenesis(g *chain.Genesis) error {
	want := g.Hash()
	return s.db.Update(func(txn *badger.Txn) error {
		v, err := get(txn, keyGenesis)
		switch {
		case err == nil:
			if chain.Hash(v) != want {
				return fmt.Errorf("%w: it was made from genesis %s, this genesis is %s; delete the data folder or use the matching genesis",
					ErrGenesisMismatch, chain.Hash(v), want)
			}
			return nil
		case !errors.Is(err, ErrNotFound):
			return fmt.Errorf("read genesis hash: %w", err)
		}
		blk := g.Block()
		for addr, a := range g.Alloc() {
			if err := txn.Set(acctKey(addr), encodeAccount(a)); err != nil {
				return fmt.Errorf("write genesis account %s: %w", addr, err)
			}
		}
		if err := writeBlock(txn, &blk, nil); err != nil {
			return err
		}
		if err := txn.Set(keyGenesis, want[:]); err != nil {
			return fmt.Errorf("write genesis hash: %w", err)
		}
		s.mu.Lock()
		s.head, s.hash = blk.Header, blk.Hash()
		s.mu.Unlock()
		return nil
	})
}

// Head is the header and hash of the latest applied block.
func (s *Store) Head() (chain.Header, chain.Hash) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.head, s.hash
}

// AppliedIndex is the raft index the state reflects.
func (s *Store) AppliedIndex() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.applied
}

// SetAppliedIndex records that raft entries up to i carried nothing to apply
// (empty entries, conf changes) or were covered by an installed snapshot. It
// never moves the index back.
func (s *Store) SetAppliedIndex(ctx context.Context, i uint64) error {
	if i <= s.AppliedIndex() {
		return nil
	}
	if err := s.db.Update(func(txn *badger.Txn) error { return txn.Set(keyApplied, be64(i)) }); err != nil {
		return fmt.Errorf("write applied index %d: %w", i, err)
	}
	s.mu.Lock()
	s.applied = i
	s.mu.Unlock()
	return nil
}

// badgerLogger sends Badger's own log lines to slog.
type badgerLogger struct{ l *slog.Logger }

func (b badgerLogger) Errorf(f string, a ...any)   { b.l.Error(fmt.Sprintf(f, a...)) }
func (b badgerLogger) Warningf(f string, a ...any) { b.l.Warn(fmt.Sprintf(f, a...)) }
func (b badgerLogger) Infof(f string, a ...any)    { b.l.Debug(fmt.Sprintf(f, a...)) }
func (b badgerLogger) Debugf(f string, a ...any)   { b.l.Debug(fmt.Sprintf(f, a...)) }

func get(txn *badger.Txn, key []byte) ([]byte, error) {
	item, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return item.ValueCopy(nil)
}

func be64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

func withPrefix(p []byte, rest ...byte) []byte {
	k := make([]byte, 0, len(p)+len(rest))
	return append(append(k, p...), rest...)
}

func acctKey(addr string) []byte { return append(withPrefix(prefixAcct), addr...) }
