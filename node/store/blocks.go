package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"

	"github.com/chainotel/chainotel/node/chain"
)

// TxLocation says where a committed transaction is.
type TxLocation struct {
	Height uint64 `json:"height"`
	Index  uint32 `json:"index"` // position in the block
	Nonce  uint64 `json:"nonce"` // the nonce it took
}

// ApplyBlock applies a committed block carried by raft entry index: it runs
// its transactions against the state, checks the header's roots, and writes
// the block, its indexes, the changed accounts, the new head and the applied
// index in one Badger transaction, so the block is applied whole or not at
// all. It applies nothing and returns false when index was already applied
// or the block's height already is (it came in through a sync), and an
// ErrInvalidBlock error when the block does not follow the head.
//
// index 0 means the block comes from a sync and leaves the applied index.
func (s *Store) ApplyBlock(ctx context.Context, b *chain.Block, params *chain.Params, index uint64) (bool, error) {
	head, _ := s.Head()
	if index != 0 && index <= s.AppliedIndex() {
		return false, nil
	}
	if b.Header.Height <= head.Height {
		return false, s.SetAppliedIndex(ctx, index)
	}
	t := s.Begin()
	defer t.Discard()
	if err := t.follows(b); err != nil {
		return false, err
	}
	if err := s.disk.check(); err != nil {
		return false, fmt.Errorf("apply block %d: %w", b.Header.Height, err)
	}
	if err := checkRoots(b); err != nil {
		return false, err
	}
	err := func() error {
		if _, err := t.applyBlock(params, b, false); err != nil {
			return err
		}
		t.applied = max(index, s.AppliedIndex())
		return t.txn.Set(keyApplied, be64(t.applied))
	}()
	if err == nil {
		err = t.Commit()
	}
	if err != nil {
		return false, fmt.Errorf("apply block %d: %w", b.Header.Height, err)
	}
	return true, nil
}

func checkRoots(b *chain.Block) error {
	if int(b.Header.TxCount) != len(b.Txs) {
		return fmt.Errorf("%w: header says %d txs, block holds %d", chain.ErrInvalidBlock, b.Header.TxCount, len(b.Txs))
	}
	if root := chain.TxRoot(b.Txs); root != b.Header.TxRoot {
		return fmt.Errorf("%w: tx root %s, the header says %s", chain.ErrInvalidBlock, root, b.Header.TxRoot)
	}
	return nil
}

// writeBlock stores b under its height, its hash and its transactions'
// hashes, and makes it the head. nonces are the nonces its txs took.
func writeBlock(txn *badger.Txn, b *chain.Block, nonces []uint64) error {
	raw, err := b.MarshalBinary()
	if err != nil {
		return fmt.Errorf("encode block %d: %w", b.Header.Height, err)
	}
	h := b.Hash()
	height := be64(b.Header.Height)
	if err := txn.Set(withPrefix(prefixHeight, height...), raw); err != nil {
		return fmt.Errorf("write block %d: %w", b.Header.Height, err)
	}
	if err := txn.Set(withPrefix(prefixBlockH, h[:]...), height); err != nil {
		return fmt.Errorf("write block hash index: %w", err)
	}
	for i := range b.Txs {
		th := b.Txs[i].Hash()
		loc := binary.BigEndian.AppendUint32(be64(b.Header.Height), uint32(i))
		loc = binary.BigEndian.AppendUint64(loc, nonces[i])
		if err := txn.Set(withPrefix(prefixTx, th[:]...), loc); err != nil {
			return fmt.Errorf("write tx index: %w", err)
		}
	}
	if err := txn.Set(keyHead, append(height, h[:]...)); err != nil {
		return fmt.Errorf("write head: %w", err)
	}
	return nil
}

// BlockByHeight reads the block at height h.
func (s *Store) BlockByHeight(h uint64) (*chain.Block, error) {
	var b *chain.Block
	err := s.db.View(func(txn *badger.Txn) (err error) {
		b, err = blockAt(txn, h)
		return err
	})
	return b, err
}

// BlockByHash reads the block with hash h.
func (s *Store) BlockByHash(h chain.Hash) (*chain.Block, error) {
	var b *chain.Block
	err := s.db.View(func(txn *badger.Txn) error {
		v, err := get(txn, withPrefix(prefixBlockH, h[:]...))
		if err != nil {
			return fmt.Errorf("block %s: %w", h, err)
		}
		b, err = blockAt(txn, binary.BigEndian.Uint64(v))
		return err
	})
	return b, err
}

// Blocks reads the blocks from height from to height to, both included, up to
// maxBytes of encoded blocks (at least one block).
func (s *Store) Blocks(from, to uint64, maxBytes int) ([]*chain.Block, error) {
	var out []*chain.Block
	err := s.db.View(func(txn *badger.Txn) error {
		size := 0
		for h := from; h <= to && (len(out) == 0 || size < maxBytes); h++ {
			item, err := txn.Get(withPrefix(prefixHeight, be64(h)...))
			if err != nil {
				return fmt.Errorf("block %d: %w", h, notFound(err))
			}
			size += int(item.ValueSize())
			b, err := decodeBlock(item)
			if err != nil {
				return fmt.Errorf("block %d: %w", h, err)
			}
			out = append(out, b)
		}
		return nil
	})
	return out, err
}

func blockAt(txn *badger.Txn, h uint64) (*chain.Block, error) {
	item, err := txn.Get(withPrefix(prefixHeight, be64(h)...))
	if err != nil {
		return nil, fmt.Errorf("block %d: %w", h, notFound(err))
	}
	return decodeBlock(item)
}

func decodeBlock(item *badger.Item) (*chain.Block, error) {
	var b chain.Block
	err := item.Value(func(v []byte) error { return b.UnmarshalBinary(v) })
	if err != nil {
		return nil, err
	}
	return &b, nil
}

// Tx reads a committed transaction and where it is.
func (s *Store) Tx(h chain.Hash) (*chain.Tx, TxLocation, error) {
	var (
		tx  *chain.Tx
		loc TxLocation
	)
	err := s.db.View(func(txn *badger.Txn) error {
		v, err := get(txn, withPrefix(prefixTx, h[:]...))
		if err != nil {
			return fmt.Errorf("tx %s: %w", h, err)
		}
		if len(v) != 20 {
			return fmt.Errorf("tx %s: %w: location of %d bytes", h, chain.ErrCorrupt, len(v))
		}
		loc = TxLocation{Height: binary.BigEndian.Uint64(v), Index: binary.BigEndian.Uint32(v[8:]), Nonce: binary.BigEndian.Uint64(v[12:])}
		b, err := blockAt(txn, loc.Height)
		if err != nil {
			return err
		}
		if int(loc.Index) >= len(b.Txs) {
			return fmt.Errorf("tx %s: %w: index %d past the block's %d txs", h, chain.ErrCorrupt, loc.Index, len(b.Txs))
		}
		tx = &b.Txs[loc.Index]
		return nil
	})
	return tx, loc, err
}

// HasTx reports whether a transaction with hash h is committed.
func (s *Store) HasTx(h chain.Hash) (bool, error) {
	err := s.db.View(func(txn *badger.Txn) error {
		_, err := txn.Get(withPrefix(prefixTx, h[:]...))
		return err
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, nil
	}
	return err == nil, err
}

// Account reads the committed state of addr; an unknown address is the zero
// account. It makes Store a chain.StateReader.
func (s *Store) Account(addr string) (chain.Account, error) {
	var a chain.Account
	err := s.db.View(func(txn *badger.Txn) (err error) {
		a, err = txnState{txn}.Account(addr)
		return err
	})
	return a, err
}

var _ chain.StateReader = (*Store)(nil)

// txnState reads accounts inside a Badger transaction, so a block's execution
// sees the state it is about to change.
type txnState struct{ txn *badger.Txn }

func (t txnState) Account(addr string) (chain.Account, error) {
	v, err := get(t.txn, acctKey(addr))
	if errors.Is(err, ErrNotFound) {
		return chain.Account{}, nil
	}
	if err != nil {
		return chain.Account{}, fmt.Errorf("read account %s: %w", addr, err)
	}
	return decodeAccount(v)
}

func encodeAccount(a chain.Account) []byte {
	b := binary.AppendUvarint(make([]byte, 0, 24), a.Balance)
	b = binary.AppendUvarint(b, a.Nonce)
	return binary.AppendUvarint(b, a.Staked)
}

func decodeAccount(v []byte) (chain.Account, error) {
	var a chain.Account
	fields := []*uint64{&a.Balance, &a.Nonce, &a.Staked}
	for _, f := range fields {
		x, n := binary.Uvarint(v)
		if n <= 0 {
			return a, fmt.Errorf("%w: account", chain.ErrCorrupt)
		}
		*f, v = x, v[n:]
	}
	return a, nil
}

func notFound(err error) error {
	if errors.Is(err, badger.ErrKeyNotFound) {
		return ErrNotFound
	}
	return err
}
