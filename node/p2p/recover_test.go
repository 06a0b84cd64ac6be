package p2p

import (
	"context"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// fakeStream is a test double: the stream handler under test only asks it for its context.
type fakeStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (f fakeStream) Context() context.Context { return f.ctx }

// A panic in a unary or a stream handler becomes codes.Internal, recorded
// with its stack under the method's name.
func TestRecoverInterceptors(t *testing.T) {
	var names []string
	rec := func(_ context.Context, name string, v any, stack string) {
		require.Equal(t, "boom", v)
		require.Contains(t, stack, "recover_test.go")
		names = append(names, name)
	}
	log := slog.New(slog.DiscardHandler)
	_, err := recoverUnary(rec, log)(t.Context(), nil, &grpc.UnaryServerInfo{FullMethod: "/s/Unary"},
		func(context.Context, any) (any, error) { panic("boom") })
	require.Equal(t, codes.Internal, status.Code(err), "%v", err)
	err = recoverStream(rec, log)(nil, fakeStream{ctx: t.Context()}, &grpc.StreamServerInfo{FullMethod: "/s/Stream"},
		func(any, grpc.ServerStream) error { panic("boom") })
	require.Equal(t, codes.Internal, status.Code(err), "%v", err)
	require.Equal(t, []string{"grpc /s/Unary", "grpc /s/Stream"}, names)

	resp, err := recoverUnary(rec, log)(t.Context(), nil, &grpc.UnaryServerInfo{FullMethod: "/s/Unary"},
		func(context.Context, any) (any, error) { return "ok", nil })
	require.NoError(t, err)
	require.Equal(t, "ok", resp, "no panic: the handler's answer")
}
