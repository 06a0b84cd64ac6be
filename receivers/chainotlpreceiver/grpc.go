package chainotlpreceiver

import (
	"context"
	"errors"

	"go.opentelemetry.io/collector/config/configgrpc"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
)

// The OTLP/gRPC trace service (opentelemetry/proto/collector/trace/v1), with
// a handler that takes the request's bytes as they came: rawCodec keeps
// them instead of decoding them.
const (
	traceServiceName = "opentelemetry.proto.collector.trace.v1.TraceService"
	exportMethod     = "/" + traceServiceName + "/Export"
)

// exportRequest is an ExportTraceServiceRequest, still encoded.
type exportRequest struct{ data []byte }

// exportResponse is the ExportTraceServiceResponse the core receiver
// answers with: an empty partial_success (nothing rejected; what it takes
// it takes whole).
type exportResponse struct{}

// exportResponseBytes is exportResponse encoded, as pdata encodes it.
var exportResponseBytes = func() []byte {
	b, err := ptraceotlp.NewExportResponse().MarshalProto()
	if err != nil {
		panic(err) // an empty message always encodes
	}
	return b
}()

var traceServiceDesc = grpc.ServiceDesc{
	ServiceName: traceServiceName,
	HandlerType: (*any)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Export",
		Handler:    exportHandler,
	}},
	Metadata: "opentelemetry/proto/collector/trace/v1/trace_service.proto",
}

func exportHandler(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
	req := new(exportRequest)
	if err := dec(req); err != nil {
		return nil, err
	}
	r := srv.(*chainOTLP)
	if interceptor == nil {
		return r.exportGRPC(ctx, req)
	}
	info := &grpc.UnaryServerInfo{Server: srv, FullMethod: exportMethod}
	return interceptor(ctx, req, info, func(ctx context.Context, req any) (any, error) {
		return r.exportGRPC(ctx, req.(*exportRequest))
	})
}

func (r *chainOTLP) exportGRPC(ctx context.Context, req *exportRequest) (*exportResponse, error) {
	err := r.export(ctx, r.obsGRPC, dataFormatProtobuf, req.data)
	if m := (errMalformed{}); errors.As(err, &m) {
		// What gRPC answers when the core receiver's codec cannot decode
		// the request.
		return nil, status.Errorf(codes.Internal, "grpc: error unmarshalling request: %v", m.error)
	}
	if err != nil {
		return nil, err
	}
	return &exportResponse{}, nil
}

// rawCodec is the server's codec: it hands an exportRequest its bytes (one
// copy, which the sampler keeps) and encodes an exportResponse as the empty
// message; anything else goes to gRPC's proto codec.
type rawCodec struct{ proto encoding.CodecV2 }

func (c rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	if _, ok := v.(*exportResponse); ok {
		return mem.BufferSlice{mem.SliceBuffer(exportResponseBytes)}, nil
	}
	return c.proto.Marshal(v)
}

func (c rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	if req, ok := v.(*exportRequest); ok {
		req.data = data.Materialize()
		return nil
	}
	return c.proto.Unmarshal(data, v)
}

func (rawCodec) Name() string { return "proto" }

func configgrpcCodecOption() configgrpc.ToServerOption {
	return configgrpc.WithGrpcServerOption(grpc.ForceServerCodecV2(rawCodec{proto: encoding.GetCodecV2("proto")}))
}
