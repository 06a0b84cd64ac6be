package chain

import (
	"crypto/ed25519"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func u64(v uint64) *uint64 { return &v }

// mapState is a StateReader over a map, standing in for the store in these
// pure-logic tests.
type mapState map[string]Account

var _ StateReader = mapState(nil)

func (m mapState) Account(addr string) (Account, error) { return m[addr], nil }

func TestCheckFormat(t *testing.T) {
	key := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	signer := AddressFromPubKey(key.Public().(ed25519.PublicKey))
	signed := func(mut func(*Tx)) Tx {
		tx := Tx{From: signer, To: "0xdef", Amount: 5, Nonce: u64(0)}
		tx.Sign(DevChainID, key)
		if mut != nil {
			mut(&tx)
		}
		return tx
	}
	tests := []struct {
		name    string
		tx      Tx
		require bool
		want    error
		field   string
	}{
		{name: "plain transfer", tx: Tx{From: "0xabc", To: "0xDEF", Amount: 1}},
		{name: "typed", tx: Tx{From: "0xabc", To: "0xdef", Amount: 1, Type: "stake"}},
		{name: "no 0x", tx: Tx{From: "abc", To: "0xdef", Amount: 1}, want: ErrMalformed, field: "from"},
		{name: "non-hex", tx: Tx{From: "0xabc", To: "0xxyz", Amount: 1}, want: ErrMalformed, field: "to"},
		{name: "too long", tx: Tx{From: "0x0123456789012345678901234567890123456789a", To: "0xdef", Amount: 1}, want: ErrMalformed, field: "from"},
		{name: "empty address", tx: Tx{From: "0x", To: "0xdef", Amount: 1}, want: ErrMalformed, field: "from"},
		{name: "zero amount", tx: Tx{From: "0xabc", To: "0xdef"}, want: ErrMalformed, field: "amount"},
		{name: "unknown type", tx: Tx{From: "0xabc", To: "0xdef", Amount: 1, Type: "mint"}, want: ErrMalformed, field: "type"},
		{name: "unsigned where required", tx: Tx{From: "0xabc", To: "0xdef", Amount: 1}, require: true, want: ErrBadSignature, field: "signature"},
		{name: "signed", tx: signed(nil), require: true},
		{name: "signature over other amount", tx: signed(func(tx *Tx) { tx.Amount = 6 }), want: ErrBadSignature, field: "signature"},
		{name: "key of another sender", tx: signed(func(tx *Tx) { tx.From = "0xabc" }), want: ErrBadSignature, field: "pubkey"},
		{name: "signed without nonce", tx: signed(func(tx *Tx) { tx.Nonce = nil }), want: ErrBadNonce, field: "nonce"},
		{name: "pubkey not hex", tx: signed(func(tx *Tx) { tx.PubKey = "zz" }), want: ErrMalformed, field: "pubkey"},
		{name: "short signature", tx: signed(func(tx *Tx) { tx.Signature = "abcd" }), want: ErrMalformed, field: "signature"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tx := tt.tx
			err := tx.CheckFormat(DevChainID, tt.require)
			if tt.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tt.want)
			var fe *FieldError
			require.True(t, errors.As(err, &fe), "want a FieldError, got %T", err)
			require.Equal(t, tt.field, fe.Field)
		})
	}
}

func TestExecutorStateTransitionAndGas(t *testing.T) {
	params := DefaultParams()
	params.MinGasPrice = 1 // a fee of 21000 is needed
	base := mapState{"0xabc": {Balance: 100_000, Nonce: 3}, "0xfull": {Balance: ^uint64(0)}}
	tests := []struct {
		name  string
		tx    Tx
		want  error
		field string
	}{
		{name: "ok with nonce", tx: Tx{From: "0xabc", To: "0xdef", Amount: 10, Nonce: u64(3), Fee: 21000}},
		{name: "ok without nonce", tx: Tx{From: "0xabc", To: "0xdef", Amount: 10, Fee: 21000}},
		{name: "stale nonce", tx: Tx{From: "0xabc", To: "0xdef", Amount: 10, Nonce: u64(2), Fee: 21000}, want: ErrBadNonce, field: "nonce"},
		{name: "future nonce", tx: Tx{From: "0xabc", To: "0xdef", Amount: 10, Nonce: u64(4), Fee: 21000}, want: ErrBadNonce, field: "nonce"},
		{name: "insufficient", tx: Tx{From: "0xabc", To: "0xdef", Amount: 90_000, Fee: 21000}, want: ErrInsufficientFunds, field: "amount"},
		{name: "unknown sender", tx: Tx{From: "0x999", To: "0xdef", Amount: 1, Fee: 21000}, want: ErrInsufficientFunds, field: "amount"},
		{name: "fee below gas", tx: Tx{From: "0xabc", To: "0xdef", Amount: 1, Fee: 20999}, want: ErrFeeTooLow, field: "fee"},
		{name: "amount plus fee overflows", tx: Tx{From: "0xabc", To: "0xdef", Amount: ^uint64(0), Fee: 21000}, want: ErrMalformed, field: "amount"},
		{name: "recipient overflows", tx: Tx{From: "0xabc", To: "0xfull", Amount: 1, Fee: 21000}, want: ErrOverflow, field: "to"},
		{name: "unstake more than staked", tx: Tx{From: "0xabc", To: "0xabc", Amount: 1, Type: "unstake", Fee: 21000}, want: ErrInsufficientFunds, field: "amount"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ex := NewExecutor(&params, base)
			nonce, err := ex.Apply(&tt.tx)
			if tt.want == nil {
				require.NoError(t, err)
				require.Equal(t, uint64(3), nonce)
				from, _ := ex.Account("0xabc")
				to, _ := ex.Account("0xdef")
				require.Equal(t, Account{Balance: 100_000 - 10 - 21000, Nonce: 4}, from)
				require.Equal(t, Account{Balance: 10}, to)
				return
			}
			require.ErrorIs(t, err, tt.want)
			var fe *FieldError
			require.ErrorAs(t, err, &fe)
			require.Equal(t, tt.field, fe.Field)
			require.Empty(t, ex.Changes(), "a failed tx changes nothing")
		})
	}
}

func TestStakeRoundTrip(t *testing.T) {
	params := DefaultParams()
	ex := NewExecutor(&params, mapState{"0xabc": {Balance: 100}})
	_, err := ex.Apply(&Tx{From: "0xabc", To: "0xabc", Amount: 60, Type: "stake"})
	require.NoError(t, err)
	_, err = ex.Apply(&Tx{From: "0xabc", To: "0xabc", Amount: 50, Type: "unstake"})
	require.NoError(t, err)
	got, _ := ex.Account("0xabc")
	require.Equal(t, Account{Balance: 90, Nonce: 2, Staked: 10}, got)
}

func TestHashesAreStableAndDistinct(t *testing.T) {
	a := Tx{From: "0xabc", To: "0xdef", Amount: 1}
	b := a
	require.Equal(t, a.Hash(), b.Hash())
	b.ID = "x"
	require.NotEqual(t, a.Hash(), b.Hash(), "the receiving node's id makes two identical bodies two txs")
	b = a
	b.TraceParent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	require.Equal(t, a.Hash(), b.Hash(), "trace context is not identity")
	b = a
	b.Type = "transfer"
	require.Equal(t, a.Hash(), b.Hash(), "transfer is the default type")
}

func TestBlockBinaryRoundTrip(t *testing.T) {
	blk := Block{
		Header: Header{ChainID: DevChainID, Height: 7, Time: time.Now().UnixNano(), Proposer: "node0", TxCount: 2},
		Txs: []Tx{
			{From: "0xabc", To: "0xdef", Amount: 1, Nonce: u64(0), ID: "i", TraceParent: "tp"},
			{From: "0xabc", To: "0xdef", Amount: 2, Type: "stake", Fee: 9},
		},
	}
	blk.Header.TxRoot = TxRoot(blk.Txs)
	raw, err := blk.MarshalBinary()
	require.NoError(t, err)
	var got Block
	require.NoError(t, got.UnmarshalBinary(raw))
	require.Equal(t, blk, got)
	require.Equal(t, blk.Hash(), got.Hash())

	require.ErrorIs(t, got.UnmarshalBinary(raw[:len(raw)-3]), ErrCorrupt)
}

func TestTxRoot(t *testing.T) {
	require.True(t, TxRoot(nil).IsZero())
	one := []Tx{{From: "0xa", To: "0xb", Amount: 1}}
	require.Equal(t, one[0].Hash(), TxRoot(one))
	three := append(one, Tx{From: "0xa", To: "0xb", Amount: 2}, Tx{From: "0xa", To: "0xb", Amount: 3})
	require.NotEqual(t, TxRoot(three[:2]), TxRoot(three))
}

func TestGenesisRoundTripAndValidate(t *testing.T) {
	g := DevGenesis([]string{"node0", "node1", "node2"}, time.Now())
	require.NoError(t, g.Validate())
	path := t.TempDir() + "/genesis.json"
	require.NoError(t, g.Write(path))
	back, err := LoadGenesis(path)
	require.NoError(t, err)
	require.Equal(t, g.Hash(), back.Hash())
	require.Equal(t, DevBalance, back.Alloc()["0xabc"].Balance)

	bad := *g
	bad.Validators = []string{"node0", "node0"}
	require.ErrorContains(t, bad.Validate(), "validators[1]")
	bad = *g
	bad.Consensus.BlockMaxTxs = 0
	require.ErrorContains(t, bad.Validate(), "consensus.block_max_txs")

	_, err = LoadGenesis(t.TempDir() + "/none.json")
	require.ErrorContains(t, err, "make init")
}

func TestOverlayReadsNewestLayerFirst(t *testing.T) {
	o := Overlay{Base: mapState{"0xa": {Balance: 1}, "0xb": {Balance: 2}},
		Layers: []map[string]Account{{"0xa": {Balance: 10}}, {"0xa": {Balance: 100}}}}
	a, _ := o.Account("0xa")
	b, _ := o.Account("0xb")
	require.Equal(t, uint64(100), a.Balance)
	require.Equal(t, uint64(2), b.Balance)
}
