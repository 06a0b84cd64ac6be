package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"

	"github.com/chainotel/chainotel/node/chain"
)

// A proof-of-work node keeps every block it accepted, on the best chain or
// on a side branch, by hash (so it can reorganise onto a branch later), and
// for each block of the best chain an undo record: the accounts the block
// changed as they were before it, so the state can be rolled back.
var (
	prefixPoWHeader = []byte("p/h/") // + block hash(32) -> cumulative work(8) | header
	prefixPoWBlock  = []byte("p/b/") // + block hash(32) -> encoded block
	prefixUndo      = []byte("u/")   // + height(8) -> undo record
)

// PutPoWBlock keeps b, whose chain's cumulative work up to and including it
// is work, whether or not it is on the best chain.
func (s *Store) PutPoWBlock(b *chain.Block, work uint64) error {
	if err := s.disk.check(); err != nil {
		return fmt.Errorf("keep block %d: %w", b.Header.Height, err)
	}
	return s.db.Update(func(txn *badger.Txn) error { return keepPoW(txn, b, work) })
}

func keepPoW(txn *badger.Txn, b *chain.Block, work uint64) error {
	raw, err := b.MarshalBinary()
	if err != nil {
		return fmt.Errorf("encode block %d: %w", b.Header.Height, err)
	}
	h := b.Hash()
	hdr, _ := b.Header.AppendBinary(be64(work))
	if err := txn.Set(withPrefix(prefixPoWBlock, h[:]...), raw); err != nil {
		return fmt.Errorf("keep block %d (%s): %w", b.Header.Height, h, err)
	}
	if err := txn.Set(withPrefix(prefixPoWHeader, h[:]...), hdr); err != nil {
		return fmt.Errorf("keep header %d (%s): %w", b.Header.Height, h, err)
	}
	return nil
}

// PoWBlock reads a block kept by PutPoWBlock.
func (s *Store) PoWBlock(h chain.Hash) (*chain.Block, error) {
	var b *chain.Block
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(withPrefix(prefixPoWBlock, h[:]...))
		if err != nil {
			return fmt.Errorf("block %s: %w", h, notFound(err))
		}
		b, err = decodeBlock(item)
		return err
	})
	return b, err
}

// PoWHeaders calls fn with every kept block's header, hash and cumulative
// work, in no particular order; a PoW engine rebuilds its block tree from
// them at start.
func (s *Store) PoWHeaders(fn func(h chain.Header, hash chain.Hash, work uint64) error) error {
	return s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefixPoWHeader, PrefetchValues: true, PrefetchSize: 64})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			var hash chain.Hash
			copy(hash[:], it.Item().Key()[len(prefixPoWHeader):])
			err := it.Item().Value(func(v []byte) error {
				if len(v) < 8 {
					return fmt.Errorf("%w: kept header %s of %d bytes", chain.ErrCorrupt, hash, len(v))
				}
				var h chain.Header
				if err := h.UnmarshalBinary(v[8:]); err != nil {
					return fmt.Errorf("kept header %s: %w", hash, err)
				}
				return fn(h, hash, binary.BigEndian.Uint64(v))
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// ApplyBranch makes blocks (consecutive, the first one's parent the best
// chain's block at height fork; works[i] the cumulative work of blocks[i],
// kept with it as PutPoWBlock does) the new best chain above fork, in one Badger
// transaction: it rolls the state back to fork with the undo records, taking
// the blocks above fork off the chain and their transactions out of the
// index, then runs and checks each new block (transactions, tx root, state
// root) and writes it with its undo record. Either all of that happens or
// none of it. It returns the blocks it took off, lowest first; extending the
// head is the case fork == head height, which takes none off.
func (s *Store) ApplyBranch(ctx context.Context, params *chain.Params, fork uint64, blocks []*chain.Block, works []uint64) ([]*chain.Block, error) {
	return s.runBranch(ctx, params, fork, blocks, works, true)
}

// CheckBranch runs everything ApplyBranch would (the rollback to fork, every
// check of every block, the state roots) and then throws it away: a block
// on a branch lighter than the best chain is checked against its own
// branch's state this way before it is kept.
func (s *Store) CheckBranch(ctx context.Context, params *chain.Params, fork uint64, blocks []*chain.Block) error {
	_, err := s.runBranch(ctx, params, fork, blocks, make([]uint64, len(blocks)), false)
	return err
}

func (s *Store) runBranch(ctx context.Context, params *chain.Params, fork uint64, blocks []*chain.Block, works []uint64, commit bool) ([]*chain.Block, error) {
	if len(blocks) == 0 {
		return nil, nil
	}
	if len(works) != len(blocks) {
		return nil, fmt.Errorf("apply branch: %d blocks but %d works", len(blocks), len(works))
	}
	if commit {
		if err := s.disk.check(); err != nil {
			return nil, fmt.Errorf("apply branch: %w", err)
		}
	}
	head, _ := s.Head()
	if fork > head.Height {
		return nil, fmt.Errorf("%w: fork point %d is above the head %d", chain.ErrInvalidBlock, fork, head.Height)
	}
	var abandoned []*chain.Block
	var last *chain.Block
	txn := s.db.NewTransaction(true)
	defer txn.Discard()
	err := func() error {
		var err error
		if abandoned, err = rollBack(txn, head.Height, fork); err != nil {
			return err
		}
		parent, err := blockAt(txn, fork)
		if err != nil {
			return fmt.Errorf("fork point: %w", err)
		}
		prev, prevHash := parent.Header, parent.Hash()
		for i, b := range blocks {
			if err := ctx.Err(); err != nil {
				return err
			}
			if b.Header.Height != prev.Height+1 || b.Header.Parent != prevHash {
				return fmt.Errorf("%w: block %d with parent %s does not follow block %d (%s)",
					chain.ErrInvalidBlock, b.Header.Height, b.Header.Parent, prev.Height, prevHash)
			}
			if err := applyWithUndo(txn, params, prev, b); err != nil {
				return err
			}
			if err := keepPoW(txn, b, works[i]); err != nil {
				return err
			}
			prev, prevHash = b.Header, b.Hash()
			last = b
		}
		return nil
	}()
	if err == nil && commit {
		err = txn.Commit()
	}
	if errors.Is(err, badger.ErrTxnTooBig) {
		return nil, fmt.Errorf("apply branch of %d blocks above %d: too large for one transaction: %w", len(blocks), fork, err)
	}
	if err != nil {
		return nil, fmt.Errorf("apply branch above %d: %w", fork, err)
	}
	if !commit {
		return abandoned, nil
	}
	s.mu.Lock()
	s.head, s.hash = last.Header, last.Hash()
	s.mu.Unlock()
	return abandoned, nil
}

// rollBack undoes the best chain's blocks from height top down to above fork.
func rollBack(txn *badger.Txn, top, fork uint64) ([]*chain.Block, error) {
	out := make([]*chain.Block, top-fork)
	for h := top; h > fork; h-- {
		b, err := blockAt(txn, h)
		if err != nil {
			return nil, fmt.Errorf("roll back: %w", err)
		}
		raw, err := get(txn, withPrefix(prefixUndo, be64(h)...))
		if err != nil {
			return nil, fmt.Errorf("roll back block %d: undo record: %w", h, err)
		}
		undo, err := decodeUndo(raw)
		if err != nil {
			return nil, fmt.Errorf("roll back block %d: %w", h, err)
		}
		for _, u := range undo {
			if err := restore(txn, u); err != nil {
				return nil, fmt.Errorf("roll back block %d: %w", h, err)
			}
		}
		for i := range b.Txs {
			th := b.Txs[i].Hash()
			if err := txn.Delete(withPrefix(prefixTx, th[:]...)); err != nil {
				return nil, fmt.Errorf("roll back block %d: tx index: %w", h, err)
			}
		}
		bh := b.Hash()
		for _, k := range [][]byte{withPrefix(prefixHeight, be64(h)...), withPrefix(prefixBlockH, bh[:]...), withPrefix(prefixUndo, be64(h)...)} {
			if err := txn.Delete(k); err != nil {
				return nil, fmt.Errorf("roll back block %d: %w", h, err)
			}
		}
		out[h-fork-1] = b
	}
	return out, nil
}

// applyWithUndo runs b on the state in txn and writes it as the head, with
// the record that undoes it.
func applyWithUndo(txn *badger.Txn, params *chain.Params, parent chain.Header, b *chain.Block) error {
	if err := checkRoots(b); err != nil {
		return err
	}
	state := txnState{txn}
	ex := chain.NewExecutor(params, state)
	nonces := make([]uint64, len(b.Txs))
	for i := range b.Txs {
		n, err := ex.Apply(&b.Txs[i])
		if err != nil {
			return fmt.Errorf("%w: block %d tx %d (%s): %w", chain.ErrInvalidBlock, b.Header.Height, i, b.Txs[i].Hash(), err)
		}
		nonces[i] = n
	}
	changes := ex.Changes()
	if root := chain.StateRoot(parent.StateRoot, changes); root != b.Header.StateRoot {
		return fmt.Errorf("%w: block %d state root %s, the header says %s", chain.ErrInvalidBlock, b.Header.Height, root, b.Header.StateRoot)
	}
	undo := make([]undoEntry, 0, len(changes))
	for addr, a := range changes {
		prev, existed, err := readAccount(txn, addr)
		if err != nil {
			return err
		}
		undo = append(undo, undoEntry{addr: addr, existed: existed, acct: prev})
		if err := txn.Set(acctKey(addr), encodeAccount(a)); err != nil {
			return fmt.Errorf("write account %s: %w", addr, err)
		}
	}
	if err := txn.Set(withPrefix(prefixUndo, be64(b.Header.Height)...), encodeUndo(undo)); err != nil {
		return fmt.Errorf("write undo record %d: %w", b.Header.Height, err)
	}
	return writeBlock(txn, b, nonces)
}

// undoEntry is one account as it was before a block: absent, or acct.
type undoEntry struct {
	addr    string
	existed bool
	acct    chain.Account
}

func readAccount(txn *badger.Txn, addr string) (chain.Account, bool, error) {
	v, err := get(txn, acctKey(addr))
	if errors.Is(err, ErrNotFound) {
		return chain.Account{}, false, nil
	}
	if err != nil {
		return chain.Account{}, false, fmt.Errorf("read account %s: %w", addr, err)
	}
	a, err := decodeAccount(v)
	return a, true, err
}

func restore(txn *badger.Txn, u undoEntry) error {
	if !u.existed {
		return txn.Delete(acctKey(u.addr))
	}
	return txn.Set(acctKey(u.addr), encodeAccount(u.acct))
}

func encodeUndo(entries []undoEntry) []byte {
	out := binary.AppendUvarint(nil, uint64(len(entries)))
	for _, u := range entries {
		out = binary.AppendUvarint(out, uint64(len(u.addr)))
		out = append(out, u.addr...)
		flag := byte(0)
		if u.existed {
			flag = 1
		}
		out = append(out, flag)
		out = append(out, encodeAccount(u.acct)...)
	}
	return out
}

func decodeUndo(v []byte) ([]undoEntry, error) {
	bad := fmt.Errorf("%w: undo record", chain.ErrCorrupt)
	n, k := binary.Uvarint(v)
	if k <= 0 || n > uint64(len(v)) {
		return nil, bad
	}
	v = v[k:]
	out := make([]undoEntry, 0, n)
	for range n {
		l, k := binary.Uvarint(v)
		if k <= 0 || l+1 > uint64(len(v)-k) {
			return nil, bad
		}
		u := undoEntry{addr: string(v[k : k+int(l)]), existed: v[k+int(l)] == 1}
		v = v[k+int(l)+1:]
		fields := []*uint64{&u.acct.Balance, &u.acct.Nonce, &u.acct.Staked}
		for _, f := range fields {
			x, k := binary.Uvarint(v)
			if k <= 0 {
				return nil, bad
			}
			*f, v = x, v[k:]
		}
		out = append(out, u)
	}
	return out, nil
}
