package engine

import (
	"bytes"
	"fmt"
	"sync"

	"github.com/klauspost/compress/s2"
)

// scratch lends byte buffers for compressing and decompressing chunks, so
// that neither allocates (and zeroes) a worst-case buffer per chunk.
type scratch struct {
	pool sync.Pool
}

func (s *scratch) get(n int) *[]byte {
	b, _ := s.pool.Get().(*[]byte)
	if b == nil {
		b = new([]byte)
	}
	if cap(*b) < n {
		*b = make([]byte, n)
	}
	*b = (*b)[:n]
	return b
}

func (s *scratch) put(b *[]byte) { s.pool.Put(b) }

// compress returns data s2-compressed, in an exact-size slice of its own.
func (s *scratch) compress(data []byte) []byte {
	buf := s.get(s2.MaxEncodedLen(len(data)))
	defer s.put(buf)
	return bytes.Clone(s2.Encode(*buf, data))
}

// decompress hands the decompressed data to use, which must not keep it.
func (s *scratch) decompress(data []byte, use func([]byte) error) error {
	n, err := s2.DecodedLen(data)
	if err != nil {
		return fmt.Errorf("decompress buffered spans: %w", err)
	}
	buf := s.get(n)
	defer s.put(buf)
	out, err := s2.Decode(*buf, data)
	if err != nil {
		return fmt.Errorf("decompress buffered spans: %w", err)
	}
	return use(out)
}
