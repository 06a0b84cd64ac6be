package p2p

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/raft/v3/raftpb"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"

	"github.com/chainotel/chainotel/node/chain"
	"github.com/chainotel/chainotel/node/guard"
	"github.com/chainotel/chainotel/node/pki"
	"github.com/chainotel/chainotel/semconv"
)

// Liveness: a peer is up while its hello probes keep answering.
const (
	probeInterval = 500 * time.Millisecond
	probeTimeout  = time.Second
	liveFor       = 3 * time.Second
	raftTimeout   = 5 * time.Second
	sendQueue     = 1024 // raft batches waiting per peer
	sendCoalesce  = 512  // raft messages merged into one call
)

// ClientConfig configures NewPeers.
type ClientConfig struct {
	NodeID         string
	Genesis        *chain.Genesis
	TLS            *pki.Bundle
	Addrs          []string // peer addresses; a host-less ":8081" means localhost
	Logger         *slog.Logger
	Tracer         trace.Tracer
	TracerProvider trace.TracerProvider
	// Propagator carries trace context and baggage in the calls' metadata;
	// nil means W3C trace context and baggage.
	Propagator propagation.TextMapPropagator
	// Go starts the per-peer loops (under the process's panic guard).
	Go guard.Go
	// Hello is this node's own introduction, sent in every probe.
	Hello func() Hello
}

// Peers is the client side: one connection per peer address. A peer's node
// id is learned from its certificate at the first hello and then required on
// every later connection to that address. Safe for concurrent use.
type Peers struct {
	cfg   ClientConfig
	log   *slog.Logger
	peers []*remote

	mu   sync.RWMutex
	byID map[string]*remote
}

type sendReq struct {
	msgs []raftpb.Message
	done func(error)
}

type remote struct {
	addr  string
	conn  *grpc.ClientConn
	id    atomic.Pointer[string] // learned node id
	seen  atomic.Int64           // unix nanos of the last answered probe
	queue chan sendReq
}

// NormalizeAddr turns a host-less ":8081" into "localhost:8081".
func NormalizeAddr(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("peer address %q: %w", addr, err)
	}
	if host == "" {
		host = "localhost"
	}
	return net.JoinHostPort(host, port), nil
}

// NewPeers prepares a connection per address; nothing is dialled until Run.
func NewPeers(cfg ClientConfig) (*Peers, error) {
	p := &Peers{cfg: cfg, log: cfg.Logger.With("component", "p2p"), byID: make(map[string]*remote)}
	gh := cfg.Genesis.Hash().String()
	stamp := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoke grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		ctx = metadata.AppendToOutgoingContext(ctx, mdNodeID, cfg.NodeID, mdGenesis, gh)
		return invoke(ctx, method, req, reply, cc, opts...)
	}
	for _, a := range cfg.Addrs {
		addr, err := NormalizeAddr(a)
		if err != nil {
			return nil, err
		}
		r := &remote{addr: addr, queue: make(chan sendReq, sendQueue)}
		conn, err := grpc.NewClient(addr,
			grpc.WithTransportCredentials(credentials.NewTLS(p.clientTLS(r))),
			grpc.WithDefaultCallOptions(grpc.ForceCodec(codec{}), grpc.MaxCallRecvMsgSize(MaxMessageBytes), grpc.MaxCallSendMsgSize(MaxMessageBytes)),
			grpc.WithUnaryInterceptor(stamp),
			grpc.WithStatsHandler(otelgrpc.NewClientHandler(
				otelgrpc.WithTracerProvider(cfg.TracerProvider),
				otelgrpc.WithPropagators(propagatorOrDefault(cfg.Propagator)),
				otelgrpc.WithSpanAttributes(rpcAttrs()...),
				otelgrpc.WithFilter(traced))),
		)
		if err != nil {
			p.Close()
			return nil, fmt.Errorf("peer %s: %w", addr, err)
		}
		r.conn = conn
		p.peers = append(p.peers, r)
	}
	return p, nil
}

// clientTLS checks the server's certificate: from the cluster CA (pki),
// a validator other than this node, and the same node as before.
func (p *Peers) clientTLS(r *remote) *tls.Config {
	c := p.cfg.TLS.ClientConfig("")
	base := c.VerifyConnection
	c.VerifyConnection = func(cs tls.ConnectionState) error {
		if base != nil {
			if err := base(cs); err != nil {
				return err
			}
		}
		id, err := pki.PeerNodeID(cs)
		if err != nil {
			return err
		}
		switch known := r.id.Load(); {
		case id == p.cfg.NodeID:
			return errorf("%s is this node (%s) itself", r.addr, id)
		case !p.cfg.Genesis.IsValidator(id):
			return errorf("%s presented node %q, not a validator of this chain", r.addr, id)
		case known != nil && *known != id:
			return errorf("%s was node %q and now presents %q", r.addr, *known, id)
		}
		return nil
	}
	return c
}

// Run probes the peers and sends their raft messages until ctx ends.
func (p *Peers) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, r := range p.peers {
		p.cfg.Go.Start(ctx, &wg, "p2p.probe "+r.addr, func(ctx context.Context) { p.probeLoop(ctx, r) })
		p.cfg.Go.Start(ctx, &wg, "p2p.send "+r.addr, func(ctx context.Context) { p.sendLoop(ctx, r) })
	}
	wg.Wait()
}

// Close closes the connections.
func (p *Peers) Close() {
	for _, r := range p.peers {
		if r.conn != nil {
			_ = r.conn.Close()
		}
	}
}

// PeersUp counts the peers whose probes answered within the last few seconds.
func (p *Peers) PeersUp() int {
	n := 0
	for _, r := range p.peers {
		if time.Since(time.Unix(0, r.seen.Load())) < liveFor {
			n++
		}
	}
	return n
}

func (p *Peers) probeLoop(ctx context.Context, r *remote) {
	ticker := time.NewTicker(probeInterval)
	defer ticker.Stop()
	up := false
	for {
		err := p.probe(ctx, r)
		switch {
		case err == nil && !up:
			up = true
			p.log.Info("peer up", "addr", r.addr, semconv.PeerIDKey, *r.id.Load())
		case err != nil && up && time.Since(time.Unix(0, r.seen.Load())) > liveFor:
			up = false
			p.disconnected(ctx, r, err)
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

func (p *Peers) disconnected(ctx context.Context, r *remote, err error) {
	id := ""
	if v := r.id.Load(); v != nil {
		id = *v
	}
	ctx, span := p.cfg.Tracer.Start(ctx, semconv.SpanP2PDisconnect, trace.WithAttributes(
		attribute.String(semconv.PeerIDKey, id), attribute.String(semconv.ErrorTypeKey, semconv.ErrorP2PDisconnect)))
	defer span.End()
	span.RecordError(err)
	span.SetStatus(codes.Error, err.Error())
	// An error (not a warning): a lost peer is what an operator must hear of,
	// and the collector forwards error logs to Sentry with the chain head.
	p.log.ErrorContext(ctx, "peer down", "addr", r.addr, semconv.PeerIDKey, id, "err", err,
		semconv.ErrorTypeKey, semconv.ErrorP2PDisconnect, semconv.ExceptionMessageKey, err.Error())
}

// Disconnected records a dropped connection to the peer with node id peerID
// as a p2p.disconnect error span and error log, as a probe that stops
// answering does. The node's debug fault endpoint uses it.
func (p *Peers) Disconnected(ctx context.Context, peerID string, err error) {
	for _, r := range p.peers {
		if v := r.id.Load(); v != nil && *v == peerID {
			p.disconnected(ctx, r, err)
			return
		}
	}
	r := &remote{addr: peerID}
	r.id.Store(&peerID)
	p.disconnected(ctx, r, err)
}

// rpcAttrs are the rpc.* attributes of CONVENTIONS.md that otelgrpc no longer
// writes itself (it writes rpc.system.name and rpc.method as "Service/Method"):
// the collector's error classification matches rpc.system.
func rpcAttrs() []attribute.KeyValue {
	return []attribute.KeyValue{
		attribute.String(semconv.RPCSystemKey, "grpc"),
		attribute.String(semconv.RPCServiceKey, ServiceName),
	}
}

// propagatorOrDefault is the configured propagator, else W3C trace context
// and baggage.
func propagatorOrDefault(p propagation.TextMapPropagator) propagation.TextMapPropagator {
	if p != nil {
		return p
	}
	return propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
}

// probe says hello and, the first time, learns the peer's node id.
func (p *Peers) probe(ctx context.Context, r *remote) error {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	var their Hello
	mine := p.cfg.Hello()
	if err := r.conn.Invoke(ctx, "/"+ServiceName+"/Hello", &mine, &their); err != nil {
		return err
	}
	if their.GenesisHash != mine.GenesisHash {
		return errorf("%s runs genesis %s, this node %s", r.addr, their.GenesisHash, mine.GenesisHash)
	}
	if known := r.id.Load(); known == nil {
		if !p.cfg.Genesis.IsValidator(their.NodeID) {
			return errorf("%s says it is %q, not a validator", r.addr, their.NodeID)
		}
		id := their.NodeID
		r.id.Store(&id)
		p.mu.Lock()
		p.byID[id] = r
		p.mu.Unlock()
	} else if *known != their.NodeID {
		return errorf("%s says it is %q, its certificate %q", r.addr, their.NodeID, *known)
	}
	r.seen.Store(time.Now().UnixNano())
	return nil
}

func (p *Peers) peer(id string) (*remote, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	r, ok := p.byID[id]
	if !ok {
		return nil, fmt.Errorf("%w: %q has not answered yet", ErrUnknownPeer, id)
	}
	return r, nil
}

// Send queues raft messages for node to; done reports the outcome.
func (p *Peers) Send(to string, msgs []raftpb.Message, done func(error)) {
	r, err := p.peer(to)
	if err != nil {
		done(err)
		return
	}
	select {
	case r.queue <- sendReq{msgs: msgs, done: done}:
	default:
		done(fmt.Errorf("%w: %s", ErrQueueFull, to))
	}
}

// sendLoop delivers a peer's raft messages in order, merging what queued up
// while the previous call was in flight.
func (p *Peers) sendLoop(ctx context.Context, r *remote) {
	for {
		var reqs []sendReq
		select {
		case <-ctx.Done():
			return
		case req := <-r.queue:
			reqs = append(reqs, req)
		}
		n := len(reqs[0].msgs)
	more:
		for n < sendCoalesce {
			select {
			case req := <-r.queue:
				reqs = append(reqs, req)
				n += len(req.msgs)
			default:
				break more
			}
		}
		batch := &raftBatch{msgs: make([]raftpb.Message, 0, n)}
		for _, req := range reqs {
			batch.msgs = append(batch.msgs, req.msgs...)
		}
		cctx, cancel := context.WithTimeout(ctx, raftTimeout)
		err := r.conn.Invoke(cctx, "/"+ServiceName+"/Raft", batch, &empty{})
		cancel()
		for _, req := range reqs {
			req.done(err)
		}
	}
}

// Forward asks node to to admit txs (see raft.Transport).
func (p *Peers) Forward(ctx context.Context, to string, txs []chain.Tx) ([]error, error) {
	r, err := p.peer(to)
	if err != nil {
		return nil, err
	}
	var res forwardResult
	if err := r.conn.Invoke(ctx, "/"+ServiceName+"/Forward", &txBatch{txs: txs}, &res); err != nil {
		return nil, fmt.Errorf("forward to %s: %w", to, err)
	}
	out := make([]error, len(res.Errors))
	for i, e := range res.Errors {
		out[i] = decodeTxError(e)
	}
	return out, nil
}

// FetchBlocks reads blocks from node peer (see raft.Transport).
func (p *Peers) FetchBlocks(ctx context.Context, peer string, from, to uint64) ([]*chain.Block, error) {
	r, err := p.peer(peer)
	if err != nil {
		return nil, err
	}
	var res blockBatch
	if err := r.conn.Invoke(ctx, "/"+ServiceName+"/Fetch", &fetchRequest{From: from, To: to}, &res); err != nil {
		return nil, fmt.Errorf("fetch %d-%d from %s: %w", from, to, peer, err)
	}
	if len(res.blocks) == 0 || res.blocks[0].Header.Height != from {
		return nil, fmt.Errorf("fetch %d-%d from %s: answer does not start at %d", from, to, peer, from)
	}
	return res.blocks, nil
}
