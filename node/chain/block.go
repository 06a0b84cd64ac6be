package chain

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
)

// Header is what a block hash covers.
type Header struct {
	ChainID   string `json:"chain_id"`
	Height    uint64 `json:"height"`
	Parent    Hash   `json:"parent_hash"`
	Time      int64  `json:"time_unix_nano"` // the proposer's clock; informative only
	TxRoot    Hash   `json:"tx_root"`
	StateRoot Hash   `json:"state_root"`
	Proposer  string `json:"proposer"` // node id of the leader that cut it
	TxCount   uint32 `json:"tx_count"`
	// Difficulty and Nonce are the proof of work of a PoW chain (both zero
	// under raft): the header hash must meet Difficulty's target.
	Difficulty uint64 `json:"difficulty,omitempty"`
	Nonce      uint64 `json:"nonce,omitempty"`
}

// NonceBytes is the size of the nonce, which is the last field of a header's
// encoding so a miner can rewrite it in place (see AppendBinary).
const NonceBytes = 8

// Hash is the block hash: SHA-256 of the header's canonical encoding.
func (h *Header) Hash() Hash {
	return sha256.Sum256(h.appendBinary(make([]byte, 0, 192)))
}

func (h *Header) appendBinary(b []byte) []byte {
	b = appendString(b, h.ChainID)
	b = binary.AppendUvarint(b, h.Height)
	b = appendBytes(b, h.Parent[:])
	b = binary.AppendUvarint(b, uint64(h.Time))
	b = appendBytes(b, h.TxRoot[:])
	b = appendBytes(b, h.StateRoot[:])
	b = appendString(b, h.Proposer)
	b = binary.AppendUvarint(b, uint64(h.TxCount))
	b = binary.AppendUvarint(b, h.Difficulty)
	return binary.BigEndian.AppendUint64(b, h.Nonce)
}

// AppendBinary appends the header's canonical encoding, the bytes its hash
// covers. The nonce is the last NonceBytes bytes, big-endian.
func (h *Header) AppendBinary(b []byte) ([]byte, error) { return h.appendBinary(b), nil }

func (h *Header) decode(d *decoder) {
	h.ChainID = d.string()
	h.Height = d.uvarint()
	h.Parent = d.hash()
	h.Time = int64(d.uvarint())
	h.TxRoot = d.hash()
	h.StateRoot = d.hash()
	h.Proposer = d.string()
	count := d.uvarint()
	if count > math.MaxUint32 && d.err == nil {
		d.err = fmt.Errorf("%w: tx count %d over 32 bits", ErrCorrupt, count)
	}
	h.TxCount = uint32(count)
	h.Difficulty = d.uvarint()
	if n := d.bytesN(NonceBytes); len(n) == NonceBytes {
		h.Nonce = binary.BigEndian.Uint64(n)
	}
}

// minTxBytes is the smallest encoded transaction in a block: its 4-byte
// length and ten fields of at least one byte each.
const minTxBytes = 4 + 10

// Block is a header and the transactions it commits.
type Block struct {
	Header Header `json:"header"`
	Txs    []Tx   `json:"txs"`
}

// Hash is the hash of the block's header.
func (b *Block) Hash() Hash { return b.Header.Hash() }

// MarshalBinary is the block's encoding in raft entries and in the store.
func (b *Block) MarshalBinary() ([]byte, error) {
	out := b.Header.appendBinary(make([]byte, 0, 192+len(b.Txs)*160))
	out = binary.AppendUvarint(out, uint64(len(b.Txs)))
	for i := range b.Txs {
		start := len(out)
		out = append(out, 0, 0, 0, 0) // length placeholder, so a reader can skip a tx
		out, _ = b.Txs[i].AppendBinary(out)
		binary.BigEndian.PutUint32(out[start:], uint32(len(out)-start-4))
	}
	return out, nil
}

// UnmarshalBinary decodes what MarshalBinary wrote.
func (b *Block) UnmarshalBinary(data []byte) error {
	d := decoder{b: data}
	*b = Block{}
	b.Header.decode(&d)
	n := d.uvarint()
	// Bound the count by the bytes left before allocating: a peer's few bytes
	// claiming millions of transactions must not cost gigabytes.
	if d.err == nil && n > uint64(len(d.b)/minTxBytes) {
		return fmt.Errorf("decode block: %w: %d txs cannot fit in %d bytes", ErrCorrupt, n, len(d.b))
	}
	b.Txs = make([]Tx, n)
	for i := range b.Txs {
		l := d.bytesN(4)
		if d.err != nil {
			break
		}
		sub := decoder{b: d.bytesN(int(binary.BigEndian.Uint32(l)))}
		b.Txs[i].decode(&sub)
		if err := sub.done(); err != nil {
			return fmt.Errorf("decode block: tx %d: %w", i, err)
		}
	}
	if err := d.done(); err != nil {
		return fmt.Errorf("decode block: %w", err)
	}
	return nil
}

// TxRoot is the Merkle root of the transaction hashes (SHA-256, an odd node
// paired with itself); the zero hash for no transactions.
func TxRoot(txs []Tx) Hash {
	if len(txs) == 0 {
		return Hash{}
	}
	level := make([]Hash, len(txs))
	for i := range txs {
		level[i] = txs[i].Hash()
	}
	return merkleRoot(level)
}

func merkleRoot(level []Hash) Hash {
	var buf [64]byte
	for len(level) > 1 {
		next := level[:0:0]
		for i := 0; i < len(level); i += 2 {
			j := min(i+1, len(level)-1)
			copy(buf[:32], level[i][:])
			copy(buf[32:], level[j][:])
			next = append(next, sha256.Sum256(buf[:]))
		}
		level = next
	}
	return level[0]
}
