package p2p

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/chainotel/chainotel/node/chain"
)

// peerMessages are fresh values of every message type a node decodes from a
// peer, indexed by the fuzzer's first argument.
var peerMessages = []func() any{
	func() any { return new(raftBatch) },
	func() any { return new(txBatch) },
	func() any { return new(blockBatch) },
	func() any { return new(Hello) },
	func() any { return new(fetchRequest) },
	func() any { return new(forwardResult) },
}

// FuzzPeerCodec decodes arbitrary bytes as each message a peer can send or
// answer with: the codec must refuse them with an error or decode a value
// that survives its own round trip, never panic.
func FuzzPeerCodec(f *testing.F) {
	nonce := uint64(3)
	block := &chain.Block{Header: chain.Header{ChainID: "chainotel-dev", Height: 2, Proposer: "node1", TxCount: 1},
		Txs: []chain.Tx{{From: "0xabc", To: "0xdef", Amount: 9, Nonce: &nonce, Fee: 1}}}
	seeds := []any{
		&raftBatch{msgs: []raftpb.Message{
			{Type: raftpb.MsgHeartbeat, To: 1, From: 2, Term: 3},
			{Type: raftpb.MsgApp, To: 2, From: 1, Term: 3, Index: 10, LogTerm: 3, Commit: 9,
				Entries: []raftpb.Entry{{Term: 3, Index: 11, Type: raftpb.EntryNormal, Data: []byte("entry")}}},
		}},
		&txBatch{txs: block.Txs},
		&blockBatch{blocks: []*chain.Block{block, {Header: chain.Header{Height: 3}}}},
		&Hello{NodeID: "node1", GenesisHash: chain.Hash{7}, Height: 12},
		&fetchRequest{From: 1, To: 100},
		&forwardResult{Errors: []txError{{}, {Code: "bad_nonce", Field: "nonce", Msg: "want 4"}}},
	}
	for i, m := range seeds {
		raw, err := codec{}.Marshal(m)
		require.NoError(f, err)
		f.Add(uint8(i), raw)
	}
	f.Fuzz(func(t *testing.T, kind uint8, data []byte) {
		newMsg := peerMessages[int(kind)%len(peerMessages)]
		msg := newMsg()
		if err := (codec{}).Unmarshal(data, msg); err != nil {
			require.NotEmpty(t, err.Error())
			return
		}
		raw, err := codec{}.Marshal(msg)
		require.NoError(t, err)
		again := newMsg()
		require.NoError(t, codec{}.Unmarshal(raw, again), "a decoded %T must re-decode from its own encoding", msg)
		if _, isRaft := msg.(*raftBatch); !isRaft {
			// raftpb keeps unknown fields and nil/empty slices apart in ways
			// that make equality brittle; the re-decode above is its check.
			require.Equal(t, msg, again)
		}
	})
}
