package pow

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chainotel/chainotel/node/chain"
)

func testParams() *chain.PoWParams {
	return &chain.PoWParams{
		TargetBlockTime:   chain.Duration{Duration: time.Second},
		InitialDifficulty: 64,
		MinDifficulty:     1,
		RetargetWindow:    4,
		MaxAdjust:         4,
		MaxFutureDrift:    chain.Duration{Duration: 2 * time.Second},
	}
}

func TestHeaderHashCoversTheSealAndTheNonceIsLast(t *testing.T) {
	h := chain.Header{ChainID: "c", Height: 7, Time: 42, Difficulty: 1000, Nonce: 0x0102030405060708}
	enc, err := h.AppendBinary(nil)
	require.NoError(t, err)
	require.Equal(t, chain.Hash(sha256.Sum256(enc)), h.Hash(), "the hash is SHA-256 of the canonical encoding")
	require.Equal(t, uint64(0x0102030405060708), binary.BigEndian.Uint64(enc[len(enc)-chain.NonceBytes:]))

	// The miner rewrites the nonce in place; the result must be the header's hash.
	h2 := h
	h2.Nonce = 99
	require.Equal(t, h2.Hash(), chain.Hash(hashAt(enc, 99)))

	// Every sealed field changes the hash.
	for name, mut := range map[string]func(*chain.Header){
		"nonce":      func(x *chain.Header) { x.Nonce++ },
		"difficulty": func(x *chain.Header) { x.Difficulty++ },
		"time":       func(x *chain.Header) { x.Time++ },
		"parent":     func(x *chain.Header) { x.Parent[0] ^= 1 },
		"tx root":    func(x *chain.Header) { x.TxRoot[0] ^= 1 },
		"state root": func(x *chain.Header) { x.StateRoot[0] ^= 1 },
		"height":     func(x *chain.Header) { x.Height++ },
	} {
		x := h
		mut(&x)
		require.NotEqual(t, h.Hash(), x.Hash(), name)
	}

	// The encoding round-trips.
	var back chain.Header
	enc, _ = h.AppendBinary(nil)
	require.NoError(t, back.UnmarshalBinary(enc))
	require.Equal(t, h, back)
}

func TestMeetsTarget(t *testing.T) {
	var low, high chain.Hash
	binary.BigEndian.PutUint64(low[:], 0)
	binary.BigEndian.PutUint64(high[:], math.MaxUint64)
	require.True(t, MeetsTarget(high, 1), "difficulty 1: every hash")
	require.True(t, MeetsTarget(low, 1<<40))
	require.False(t, MeetsTarget(high, 2))

	var edge chain.Hash
	binary.BigEndian.PutUint64(edge[:], Target(1000))
	require.True(t, MeetsTarget(edge, 1000))
	binary.BigEndian.PutUint64(edge[:], Target(1000)+1)
	require.False(t, MeetsTarget(edge, 1000))
}

func TestRetargetRule(t *testing.T) {
	p := testParams() // window 4: 3 intervals, 3 s expected
	tests := []struct {
		name string
		d    uint64
		took time.Duration
		want uint64
	}{
		{"on target", 1000, 3 * time.Second, 1000},
		{"twice as fast doubles", 1000, 1500 * time.Millisecond, 2000},
		{"twice as slow halves", 1000, 6 * time.Second, 500},
		{"much faster is bounded by max_adjust", 1000, time.Millisecond, 4000},
		{"no time at all is bounded too", 1000, 0, 4000},
		{"much slower is bounded by max_adjust", 1000, time.Hour, 250},
		{"never below min_difficulty", 2, time.Hour, 1},
		{"huge difficulty does not overflow", 1 << 47, time.Nanosecond, p.MaxDifficulty()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, Retarget(p, tt.d, tt.took))
		})
	}
}

func TestNextDifficultyHoldsWithinAWindowAndRetargetsAtItsEnd(t *testing.T) {
	p := testParams()
	// A chain where every block came 0.5 s after its parent: twice too fast.
	headers := []chain.Header{{Height: 0, Time: 0}}
	ancestor := func(h uint64) (chain.Header, error) {
		if h >= uint64(len(headers)) {
			return chain.Header{}, errors.New("beyond the chain")
		}
		return headers[h], nil
	}
	for h := uint64(1); h <= 9; h++ {
		d, err := NextDifficulty(p, headers[h-1], ancestor)
		require.NoError(t, err)
		headers = append(headers, chain.Header{Height: h, Time: int64(h) * int64(500*time.Millisecond), Difficulty: d})
	}
	require.Equal(t, uint64(64), headers[1].Difficulty, "block 1 has the initial difficulty")
	require.Equal(t, uint64(64), headers[4].Difficulty, "the window holds it")
	require.Equal(t, uint64(128), headers[5].Difficulty, "block 5 starts a window: 1.5 s for 3 s of target doubles it")
	require.Equal(t, uint64(128), headers[8].Difficulty)
	require.Equal(t, uint64(256), headers[9].Difficulty)
}

func TestCheckHeaderRejectsEachKindOfBadHeader(t *testing.T) {
	p := testParams()
	now := time.Unix(1_800_000_000, 0)
	parent := chain.Header{ChainID: "c", Height: 4, Time: now.Add(-time.Second).UnixNano(), Difficulty: 64}
	valid := func() chain.Header {
		h := chain.Header{ChainID: "c", Height: 5, Parent: parent.Hash(), Time: now.UnixNano(), Difficulty: 64}
		sealed, _, ok := NewMiner(1, 0).Mine(t.Context(), h)
		require.True(t, ok)
		return sealed
	}
	good := valid()
	require.NoError(t, CheckHeader(p, "c", &parent, &good, 64, now))

	// reseal re-mines h after a change so only the intended rule fails.
	reseal := func(h chain.Header) chain.Header {
		out, _, ok := NewMiner(1, 0).Mine(t.Context(), h)
		require.True(t, ok)
		return out
	}
	tests := []struct {
		name string
		mut  func(h chain.Header) chain.Header
		want error
	}{
		{"wrong chain", func(h chain.Header) chain.Header { h.ChainID = "other"; return reseal(h) }, ErrWrongChain},
		{"wrong height", func(h chain.Header) chain.Header { h.Height = 7; return reseal(h) }, ErrBadHeight},
		{"wrong difficulty", func(h chain.Header) chain.Header { h.Difficulty = 32; return reseal(h) }, ErrBadDifficulty},
		{"no proof of work", func(h chain.Header) chain.Header {
			for !MeetsTarget(h.Hash(), 1<<40) && MeetsTarget(h.Hash(), 64) {
				h.Nonce++
			}
			return h
		}, ErrBadProofOfWork},
		{"time not after the parent", func(h chain.Header) chain.Header { h.Time = parent.Time; return reseal(h) }, ErrBadTime},
		{"time in the future", func(h chain.Header) chain.Header { h.Time = now.Add(time.Minute).UnixNano(); return reseal(h) }, ErrFutureBlock},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.mut(good)
			err := CheckHeader(p, "c", &parent, &h, 64, now)
			require.ErrorIs(t, err, tt.want)
			require.ErrorIs(t, err, chain.ErrInvalidBlock)
		})
	}
}

func TestCheckTxsRejectsEachKindOfBadBody(t *testing.T) {
	params := chain.DefaultParams()
	params.BlockMaxTxs = 2
	tx := func(amount uint64) chain.Tx { return chain.Tx{From: "0xabc", To: "0xdef", Amount: amount} }
	block := func(txs ...chain.Tx) *chain.Block {
		return &chain.Block{Header: chain.Header{TxRoot: chain.TxRoot(txs), TxCount: uint32(len(txs))}, Txs: txs}
	}
	require.NoError(t, CheckTxs(&params, "c", block(tx(1), tx(2))))

	tests := []struct {
		name string
		b    *chain.Block
	}{
		{"count differs", func() *chain.Block { b := block(tx(1)); b.Header.TxCount = 2; return b }()},
		{"tx root differs", func() *chain.Block { b := block(tx(1)); b.Txs[0].Amount = 5; return b }()},
		{"too many txs", block(tx(1), tx(2), tx(3))},
		{"malformed tx", block(chain.Tx{From: "abc", To: "0xdef", Amount: 1})},
		{"zero amount", block(tx(0))},
		{"not canonical", block(chain.Tx{From: "0xABC", To: "0xdef", Amount: 1})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.ErrorIs(t, CheckTxs(&params, "c", tt.b), ErrBadTxs)
		})
	}
}
