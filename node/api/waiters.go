package api

import (
	"sync"

	"github.com/chainotel/chainotel/node/chain"
)

// Receipt says where a transaction was committed.
type Receipt struct {
	TxHash    chain.Hash `json:"tx_hash"`
	BlockHash chain.Hash `json:"block_hash"`
	Height    uint64     `json:"height"`
}

// waiters wakes the requests waiting for their transactions to commit, by
// transaction hash. Several requests may wait on one hash (the same signed
// transaction posted twice). Safe for concurrent use.
type waiters struct {
	mu sync.Mutex
	m  map[chain.Hash][]chan Receipt
}

func newWaiters() *waiters { return &waiters{m: make(map[chain.Hash][]chan Receipt)} }

// add registers interest in h; the channel receives its receipt once.
func (w *waiters) add(h chain.Hash) chan Receipt {
	ch := make(chan Receipt, 1)
	w.mu.Lock()
	w.m[h] = append(w.m[h], ch)
	w.mu.Unlock()
	return ch
}

// remove withdraws one registration made by add.
func (w *waiters) remove(h chain.Hash, ch chan Receipt) {
	w.mu.Lock()
	defer w.mu.Unlock()
	list := w.m[h]
	for i, c := range list {
		if c == ch {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(w.m, h)
	} else {
		w.m[h] = list
	}
}

func (w *waiters) empty() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.m) == 0
}

// notify wakes the waiters of b's transactions.
func (w *waiters) notify(b *chain.Block) {
	if w.empty() { // nobody waits on this node: skip hashing the block
		return
	}
	bh := b.Hash()
	hashes := make([]chain.Hash, len(b.Txs))
	for i := range b.Txs {
		hashes[i] = b.Txs[i].Hash()
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, h := range hashes {
		for _, ch := range w.m[h] {
			ch <- Receipt{TxHash: h, BlockHash: bh, Height: b.Header.Height}
		}
		delete(w.m, h)
	}
}
