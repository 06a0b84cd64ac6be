package otlpexport

import (
	"fmt"
	"sync"

	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"
)

// encodedRequest is an ExportTraceServiceRequest already in wire format.
type encodedRequest struct {
	buf mem.Buffer
}

// rawCodec passes encodedRequests to gRPC as they are and decodes replies
// with protobuf-go. It is named "proto" so that the content-type is
// application/grpc+proto, which every OTLP/gRPC receiver accepts.
type rawCodec struct{}

func (rawCodec) Name() string { return "proto" }

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	r, ok := v.(*encodedRequest)
	if !ok {
		return nil, fmt.Errorf("span exporter codec: cannot marshal %T", v)
	}
	r.buf.Ref() // released by gRPC once written
	return mem.BufferSlice{r.buf}, nil
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	m, ok := v.(proto.Message)
	if !ok {
		return fmt.Errorf("span exporter codec: cannot unmarshal into %T", v)
	}
	buf := data.MaterializeToBuffer(mem.DefaultBufferPool())
	defer buf.Free()
	return proto.Unmarshal(buf.ReadOnlyData(), m)
}

// Sizes of the request buffers: big enough from the start for gRPC to
// reference-count them rather than treat them as its own, and not kept once
// an unusual batch has grown one past the upper bound.
const (
	minRequestBuffer = 64 << 10
	maxPooledBuffer  = 16 << 20
)

// requestBuffers recycles request buffers. It is also the mem.BufferPool
// that gRPC returns a buffer to once it has written the request.
type requestBuffers struct {
	pool sync.Pool // *[]byte
}

var _ mem.BufferPool = (*requestBuffers)(nil)

// get returns an empty buffer.
func (p *requestBuffers) get() *[]byte {
	if b, ok := p.pool.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, 0, minRequestBuffer)
	return &b
}

func (p *requestBuffers) Get(length int) *[]byte {
	b := p.get()
	if cap(*b) < length {
		*b = make([]byte, length)
	}
	*b = (*b)[:length]
	return b
}

func (p *requestBuffers) Put(b *[]byte) {
	if cap(*b) > maxPooledBuffer {
		return
	}
	*b = (*b)[:0]
	p.pool.Put(b)
}
