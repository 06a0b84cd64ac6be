package p2p

import (
	"encoding/binary"
	"encoding/json"
	"fmt"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/grpc/encoding"

	"github.com/chainotel/chainotel/node/chain"
)

// codec marshals the peer service's messages: the hot ones (raft batches,
// forwarded transactions, fetched blocks) in their compact binary encodings,
// the rest as JSON. It replaces protobuf, so no generated code is needed.
type codec struct{}

var _ encoding.Codec = codec{}

type binaryMessage interface {
	MarshalBinary() ([]byte, error)
	UnmarshalBinary([]byte) error
}

func (codec) Name() string { return "chainotel" }

func (codec) Marshal(v any) ([]byte, error) {
	if m, ok := v.(binaryMessage); ok {
		return m.MarshalBinary()
	}
	return json.Marshal(v)
}

func (codec) Unmarshal(data []byte, v any) error {
	if m, ok := v.(binaryMessage); ok {
		return m.UnmarshalBinary(data)
	}
	return json.Unmarshal(data, v)
}

// Hello introduces a node: who it is, which chain, how far it is.
type Hello struct {
	NodeID      string     `json:"node_id"`
	GenesisHash chain.Hash `json:"genesis_hash"`
	Height      uint64     `json:"height"`
}

type empty struct{}

// raftBatch is raft messages for one peer.
type raftBatch struct{ msgs []raftpb.Message }

func (b *raftBatch) MarshalBinary() ([]byte, error) {
	out := binary.AppendUvarint(nil, uint64(len(b.msgs)))
	for i := range b.msgs {
		raw, err := b.msgs[i].Marshal()
		if err != nil {
			return nil, fmt.Errorf("encode raft message: %w", err)
		}
		out = binary.AppendUvarint(out, uint64(len(raw)))
		out = append(out, raw...)
	}
	return out, nil
}

func (b *raftBatch) UnmarshalBinary(data []byte) error {
	return eachChunk(data, func(chunk []byte) error {
		var m raftpb.Message
		if err := m.Unmarshal(chunk); err != nil {
			return fmt.Errorf("decode raft message: %w", err)
		}
		b.msgs = append(b.msgs, m)
		return nil
	})
}

// txBatch is transactions forwarded to the leader.
type txBatch struct{ txs []chain.Tx }

func (b *txBatch) MarshalBinary() ([]byte, error) {
	out := binary.AppendUvarint(make([]byte, 0, 160*len(b.txs)), uint64(len(b.txs)))
	var buf []byte
	for i := range b.txs {
		buf, _ = b.txs[i].AppendBinary(buf[:0])
		out = binary.AppendUvarint(out, uint64(len(buf)))
		out = append(out, buf...)
	}
	return out, nil
}

func (b *txBatch) UnmarshalBinary(data []byte) error {
	return eachChunk(data, func(chunk []byte) error {
		var tx chain.Tx
		if err := tx.UnmarshalBinary(chunk); err != nil {
			return err
		}
		b.txs = append(b.txs, tx)
		return nil
	})
}

// forwardResult answers a txBatch, one entry per tx (empty when admitted).
type forwardResult struct {
	Errors []txError `json:"errors"`
}

// fetchRequest asks for blocks from..to, inclusive.
type fetchRequest struct {
	From uint64 `json:"from"`
	To   uint64 `json:"to"`
}

// blockBatch is fetched blocks.
type blockBatch struct{ blocks []*chain.Block }

func (b *blockBatch) MarshalBinary() ([]byte, error) {
	out := binary.AppendUvarint(nil, uint64(len(b.blocks)))
	for _, blk := range b.blocks {
		raw, err := blk.MarshalBinary()
		if err != nil {
			return nil, err
		}
		out = binary.AppendUvarint(out, uint64(len(raw)))
		out = append(out, raw...)
	}
	return out, nil
}

func (b *blockBatch) UnmarshalBinary(data []byte) error {
	return eachChunk(data, func(chunk []byte) error {
		var blk chain.Block
		if err := blk.UnmarshalBinary(chunk); err != nil {
			return err
		}
		b.blocks = append(b.blocks, &blk)
		return nil
	})
}

// eachChunk walks a count followed by that many length-prefixed chunks.
func eachChunk(data []byte, fn func([]byte) error) error {
	n, k := binary.Uvarint(data)
	if k <= 0 {
		return fmt.Errorf("%w: bad count", chain.ErrCorrupt)
	}
	data = data[k:]
	for i := uint64(0); i < n; i++ {
		l, k := binary.Uvarint(data)
		if k <= 0 || l > uint64(len(data)-k) {
			return fmt.Errorf("%w: chunk %d of %d truncated", chain.ErrCorrupt, i, n)
		}
		if err := fn(data[k : k+int(l)]); err != nil {
			return err
		}
		data = data[k+int(l):]
	}
	if len(data) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", chain.ErrCorrupt, len(data))
	}
	return nil
}
