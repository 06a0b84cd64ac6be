package chain

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// The binary decoders read what peers send (raft entries, fetched blocks,
// forwarded transactions), so any bytes must give a block or ErrCorrupt, never
// a panic or an allocation out of proportion to the input, and whatever
// decodes must survive a round trip unchanged.

func FuzzBlockUnmarshal(f *testing.F) {
	for _, b := range seedBlocks() {
		raw, err := b.MarshalBinary()
		require.NoError(f, err)
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var b Block
		if err := b.UnmarshalBinary(data); err != nil {
			require.ErrorIs(t, err, ErrCorrupt)
			return
		}
		raw, err := b.MarshalBinary()
		require.NoError(t, err)
		var again Block
		require.NoError(t, again.UnmarshalBinary(raw), "a decoded block must re-decode from its own encoding")
		require.Equal(t, b, again)
		require.Equal(t, b.Hash(), again.Hash())
		require.Equal(t, TxRoot(b.Txs), TxRoot(again.Txs))
	})
}

func FuzzTxUnmarshal(f *testing.F) {
	for _, b := range seedBlocks() {
		for i := range b.Txs {
			raw, err := b.Txs[i].AppendBinary(nil)
			require.NoError(f, err)
			f.Add(raw)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var tx Tx
		if err := tx.UnmarshalBinary(data); err != nil {
			require.ErrorIs(t, err, ErrCorrupt)
			return
		}
		raw, err := tx.AppendBinary(nil)
		require.NoError(t, err)
		var again Tx
		require.NoError(t, again.UnmarshalBinary(raw))
		require.Equal(t, tx, again)
		require.Equal(t, tx.Hash(), again.Hash())
		// Validation of what a peer forwards must fail cleanly too.
		if err := again.CheckFormat("chainotel-dev", false); err != nil {
			require.NotEmpty(t, err.Error())
		}
	})
}

// seedBlocks are valid blocks: empty, unsigned and signed transfers, every
// optional field set.
func seedBlocks() []*Block {
	nonce := uint64(7)
	signed := Tx{From: "0xabc", To: "0xdef", Amount: 5, Nonce: &nonce, Fee: 21, Type: "stake"}
	signed.PubKey, signed.Signature = "00112233", "44556677"
	return []*Block{
		{Header: Header{ChainID: "chainotel-dev"}, Txs: []Tx{}},
		{
			Header: Header{ChainID: "chainotel-dev", Height: 3, Parent: Hash{1}, Time: 1_700_000_000, TxRoot: Hash{2}, StateRoot: Hash{3}, Proposer: "node0", TxCount: 2},
			Txs: []Tx{
				{From: "0xabc", To: "0xdef", Amount: 1, ID: "0123abcd", TraceParent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
				signed,
			},
		},
	}
}

// TestBlockCountBeyondItsBytes: a block claiming more transactions than its
// bytes can hold is refused before anything is allocated for them.
func TestBlockCountBeyondItsBytes(t *testing.T) {
	raw, err := (&Block{Header: Header{ChainID: "c"}}).MarshalBinary()
	require.NoError(t, err)
	raw = raw[:len(raw)-1]                                // drop the count of 0...
	raw = append(raw, 0xe8, 0x07)                         // ...claim 1000 txs...
	raw = append(raw, make([]byte, 1000*minTxBytes-1)...) // ...in one byte too few
	var b Block
	err = b.UnmarshalBinary(raw)
	require.ErrorIs(t, err, ErrCorrupt)
	require.ErrorContains(t, err, "1000 txs cannot fit in 13999 bytes")

	var tx Tx
	enc, err := (&Tx{From: "0xa", To: "0xb", Amount: 1}).AppendBinary(nil)
	require.NoError(t, err)
	enc[1+3+1+3+1+1+8] = 2 // the nonce flag after from, to, amount and type
	require.ErrorContains(t, tx.UnmarshalBinary(enc), "nonce flag 2, want 0 or 1")
}
