package pow

import (
	"context"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chainotel/chainotel/node/chain"
)

func TestMinerSealsTheHeaderOnAnyNumberOfGoroutines(t *testing.T) {
	for _, threads := range []int{1, 3} {
		m := NewMiner(threads, 0)
		h := chain.Header{ChainID: "c", Height: 3, Time: 99, Difficulty: 1024}
		sealed, attempts, ok := m.Mine(t.Context(), h)
		require.True(t, ok)
		require.True(t, MeetsTarget(sealed.Hash(), 1024))
		require.Positive(t, attempts)
		require.Equal(t, attempts, m.Hashes(), "the hash counter (hash rate) counts every attempt")
		sealed.Nonce = h.Nonce
		require.Equal(t, h, sealed, "only the nonce changes")
	}
}

func TestMinerStopsWhenItsContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	h := chain.Header{ChainID: "c", Height: 3, Difficulty: math.MaxUint64} // no nonce meets it
	for _, limit := range []float64{0, 10} {
		got, _, ok := NewMiner(2, limit).Mine(ctx, h)
		require.False(t, ok)
		require.Equal(t, h, got)
	}
}
