package api

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chainotel/chainotel/node/chain"
)

func TestWaitersWakeEveryWaiterOfAHash(t *testing.T) {
	w := newWaiters()
	tx := chain.Tx{From: "0xabc", To: "0xdef", Amount: 1}
	h := tx.Hash()
	first, second, gone := w.add(h), w.add(h), w.add(h)
	w.remove(h, gone) // e.g. that request's submission failed
	b := &chain.Block{Header: chain.Header{Height: 3}, Txs: []chain.Tx{tx}}
	w.notify(b)
	for _, ch := range []chan Receipt{first, second} {
		select {
		case rc := <-ch:
			require.Equal(t, Receipt{TxHash: h, BlockHash: b.Hash(), Height: 3}, rc)
		default:
			t.Fatal("a waiter was not woken")
		}
	}
	require.Empty(t, gone)
	require.True(t, w.empty())
}
