package store

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"

	"github.com/chainotel/chainotel/node/chain"
)

// The store's own key spaces (see store.go); Txn and Batch refuse raw writes
// into them, so a protocol's records can never overwrite chain state.
var ownPrefixes = [][]byte{[]byte("m/"), []byte("b/"), []byte("t/"), []byte("a/")}

func checkKey(key []byte) error {
	for _, p := range ownPrefixes {
		if bytes.HasPrefix(key, p) {
			return fmt.Errorf("%w: %q", ErrReservedKey, key)
		}
	}
	return nil
}

// Txn is one Badger transaction on the store. Beside the chain operations a
// protocol needs to move the head (ApplyBlock, UnapplyHead), it reads and
// writes raw keys, so a consensus protocol keeps its own records (the raft
// log, proof of work's side branches and undo records) in the same database
// and, when it must, in the same transaction as the chain state. Raw keys
// must stay out of the store's own key spaces (m/, b/, t/, a/).
//
// A Txn is used from one goroutine. Only one read-write Txn may be open at a
// time (the store has one writer: the consensus loop); read-only ones (View)
// run concurrently with it and see the state as it was when they began.
type Txn struct {
	s      *Store
	txn    *badger.Txn
	update bool
	head   chain.Header // the head as this transaction sees it
	hash   chain.Hash
	moved  bool // the head changed: Commit publishes it

	applied uint64 // the applied index ApplyBlock wrote; Commit publishes it with the head
}

// Begin starts a read-write transaction. Commit writes it; Discard (always
// deferred) throws away whatever was not committed.
func (s *Store) Begin() *Txn {
	head, hash := s.Head()
	return &Txn{s: s, txn: s.db.NewTransaction(true), update: true, head: head, hash: hash}
}

// View runs fn in a read-only transaction.
func (s *Store) View(fn func(*Txn) error) error {
	head, hash := s.Head()
	return s.db.View(func(txn *badger.Txn) error {
		return fn(&Txn{s: s, txn: txn, head: head, hash: hash})
	})
}

// Update runs fn in a read-write transaction and commits it when fn
// returns nil.
func (s *Store) Update(fn func(*Txn) error) error {
	t := s.Begin()
	defer t.Discard()
	if err := fn(t); err != nil {
		return err
	}
	return t.Commit()
}

// Commit writes the transaction, after checking the disk has room for it,
// and publishes the head it moved to.
func (t *Txn) Commit() error {
	if err := t.s.disk.check(); err != nil {
		return err
	}
	if err := t.txn.Commit(); err != nil {
		return tooBig(err)
	}
	if t.moved {
		t.s.mu.Lock()
		t.s.head, t.s.hash = t.head, t.hash
		t.s.applied = max(t.s.applied, t.applied)
		t.s.mu.Unlock()
	}
	return nil
}

// Discard ends the transaction; after Commit it does nothing.
func (t *Txn) Discard() { t.txn.Discard() }

// Get reads key; a missing key is ErrNotFound.
func (t *Txn) Get(key []byte) ([]byte, error) { return get(t.txn, key) }

// Set writes key.
func (t *Txn) Set(key, value []byte) error {
	if err := checkKey(key); err != nil {
		return err
	}
	return tooBig(t.txn.Set(key, value))
}

// Delete removes key.
func (t *Txn) Delete(key []byte) error {
	if err := checkKey(key); err != nil {
		return err
	}
	return tooBig(t.txn.Delete(key))
}

// Iterate calls fn with every key under prefix and its value, in key order,
// until fn returns an error. key and value are valid only during the call.
func (t *Txn) Iterate(prefix []byte, fn func(key, value []byte) error) error {
	it := t.txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true, PrefetchSize: 256})
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		item := it.Item()
		if err := item.Value(func(v []byte) error { return fn(item.Key(), v) }); err != nil {
			return err
		}
	}
	return nil
}

// Head is the head as this transaction sees it, moves included.
func (t *Txn) Head() (chain.Header, chain.Hash) { return t.head, t.hash }

// BlockByHeight reads the block at height h of the chain this transaction sees.
func (t *Txn) BlockByHeight(h uint64) (*chain.Block, error) { return blockAt(t.txn, h) }

// AccountBefore is an account as it was before a block changed it: absent
// (Existed false) or Account.
type AccountBefore struct {
	Addr    string
	Existed bool
	Account chain.Account
}

// ApplyBlock runs b on the head this transaction sees, checks its tx root
// and state root, and writes it as the new head with its indexes and the
// accounts it changed, which it returns as they were before (what
// UnapplyHead needs to take b off again). A block that does not follow the
// head, or whose checks fail, is an ErrInvalidBlock error.
func (t *Txn) ApplyBlock(params *chain.Params, b *chain.Block) ([]AccountBefore, error) {
	if err := t.follows(b); err != nil {
		return nil, err
	}
	if err := checkRoots(b); err != nil {
		return nil, err
	}
	return t.applyBlock(params, b, true)
}

func (t *Txn) follows(b *chain.Block) error {
	if b.Header.Height != t.head.Height+1 || b.Header.Parent != t.hash {
		return fmt.Errorf("%w: block %d with parent %s does not follow head %d (%s)",
			chain.ErrInvalidBlock, b.Header.Height, b.Header.Parent, t.head.Height, t.hash)
	}
	return nil
}

// applyBlock is ApplyBlock after the follow and root checks; it reads the
// accounts' previous values only when before is set (raft never rolls back).
func (t *Txn) applyBlock(params *chain.Params, b *chain.Block, before bool) ([]AccountBefore, error) {
	ex := chain.NewExecutor(params, txnState{t.txn})
	nonces := make([]uint64, len(b.Txs))
	for i := range b.Txs {
		if t.s.beforeTxWrite != nil {
			if err := t.s.beforeTxWrite(i); err != nil {
				return nil, err
			}
		}
		n, err := ex.Apply(&b.Txs[i])
		if err != nil {
			return nil, fmt.Errorf("%w: block %d tx %d (%s): %w", chain.ErrInvalidBlock, b.Header.Height, i, b.Txs[i].Hash(), err)
		}
		nonces[i] = n
	}
	changes := ex.Changes()
	if root := chain.StateRoot(t.head.StateRoot, changes); root != b.Header.StateRoot {
		return nil, fmt.Errorf("%w: block %d state root %s, the header says %s", chain.ErrInvalidBlock, b.Header.Height, root, b.Header.StateRoot)
	}
	var prev []AccountBefore
	if before {
		prev = make([]AccountBefore, 0, len(changes))
	}
	for addr, a := range changes {
		if before {
			was, existed, err := readAccount(t.txn, addr)
			if err != nil {
				return nil, err
			}
			prev = append(prev, AccountBefore{Addr: addr, Existed: existed, Account: was})
		}
		if err := t.txn.Set(acctKey(addr), encodeAccount(a)); err != nil {
			return nil, fmt.Errorf("write account %s: %w", addr, tooBig(err))
		}
	}
	if err := writeBlock(t.txn, b, nonces); err != nil {
		return nil, tooBig(err)
	}
	t.head, t.hash, t.moved = b.Header, b.Hash(), true
	return prev, nil
}

// UnapplyHead takes the head block off the chain: it restores the accounts
// it changed to before (as ApplyBlock returned them), removes the block and
// its transactions from the indexes, and makes its parent the head. It
// returns the block it took off.
func (t *Txn) UnapplyHead(before []AccountBefore) (*chain.Block, error) {
	h := t.head.Height
	if h == 0 {
		return nil, fmt.Errorf("%w: the genesis block cannot be taken off", chain.ErrInvalidBlock)
	}
	b, err := blockAt(t.txn, h)
	if err != nil {
		return nil, fmt.Errorf("take off block %d: %w", h, err)
	}
	parent, err := blockAt(t.txn, h-1)
	if err != nil {
		return nil, fmt.Errorf("take off block %d: parent: %w", h, err)
	}
	for _, u := range before {
		if u.Existed {
			err = t.txn.Set(acctKey(u.Addr), encodeAccount(u.Account))
		} else {
			err = t.txn.Delete(acctKey(u.Addr))
		}
		if err != nil {
			return nil, fmt.Errorf("take off block %d: restore account %s: %w", h, u.Addr, tooBig(err))
		}
	}
	for i := range b.Txs {
		th := b.Txs[i].Hash()
		if err := t.txn.Delete(withPrefix(prefixTx, th[:]...)); err != nil {
			return nil, fmt.Errorf("take off block %d: tx index: %w", h, tooBig(err))
		}
	}
	bh := b.Hash()
	ph := parent.Hash()
	for _, k := range [][]byte{withPrefix(prefixHeight, be64(h)...), withPrefix(prefixBlockH, bh[:]...)} {
		if err := t.txn.Delete(k); err != nil {
			return nil, fmt.Errorf("take off block %d: %w", h, tooBig(err))
		}
	}
	if err := t.txn.Set(keyHead, append(be64(h-1), ph[:]...)); err != nil {
		return nil, fmt.Errorf("take off block %d: write head: %w", h, tooBig(err))
	}
	t.head, t.hash, t.moved = parent.Header, ph, true
	return b, nil
}

// Batch is a write-only batch of raw keys, larger than one transaction may
// be and not atomic beyond what Badger flushes together: for records whose
// order of writes, not their atomicity, keeps them consistent (the raft log
// writes its entries before the hard state that commits them). A Batch is
// used from one goroutine.
type Batch struct{ wb *badger.WriteBatch }

// WriteBatch checks the disk has room, runs fn on a new batch and flushes it
// when fn returns nil.
func (s *Store) WriteBatch(fn func(*Batch) error) error {
	if err := s.disk.check(); err != nil {
		return err
	}
	wb := s.db.NewWriteBatch()
	defer wb.Cancel()
	if err := fn(&Batch{wb}); err != nil {
		return err
	}
	return wb.Flush()
}

// Set writes key.
func (b *Batch) Set(key, value []byte) error {
	if err := checkKey(key); err != nil {
		return err
	}
	return b.wb.Set(key, value)
}

// Delete removes key.
func (b *Batch) Delete(key []byte) error {
	if err := checkKey(key); err != nil {
		return err
	}
	return b.wb.Delete(key)
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

// tooBig marks Badger's transaction-size error with ErrTxnTooBig.
func tooBig(err error) error {
	if errors.Is(err, badger.ErrTxnTooBig) {
		return fmt.Errorf("%w: %w", ErrTxnTooBig, err)
	}
	return err
}
