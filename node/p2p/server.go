// Package p2p is how nodes talk to each other: one gRPC service over TLS 1.3
// with mutual authentication carrying raft messages, forwarded transactions,
// block fetches for sync, gossiped blocks (proof of work) and a hello that
// doubles as a liveness probe.
//
// There is no protoc step: the service descriptor is written by hand and a
// small codec (messages.go) encodes the messages. Every call carries the
// caller's node id and genesis hash in its metadata; the server refuses a
// call whose claimed id is not the one in the caller's certificate, or whose
// genesis differs, and the client checks the server's certificate the same way.
package p2p

import (
	"context"
	"log/slog"
	"net"

	"go.etcd.io/raft/v3/raftpb"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"

	"github.com/chainotel/chainotel/node/chain"
	"github.com/chainotel/chainotel/node/guard"
	"github.com/chainotel/chainotel/node/pki"
	"github.com/chainotel/chainotel/semconv"
)

// Service and metadata names.
const (
	ServiceName = "chainotel.p2p.v1.Peer"
	mdNodeID    = "x-chainotel-node-id"
	mdGenesis   = "x-chainotel-genesis"

	// MaxMessageBytes bounds every message either way: a batch of blocks or
	// transactions, a raft snapshot message.
	MaxMessageBytes = 64 << 20
)

// Handler serves the peer service's calls. Its methods are called
// concurrently from gRPC's goroutines.
type Handler interface {
	HandleHello(ctx context.Context) Hello
	HandleRaft(ctx context.Context, msgs []raftpb.Message) error
	HandleForward(ctx context.Context, txs []chain.Tx) []error
	HandleFetch(ctx context.Context, from, to uint64) ([]*chain.Block, error)
}

// ServerConfig configures NewServer.
type ServerConfig struct {
	NodeID         string
	Genesis        *chain.Genesis
	TLS            *pki.Bundle
	Handler        Handler
	Logger         *slog.Logger
	TracerProvider trace.TracerProvider
	// Propagator reads trace context and baggage from the calls' metadata;
	// nil means W3C trace context and baggage.
	Propagator propagation.TextMapPropagator
	// OnPanic records a panic recovered in a handler (the call fails with
	// codes.Internal and the server goes on serving); nil logs it.
	OnPanic guard.Recorder
}

// NewServer makes the gRPC server of the peer service. Refused handshakes and
// calls are logged.
func NewServer(cfg ServerConfig) *grpc.Server {
	log := cfg.Logger.With("component", "p2p")
	creds := loggingCreds{TransportCredentials: credentials.NewTLS(cfg.TLS.ServerConfig()), log: log}
	a := &authorizer{self: cfg.NodeID, genesis: cfg.Genesis.Hash().String(), validators: cfg.Genesis, log: log}
	s := grpc.NewServer(
		grpc.Creds(creds),
		grpc.ForceServerCodec(codec{}),
		grpc.MaxRecvMsgSize(MaxMessageBytes),
		grpc.MaxSendMsgSize(MaxMessageBytes),
		grpc.StatsHandler(otelgrpc.NewServerHandler(
			otelgrpc.WithTracerProvider(cfg.TracerProvider),
			otelgrpc.WithPropagators(propagatorOrDefault(cfg.Propagator)),
			otelgrpc.WithSpanAttributes(rpcAttrs()...),
			otelgrpc.WithFilter(traced))),
		// The recovery is outermost, so a panic in the authorisation is caught too.
		grpc.ChainUnaryInterceptor(recoverUnary(cfg.OnPanic, log), a.intercept),
		grpc.StreamInterceptor(recoverStream(cfg.OnPanic, log)),
	)
	s.RegisterService(&serviceDesc, &service{h: cfg.Handler, log: log})
	return s
}

// traced leaves the chatty calls (raft heartbeats and appends, hello probes)
// out of tracing; forwards and fetches are traced.
func traced(info *stats.RPCTagInfo) bool {
	return info.FullMethodName != "/"+ServiceName+"/Raft" && info.FullMethodName != "/"+ServiceName+"/Hello"
}

// loggingCreds logs TLS handshakes the server refuses (TLS below 1.3, no
// certificate, a certificate from another CA) before gRPC drops them.
type loggingCreds struct {
	credentials.TransportCredentials
	log *slog.Logger
}

func (c loggingCreds) ServerHandshake(conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	out, info, err := c.TransportCredentials.ServerHandshake(conn)
	if err != nil {
		c.log.Warn("peer connection refused: TLS handshake failed", "remote", conn.RemoteAddr().String(), "err", err,
			semconv.ErrorTypeKey, semconv.ErrorP2PDisconnect)
	}
	return out, info, err
}

func (c loggingCreds) Clone() credentials.TransportCredentials {
	return loggingCreds{TransportCredentials: c.TransportCredentials.Clone(), log: c.log}
}

// authorizer checks every call's claimed identity against its certificate.
type authorizer struct {
	self       string
	genesis    string
	validators *chain.Genesis
	log        *slog.Logger
}

func (a *authorizer) intercept(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
	certID, err := a.check(ctx)
	if err != nil {
		p, _ := peer.FromContext(ctx)
		remote := ""
		if p != nil {
			remote = p.Addr.String()
		}
		a.log.Warn("peer call refused", "method", info.FullMethod, "remote", remote, "err", err)
		return nil, status.Error(codes.PermissionDenied, err.Error())
	}
	trace.SpanFromContext(ctx).SetAttributes(attribute.String(semconv.PeerIDKey, certID))
	return next(context.WithValue(ctx, peerIDKey{}, certID), req)
}

type peerIDKey struct{}

// PeerID is the node id in the certificate of the peer whose call ctx
// serves, checked against its claim; "" outside a peer call. Handlers use it
// to hold what a message says about its sender to the sender's certificate.
func PeerID(ctx context.Context) string {
	id, _ := ctx.Value(peerIDKey{}).(string)
	return id
}

func (a *authorizer) check(ctx context.Context) (string, error) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return "", errorf("no peer information")
	}
	ti, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok {
		return "", errorf("not a TLS connection")
	}
	certID, err := pki.PeerNodeID(ti.State)
	if err != nil {
		return "", err
	}
	md, _ := metadata.FromIncomingContext(ctx)
	claimed := first(md.Get(mdNodeID))
	switch {
	case claimed != certID:
		return "", errorf("caller claims node id %q but its certificate is for %q", claimed, certID)
	case !a.validators.IsValidator(certID):
		return "", errorf("node %q is not a validator of this chain", certID)
	case certID == a.self:
		return "", errorf("node %q is this node", certID)
	}
	if g := first(md.Get(mdGenesis)); g != a.genesis {
		return "", errorf("node %q runs genesis %s, this node runs %s", certID, g, a.genesis)
	}
	return certID, nil
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// service adapts Handler to the hand-written service descriptor.
type service struct {
	h   Handler
	log *slog.Logger
}

// refused logs a message the service could not take (over the size limit,
// or not decodable as what the method takes) before gRPC answers the error:
// gRPC refuses it before any interceptor runs.
func (s *service) refused(ctx context.Context, method string, err error) {
	remote := ""
	if p, ok := peer.FromContext(ctx); ok {
		remote = p.Addr.String()
	}
	s.log.Warn("peer message refused", "method", method, "remote", remote, "err", err)
}

func (s *service) hello(ctx context.Context, _ *Hello) (*Hello, error) {
	h := s.h.HandleHello(ctx)
	return &h, nil
}

func (s *service) raft(ctx context.Context, in *raftBatch) (*empty, error) {
	if err := s.h.HandleRaft(ctx, in.msgs); err != nil {
		return nil, status.Error(codes.Unavailable, err.Error())
	}
	return &empty{}, nil
}

func (s *service) forward(ctx context.Context, in *txBatch) (*forwardResult, error) {
	errs := s.h.HandleForward(ctx, in.txs)
	out := &forwardResult{Errors: make([]txError, len(errs))}
	for i, err := range errs {
		out.Errors[i] = encodeTxError(err)
	}
	return out, nil
}

func (s *service) fetch(ctx context.Context, in *fetchRequest) (*blockBatch, error) {
	if in.To < in.From {
		return nil, status.Errorf(codes.InvalidArgument, "fetch: to %d is below from %d", in.To, in.From)
	}
	blocks, err := s.h.HandleFetch(ctx, in.From, in.To)
	if err != nil {
		return nil, status.Error(codes.NotFound, err.Error())
	}
	return &blockBatch{blocks: blocks}, nil
}

// unary makes the method descriptor of one unary call, as protoc-gen-go-grpc
// would generate it.
func unary[Req, Resp any](name string, call func(*service, context.Context, *Req) (*Resp, error)) grpc.MethodDesc {
	full := "/" + ServiceName + "/" + name
	return grpc.MethodDesc{
		MethodName: name,
		Handler: func(srv any, ctx context.Context, dec func(any) error, icpt grpc.UnaryServerInterceptor) (any, error) {
			in := new(Req)
			if err := dec(in); err != nil {
				srv.(*service).refused(ctx, full, err)
				return nil, err
			}
			handler := func(ctx context.Context, req any) (any, error) { return call(srv.(*service), ctx, req.(*Req)) }
			if icpt == nil {
				return handler(ctx, in)
			}
			return icpt(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: full}, handler)
		},
	}
}

var serviceDesc = grpc.ServiceDesc{
	ServiceName: ServiceName,
	HandlerType: (*any)(nil),
	Methods: []grpc.MethodDesc{
		unary("Hello", (*service).hello),
		unary("Raft", (*service).raft),
		unary("Forward", (*service).forward),
		unary("Fetch", (*service).fetch),
		unary("Block", (*service).block),
	},
	Metadata: "chainotel/p2p/v1/peer",
}
