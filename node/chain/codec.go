package chain

import (
	"encoding/binary"
	"fmt"
)

// The binary encoding used for hashing, raft entries and storage is a plain
// concatenation of uvarints and length-prefixed byte strings. It is canonical
// (one encoding per value), compact and several times cheaper than JSON on the
// hot path, where every transaction is encoded once and decoded on each node.

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBytes(b, s []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// decoder reads what the append* helpers wrote; the first error sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = fmt.Errorf("%w: bad uvarint", ErrCorrupt)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.err = fmt.Errorf("%w: length %d exceeds the %d bytes left", ErrCorrupt, n, len(d.b))
		return nil
	}
	out := d.b[:n:n]
	d.b = d.b[n:]
	return out
}

func (d *decoder) string() string { return string(d.bytes()) }

func (d *decoder) hash() Hash {
	var h Hash
	b := d.bytes()
	if d.err == nil && len(b) != len(h) {
		d.err = fmt.Errorf("%w: hash of %d bytes", ErrCorrupt, len(b))
	}
	copy(h[:], b)
	return h
}

func (d *decoder) done() error {
	if d.err == nil && len(d.b) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(d.b))
	}
	return d.err
}
