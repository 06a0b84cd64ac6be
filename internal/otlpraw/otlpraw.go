// Package otlpraw sends OTLP/gRPC trace export requests as bytes, as no OTLP
// client would (truncated, malformed, hand-made), for the tests that hold a
// receiver's answers against the core otlp receiver's.
package otlpraw

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/mem"
)

// ExportMethod is the OTLP trace service's Export method.
const ExportMethod = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"

// codec sends a request's bytes as they are and reads the reply as bytes,
// under the name of the proto codec the server expects.
type codec struct{}

func (codec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(*v.(*[]byte))}, nil
}

func (codec) Unmarshal(data mem.BufferSlice, v any) error {
	*v.(*[]byte) = data.Materialize()
	return nil
}

func (codec) Name() string { return "proto" }

// Export sends body as an Export call to addr over plain-text gRPC and
// returns the reply's bytes and the call's error (a gRPC status).
func Export(ctx context.Context, addr string, body []byte, opts ...grpc.CallOption) ([]byte, error) {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	defer func() { _ = conn.Close() }()
	var reply []byte
	err = conn.Invoke(ctx, ExportMethod, &body, &reply, append(opts, grpc.ForceCodecV2(codec{}))...)
	return reply, err
}
