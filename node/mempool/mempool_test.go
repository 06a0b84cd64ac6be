package mempool

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/chainotel/chainotel/node/chain"
	"github.com/chainotel/chainotel/node/store"
)

func u64(v uint64) *uint64 { return &v }

func setup(t *testing.T, max int) (*Pool, *store.Store, *chain.Genesis) {
	t.Helper()
	s, err := store.Open(t.TempDir(), nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	g := chain.DevGenesis([]string{"node0"}, time.Unix(1_700_000_000, 0))
	g.Accounts = append(g.Accounts, chain.GenesisAccount{Address: "0x5", Balance: 100})
	require.NoError(t, s.InitGenesis(g))
	return New(max, noop.NewTracerProvider().Tracer("test")), s, g
}

func TestAdmissionCountsPending(t *testing.T) {
	p, s, g := setup(t, 100)
	ctx := context.Background()
	add := func(tx chain.Tx) error { return p.Add(ctx, tx, tx.Hash(), s, &g.Consensus) }

	// Two nonce-less txs from one sender, then the explicit nonce after them.
	require.NoError(t, add(chain.Tx{From: "0x5", To: "0x6", Amount: 30, ID: "a"}))
	require.NoError(t, add(chain.Tx{From: "0x5", To: "0x6", Amount: 30, ID: "b"}))
	require.ErrorIs(t, add(chain.Tx{From: "0x5", To: "0x6", Amount: 1, Nonce: u64(0)}), chain.ErrBadNonce)
	require.ErrorIs(t, add(chain.Tx{From: "0x5", To: "0x6", Amount: 50, Nonce: u64(2)}), chain.ErrInsufficientFunds,
		"60 of the 100 are already pending")
	require.NoError(t, add(chain.Tx{From: "0x5", To: "0x6", Amount: 40, Nonce: u64(2)}))

	dup := chain.Tx{From: "0x5", To: "0x6", Amount: 30, ID: "a"}
	require.ErrorIs(t, add(dup), ErrDuplicate)
	require.Equal(t, 3, p.Len())

	// The leader cuts a block of the first two and applies it.
	txs := p.Take(2, 1<<20)
	require.Len(t, txs, 2)
	head, hash := s.Head()
	b, rejected, err := chain.BuildBlock(&g.Consensus, s, head, hash, txs, "node0", time.Now())
	require.NoError(t, err)
	require.Empty(t, rejected)
	require.NoError(t, p.Settle(b.Txs, func() error {
		_, err := s.ApplyBlock(ctx, b, &g.Consensus, 1)
		return err
	}))
	require.Equal(t, 1, p.Len())
	// Now the committed copy of "a" is a duplicate too, and the next nonce is 3.
	require.ErrorIs(t, add(dup), ErrDuplicate)
	require.ErrorIs(t, add(chain.Tx{From: "0x5", To: "0x6", Amount: 1, Nonce: u64(2)}), chain.ErrBadNonce)
	require.ErrorIs(t, add(chain.Tx{From: "0x5", To: "0x6", Amount: 1, Nonce: u64(3)}), chain.ErrInsufficientFunds,
		"40 left, all pending")
}

func TestFullAndRelease(t *testing.T) {
	p, s, g := setup(t, 2)
	ctx := context.Background()
	for i, id := range []string{"a", "b"} {
		tx := chain.Tx{From: "0xabc", To: "0xdef", Amount: uint64(i + 1), ID: id}
		require.NoError(t, p.Add(ctx, tx, tx.Hash(), s, &g.Consensus))
	}
	extra := chain.Tx{From: "0xabc", To: "0xdef", Amount: 9, ID: "c"}
	require.ErrorIs(t, p.Add(ctx, extra, extra.Hash(), s, &g.Consensus), ErrFull)

	n, _ := p.Queued()
	require.Equal(t, 2, n)
	taken := p.Take(10, 1<<20)
	n, _ = p.Queued()
	require.Equal(t, 0, n)
	require.Equal(t, 2, p.Len(), "taken txs still count until settled")
	p.Release(taken)
	require.Equal(t, 0, p.Len())
	require.NoError(t, p.Add(ctx, extra, extra.Hash(), s, &g.Consensus))
	require.Len(t, p.Drain(), 1)
	require.Equal(t, 0, p.Len())
}

func TestSetMax(t *testing.T) {
	p, s, g := setup(t, 1)
	ctx := context.Background()
	add := func(id string) error {
		tx := chain.Tx{From: "0x5", To: "0x6", Amount: 1, ID: id}
		return p.Add(ctx, tx, tx.Hash(), s, &g.Consensus)
	}
	require.NoError(t, add("a"))
	require.ErrorIs(t, add("b"), ErrFull)
	p.SetMax(2)
	require.Equal(t, 2, p.Max())
	require.NoError(t, add("b"), "a raised bound admits at once")
	p.SetMax(1)
	require.ErrorIs(t, add("c"), ErrFull, "a lowered bound refuses new ones and keeps the pending")
	require.Equal(t, 2, p.Len())
}
