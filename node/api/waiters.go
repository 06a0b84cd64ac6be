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
// transaction hash. Safe for concurrent use.
type waiters struct {
	mu sync.Mutex
	m  map[chain.Hash]chan Receipt
}

func newWaiters() *waiters { return &waiters{m: make(map[chain.Hash]chan Receipt)} }

// add registers interest in h; the channel receives its receipt once.
func (w *waiters) add(h chain.Hash) <-chan Receipt {
	ch := make(chan Receipt, 1)
	w.mu.Lock()
	w.m[h] = ch
	w.mu.Unlock()
	return ch
}

func (w *waiters) remove(h chain.Hash) {
	w.mu.Lock()
	delete(w.m, h)
	w.mu.Unlock()
}

// notify wakes the waiters of b's transactions.
func (w *waiters) notify(b *chain.Block) {
	bh := b.Hash()
	hashes := make([]chain.Hash, len(b.Txs))
	for i := range b.Txs {
		hashes[i] = b.Txs[i].Hash()
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.m) == 0 {
		return
	}
	for _, h := range hashes {
		if ch, ok := w.m[h]; ok {
			ch <- Receipt{TxHash: h, BlockHash: bh, Height: b.Header.Height}
			delete(w.m, h)
		}
	}
}
