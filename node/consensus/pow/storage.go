package pow

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/chainotel/chainotel/node/chain"
	"github.com/chainotel/chainotel/node/store"
)

// A proof-of-work node keeps every block it accepted, on the best chain or
// on a side branch, by hash (so it can reorganise onto a branch later), and
// for each block of the best chain an undo record: the accounts the block
// changed as they were before it, so the state can be rolled back. These
// records live in the node's store beside the chain, under their own keys.
var (
	prefixKeptHeader = []byte("p/h/") // + block hash(32) -> cumulative work(8) | header
	prefixKeptBlock  = []byte("p/b/") // + block hash(32) -> encoded block
	prefixUndo       = []byte("u/")   // + height(8) -> undo record
)

// blockStore is proof of work's storage over the node's store: kept blocks
// and undo records next to the chain, and the branch switch that moves the
// chain and them in one transaction. Its writers are called from the
// engine's loop only; its readers from any goroutine.
type blockStore struct{ s *store.Store }

// put keeps b, whose chain's cumulative work up to and including it is
// work, whether or not it is on the best chain.
func (bs blockStore) put(b *chain.Block, work uint64) error {
	if err := bs.s.Update(func(txn *store.Txn) error { return keep(txn, b, work) }); err != nil {
		return fmt.Errorf("keep block %d: %w", b.Header.Height, err)
	}
	return nil
}

func keep(txn *store.Txn, b *chain.Block, work uint64) error {
	raw, err := b.MarshalBinary()
	if err != nil {
		return fmt.Errorf("encode block %d: %w", b.Header.Height, err)
	}
	h := b.Hash()
	hdr, _ := b.Header.AppendBinary(binary.BigEndian.AppendUint64(nil, work))
	if err := txn.Set(hashKey(prefixKeptBlock, h), raw); err != nil {
		return fmt.Errorf("keep block %d (%s): %w", b.Header.Height, h, err)
	}
	if err := txn.Set(hashKey(prefixKeptHeader, h), hdr); err != nil {
		return fmt.Errorf("keep header %d (%s): %w", b.Header.Height, h, err)
	}
	return nil
}

// block reads a kept block.
func (bs blockStore) block(h chain.Hash) (*chain.Block, error) {
	var b chain.Block
	err := bs.s.View(func(txn *store.Txn) error {
		raw, err := txn.Get(hashKey(prefixKeptBlock, h))
		if err != nil {
			return err
		}
		return b.UnmarshalBinary(raw)
	})
	if err != nil {
		return nil, fmt.Errorf("block %s: %w", h, err)
	}
	return &b, nil
}

// headers calls fn with every kept block's header, hash and cumulative
// work, in no particular order; the engine rebuilds its block tree from
// them at start.
func (bs blockStore) headers(fn func(h chain.Header, hash chain.Hash, work uint64) error) error {
	return bs.s.View(func(txn *store.Txn) error {
		return txn.Iterate(prefixKeptHeader, func(key, v []byte) error {
			var hash chain.Hash
			copy(hash[:], key[len(prefixKeptHeader):])
			if len(v) < 8 {
				return fmt.Errorf("%w: kept header %s of %d bytes", chain.ErrCorrupt, hash, len(v))
			}
			var h chain.Header
			if err := h.UnmarshalBinary(v[8:]); err != nil {
				return fmt.Errorf("kept header %s: %w", hash, err)
			}
			return fn(h, hash, binary.BigEndian.Uint64(v))
		})
	})
}

// applyBranch makes blocks (consecutive, the first one's parent the best
// chain's block at height fork; works[i] the cumulative work of blocks[i],
// kept with it as put does) the new best chain above fork, in one store
// transaction: it rolls the state back to fork with the undo records,
// taking the blocks above fork off the chain and their transactions out of
// the index, then runs and checks each new block (transactions, tx root,
// state root) and writes it with its undo record. Either all of that
// happens or none of it. It returns the blocks it took off, lowest first;
// extending the head is the case fork == head height, which takes none off.
func (bs blockStore) applyBranch(ctx context.Context, params *chain.Params, fork uint64, blocks []*chain.Block, works []uint64) ([]*chain.Block, error) {
	return bs.runBranch(ctx, params, fork, blocks, works, true)
}

// checkBranch runs everything applyBranch would (the rollback to fork,
// every check of every block, the state roots) and then throws it away: a
// block on a branch lighter than the best chain is checked against its own
// branch's state this way before it is kept.
func (bs blockStore) checkBranch(ctx context.Context, params *chain.Params, fork uint64, blocks []*chain.Block) error {
	_, err := bs.runBranch(ctx, params, fork, blocks, make([]uint64, len(blocks)), false)
	return err
}

func (bs blockStore) runBranch(ctx context.Context, params *chain.Params, fork uint64, blocks []*chain.Block, works []uint64, commit bool) ([]*chain.Block, error) {
	if len(blocks) == 0 {
		return nil, nil
	}
	if len(works) != len(blocks) {
		return nil, fmt.Errorf("apply branch: %d blocks but %d works", len(blocks), len(works))
	}
	txn := bs.s.Begin()
	defer txn.Discard()
	var abandoned []*chain.Block
	err := func() error {
		head, _ := txn.Head()
		if fork > head.Height {
			return fmt.Errorf("%w: fork point %d is above the head %d", chain.ErrInvalidBlock, fork, head.Height)
		}
		var err error
		if abandoned, err = rollBack(txn, fork); err != nil {
			return err
		}
		for i, b := range blocks {
			if err := ctx.Err(); err != nil {
				return err
			}
			before, err := txn.ApplyBlock(params, b)
			if err != nil {
				return err
			}
			if err := txn.Set(heightKey(prefixUndo, b.Header.Height), encodeUndo(before)); err != nil {
				return fmt.Errorf("write undo record %d: %w", b.Header.Height, err)
			}
			if err := keep(txn, b, works[i]); err != nil {
				return err
			}
		}
		if commit {
			return txn.Commit()
		}
		return nil
	}()
	if errors.Is(err, store.ErrTxnTooBig) {
		return nil, fmt.Errorf("apply branch of %d blocks above %d: too large for one transaction: %w", len(blocks), fork, err)
	}
	if err != nil {
		return nil, fmt.Errorf("apply branch above %d: %w", fork, err)
	}
	return abandoned, nil
}

// rollBack takes the best chain's blocks above fork off, top down, with
// their undo records, and returns them lowest first.
func rollBack(txn *store.Txn, fork uint64) ([]*chain.Block, error) {
	head, _ := txn.Head()
	out := make([]*chain.Block, head.Height-fork)
	for h := head.Height; h > fork; h-- {
		key := heightKey(prefixUndo, h)
		raw, err := txn.Get(key)
		if err != nil {
			return nil, fmt.Errorf("roll back block %d: undo record: %w", h, err)
		}
		before, err := decodeUndo(raw)
		if err != nil {
			return nil, fmt.Errorf("roll back block %d: %w", h, err)
		}
		b, err := txn.UnapplyHead(before)
		if err != nil {
			return nil, fmt.Errorf("roll back: %w", err)
		}
		if err := txn.Delete(key); err != nil {
			return nil, fmt.Errorf("roll back block %d: %w", h, err)
		}
		out[h-fork-1] = b
	}
	return out, nil
}

func hashKey(prefix []byte, h chain.Hash) []byte {
	return append(append(make([]byte, 0, len(prefix)+len(h)), prefix...), h[:]...)
}

func heightKey(prefix []byte, h uint64) []byte {
	return binary.BigEndian.AppendUint64(append(make([]byte, 0, len(prefix)+8), prefix...), h)
}

// An undo record is a uvarint count, then per account: the address's length
// (uvarint) and bytes, 1 if it existed (else 0), and its balance, nonce and
// stake (uvarints).
func encodeUndo(entries []store.AccountBefore) []byte {
	out := binary.AppendUvarint(nil, uint64(len(entries)))
	for _, u := range entries {
		out = binary.AppendUvarint(out, uint64(len(u.Addr)))
		out = append(out, u.Addr...)
		flag := byte(0)
		if u.Existed {
			flag = 1
		}
		out = append(out, flag)
		out = binary.AppendUvarint(out, u.Account.Balance)
		out = binary.AppendUvarint(out, u.Account.Nonce)
		out = binary.AppendUvarint(out, u.Account.Staked)
	}
	return out
}

func decodeUndo(v []byte) ([]store.AccountBefore, error) {
	bad := fmt.Errorf("%w: undo record", chain.ErrCorrupt)
	n, k := binary.Uvarint(v)
	if k <= 0 || n > uint64(len(v)) {
		return nil, bad
	}
	v = v[k:]
	out := make([]store.AccountBefore, 0, n)
	for range n {
		l, k := binary.Uvarint(v)
		if k <= 0 || l+1 > uint64(len(v)-k) {
			return nil, bad
		}
		u := store.AccountBefore{Addr: string(v[k : k+int(l)]), Existed: v[k+int(l)] == 1}
		v = v[k+int(l)+1:]
		fields := []*uint64{&u.Account.Balance, &u.Account.Nonce, &u.Account.Staked}
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
