// Package node assembles a blockchain node from its stages: the store, the
// mempool, the consensus engine, the peer transport and the HTTP API. New
// builds it from a Config; Run serves until its context ends and then shuts
// down in order (stop taking requests, finish what is in flight, close the
// store).
package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/soheilhy/cmux"
	"go.etcd.io/raft/v3/raftpb"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/grpc"

	"github.com/chainotel/chainotel/node/api"
	"github.com/chainotel/chainotel/node/chain"
	"github.com/chainotel/chainotel/node/consensus"
	"github.com/chainotel/chainotel/node/consensus/pow"
	"github.com/chainotel/chainotel/node/consensus/raft"
	"github.com/chainotel/chainotel/node/consensus/raft/raftlog"
	"github.com/chainotel/chainotel/node/guard"
	"github.com/chainotel/chainotel/node/mempool"
	"github.com/chainotel/chainotel/node/p2p"
	"github.com/chainotel/chainotel/node/pki"
	"github.com/chainotel/chainotel/node/store"
	"github.com/chainotel/chainotel/semconv"
)

// Config is everything a node needs. DefaultConfig fills the defaults.
type Config struct {
	NodeID      string
	Port        int      // client HTTP API and peer gRPC, one listener
	ListenHost  string   // interface to listen on; "" means all
	Peers       []string // peer addresses; ":8081" means localhost:8081
	Consensus   string   // semconv.ConsensusRaft or semconv.ConsensusPoW (the genesis must match)
	DBPath      string   // Badger folder; "" means ./data/<node-id>/badger
	HealthPort  int      // /health, /ready, /metrics; 0 means Port+1010
	TLSDir      string   // ca.crt, <node-id>.crt, <node-id>.key
	GenesisPath string

	// Telemetry seams: what the process wires in (no-op when nil).
	Logger         *slog.Logger
	TracerProvider trace.TracerProvider
	Registerer     prometheus.Registerer
	Gatherer       prometheus.Gatherer
	// Propagator carries trace context and baggage over HTTP and gRPC (main
	// passes telemetry's, which filters sensitive baggage); nil means W3C
	// trace context and baggage.
	Propagator propagation.TextMapPropagator
	// Go starts every long-lived goroutine; main passes telemetry's panic
	// guard. Nil starts plain goroutines.
	Go guard.Go
	// OnPanic records a panic recovered in an HTTP or gRPC handler, which
	// answers 500 / codes.Internal while the node goes on serving; main
	// passes telemetry's RecordPanic. Nil logs it.
	OnPanic guard.Recorder
	// DebugFaults serves POST /debug/fault on the health port (see faults.go).
	DebugFaults bool
	// HealthRoutes are more operator endpoints on the health port, by
	// ServeMux pattern (main passes the config reloader's GET /config and
	// PUT /loglevel).
	HealthRoutes map[string]http.Handler

	// The miner under --consensus=pow: its goroutines (0 means 1) and the
	// hashes per second it may try in all (0 is unlimited).
	PoWThreads     int
	PoWMaxHashRate float64

	// Tuning.
	MempoolSize   int
	CommitTimeout time.Duration
	// MaxClientRequests bounds one client's (remote IP's) requests in flight
	// on the client API; more get 429. 0 means api.DefaultMaxClientRequests.
	MaxClientRequests int
	// MinFreeDisk is the free space (bytes) on the Badger filesystem below
	// which the node stops writing and exits with a storage_error, rather
	// than let Badger's memory-mapped writes die of a SIGBUS; 0 disables it.
	MinFreeDisk     uint64
	TickInterval    time.Duration
	SnapshotEvery   uint64
	SnapshotCatchUp uint64
	ShutdownTimeout time.Duration
}

// Bounds on slow HTTP clients, for both HTTP servers.
const (
	readHeaderTimeout = 10 * time.Second
	readBodyTimeout   = 30 * time.Second // a 16 MiB POST /txs body fits easily
	idleTimeout       = 2 * time.Minute
	maxHeaderBytes    = 64 << 10
)

// HealthPortOffset is how far above --port the health server listens by default.
const HealthPortOffset = 1010

// DefaultConfig is the configuration the CLI's defaults describe.
func DefaultConfig() Config {
	return Config{
		Port:              8080,
		Consensus:         semconv.ConsensusRaft,
		TLSDir:            "certs",
		GenesisPath:       filepath.Join("data", "genesis.json"),
		MempoolSize:       200_000,
		CommitTimeout:     api.DefaultCommitTimeout,
		MaxClientRequests: api.DefaultMaxClientRequests,
		MinFreeDisk:       store.DefaultMinFreeBytes,
		ShutdownTimeout:   10 * time.Second,
	}
}

// Node is a running blockchain node.
type Node struct {
	cfg     Config
	log     *slog.Logger
	genesis *chain.Genesis
	store   *store.Store
	pool    *mempool.Pool
	engine  consensus.Engine // raft or pow, whichever runs
	raft    *raft.Engine
	pow     *pow.Engine
	peers   *p2p.Peers
	api     *api.API
	grpc    *grpc.Server
	tracer  trace.Tracer
	// panicNextCall makes the next peer Hello call this node serves panic
	// (the grpc_panic debug fault).
	panicNextCall atomic.Bool

	lis, healthLis net.Listener
}

// New checks cfg, loads the genesis and certificates, opens the store and
// binds both ports, so every configuration mistake surfaces here with a
// message that says what to do.
func New(cfg Config) (*Node, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	g, err := chain.LoadGenesis(cfg.GenesisPath)
	if err != nil {
		return nil, err
	}
	if !g.IsValidator(cfg.NodeID) {
		return nil, fmt.Errorf("node id %q is not among the validators of %s (%v); use one of them or rerun `make init` with --nodes", cfg.NodeID, cfg.GenesisPath, g.Validators)
	}
	bundle, err := pki.LoadNode(cfg.TLSDir, cfg.NodeID)
	if err != nil {
		return nil, fmt.Errorf("%w (certificates are read from --tls-dir %s)", err, cfg.TLSDir)
	}
	if err := os.MkdirAll(cfg.DBPath, 0o755); err != nil {
		return nil, fmt.Errorf("create --db-path: %w", err)
	}
	n := &Node{cfg: cfg, log: cfg.Logger.With(semconv.ServiceInstanceIDKey, cfg.NodeID), genesis: g}
	ok := false
	defer func() {
		if !ok {
			n.closeAll()
		}
	}()
	if n.store, err = store.OpenWith(cfg.DBPath, n.log, store.Options{MinFreeBytes: cfg.MinFreeDisk}); err != nil {
		return nil, err
	}
	if err := n.store.InitGenesis(g); err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.DBPath, err)
	}
	// One genesis serves both engines; a data folder serves the one that
	// first ran on it.
	if err := n.store.ClaimEngine(cfg.Consensus); err != nil {
		return nil, fmt.Errorf("data folder %s: %w", cfg.DBPath, err)
	}
	tracer := cfg.TracerProvider.Tracer("github.com/chainotel/chainotel/node")
	n.pool = mempool.New(cfg.MempoolSize, tracer)
	if n.peers, err = p2p.NewPeers(p2p.ClientConfig{
		NodeID: cfg.NodeID, Genesis: g, TLS: bundle, Addrs: cfg.Peers, Logger: n.log,
		Tracer: tracer, TracerProvider: cfg.TracerProvider, Propagator: cfg.Propagator, Go: cfg.Go, Hello: n.hello,
	}); err != nil {
		return nil, err
	}
	if cfg.Consensus == semconv.ConsensusPoW {
		if err := n.newPoW(g, tracer); err != nil {
			return nil, err
		}
	} else {
		rc := raft.DefaultConfig()
		if rc.Log, err = raftlog.Open(n.store); err != nil {
			return nil, fmt.Errorf("%s: %w", cfg.DBPath, err)
		}
		rc.NodeID, rc.Genesis, rc.State, rc.Pool, rc.Transport = cfg.NodeID, g, n.store, n.pool, n.peers
		rc.Logger, rc.Tracer, rc.Go = n.log, tracer, cfg.Go
		rc.OnApplied = func(b *chain.Block) { n.api.OnApplied(b) }
		if cfg.TickInterval > 0 {
			rc.TickInterval = cfg.TickInterval
		}
		if cfg.SnapshotEvery > 0 {
			rc.SnapshotEvery, rc.SnapshotCatchUp = cfg.SnapshotEvery, cfg.SnapshotCatchUp
		}
		if n.raft, err = raft.New(rc); err != nil {
			return nil, err
		}
		n.engine = n.raft
	}
	if n.api, err = api.New(api.Config{
		NodeID: cfg.NodeID, Genesis: g, Chain: n.store, Engine: n.engine, MempoolLen: n.pool.Len,
		Logger: n.log, TracerProvider: cfg.TracerProvider, Propagator: cfg.Propagator,
		Registerer: cfg.Registerer, Gatherer: cfg.Gatherer, OnPanic: cfg.OnPanic,
		CommitTimeout: cfg.CommitTimeout, MaxClientRequests: cfg.MaxClientRequests,
	}); err != nil {
		return nil, err
	}
	n.grpc = p2p.NewServer(p2p.ServerConfig{
		NodeID: cfg.NodeID, Genesis: g, TLS: bundle, Handler: peerHandler{n}, Logger: n.log, TracerProvider: cfg.TracerProvider,
		Propagator: cfg.Propagator, OnPanic: cfg.OnPanic,
	})
	n.tracer = tracer
	if n.lis, err = net.Listen("tcp", net.JoinHostPort(cfg.ListenHost, strconv.Itoa(cfg.Port))); err != nil {
		return nil, fmt.Errorf("listen on --port %d: %w", cfg.Port, err)
	}
	if n.healthLis, err = net.Listen("tcp", net.JoinHostPort(cfg.ListenHost, strconv.Itoa(cfg.HealthPort))); err != nil {
		return nil, fmt.Errorf("listen on --health-port %d: %w", cfg.HealthPort, err)
	}
	ok = true
	return n, nil
}

func (c *Config) fill() error {
	if err := pki.ValidateNodeID(c.NodeID); err != nil {
		return fmt.Errorf("--node-id: %w", err)
	}
	switch c.Consensus {
	case semconv.ConsensusRaft, semconv.ConsensusPoW:
	default:
		return fmt.Errorf("--consensus=%q: %w; use raft or pow", c.Consensus, consensus.ErrUnsupported)
	}
	if c.Port <= 0 || c.Port > 65535 {
		return fmt.Errorf("--port %d: want 1-65535", c.Port)
	}
	if c.HealthPort == 0 {
		c.HealthPort = c.Port + HealthPortOffset
	}
	if c.HealthPort < 0 || c.HealthPort > 65535 || c.HealthPort == c.Port {
		return fmt.Errorf("--health-port %d: want 1-65535 and not --port", c.HealthPort)
	}
	for _, p := range c.Peers {
		if _, err := p2p.NormalizeAddr(p); err != nil {
			return fmt.Errorf("--peers: %w", err)
		}
	}
	if c.DBPath == "" {
		c.DBPath = filepath.Join("data", c.NodeID, "badger")
	}
	def := DefaultConfig()
	if c.TLSDir == "" {
		c.TLSDir = def.TLSDir
	}
	if c.GenesisPath == "" {
		c.GenesisPath = def.GenesisPath
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.TracerProvider == nil {
		c.TracerProvider = noop.NewTracerProvider()
	}
	if c.MempoolSize <= 0 {
		c.MempoolSize = def.MempoolSize
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = def.ShutdownTimeout
	}
	return nil
}

// Addr is the address of the client API and peer listener.
func (n *Node) Addr() net.Addr { return n.lis.Addr() }

// HealthAddr is the address of the health server.
func (n *Node) HealthAddr() net.Addr { return n.healthLis.Addr() }

func (n *Node) hello() p2p.Hello {
	head, _ := n.store.Head()
	return p2p.Hello{NodeID: n.cfg.NodeID, GenesisHash: n.genesis.Hash(), Height: head.Height}
}

// Run serves until ctx ends, then shuts down: it stops taking client
// requests and waits for those in flight (they wait for their commits),
// stops the peer service, lets the engine finish the batch it is applying,
// and closes the store. It returns nil after a clean shutdown.
func (n *Node) Run(ctx context.Context) error {
	mux := cmux.New(n.lis)
	mux.SetReadTimeout(10 * time.Second)
	grpcL := mux.Match(cmux.TLS())
	httpL := mux.Match(cmux.HTTP1Fast())
	otherL := mux.Match(cmux.Any())

	// A slow client (slowloris) holds a connection only so long: headers
	// within ReadHeaderTimeout, the whole request within ReadTimeout, an idle
	// keep-alive within IdleTimeout; headers are capped at maxHeaderBytes.
	// No WriteTimeout: POST /tx legitimately waits up to --commit-timeout.
	// ReadTimeout covers that wait too: net/http cancels a request whose
	// connection's read deadline passes while its handler still runs.
	readTimeout := readBodyTimeout + n.cfg.CommitTimeout
	httpSrv := &http.Server{Handler: n.withCommitReadDeadline(n.api.Handler()), ReadHeaderTimeout: readHeaderTimeout, ReadTimeout: readTimeout,
		IdleTimeout: idleTimeout, MaxHeaderBytes: maxHeaderBytes, ErrorLog: slog.NewLogLogger(n.log.Handler(), slog.LevelWarn)}
	healthSrv := &http.Server{Handler: api.Recover("http health", n.healthHandler(ctx), n.cfg.OnPanic, n.log), ReadHeaderTimeout: readHeaderTimeout, ReadTimeout: readTimeout,
		IdleTimeout: idleTimeout, MaxHeaderBytes: maxHeaderBytes}

	engineCtx, stopEngine := context.WithCancel(context.WithoutCancel(ctx))
	defer stopEngine()
	var wg sync.WaitGroup
	errc := make(chan error, 8)
	serve := func(name string, f func() error) {
		n.cfg.Go.Start(engineCtx, &wg, name, func(context.Context) {
			if err := f(); err != nil && !isClosed(err) {
				errc <- fmt.Errorf("%s: %w", name, err)
			}
		})
	}
	serve("peer gRPC", func() error { return n.grpc.Serve(grpcL) })
	serve("client API", func() error { return httpSrv.Serve(httpL) })
	serve("health server", func() error { return healthSrv.Serve(n.healthLis) })
	serve("listener", mux.Serve)
	n.cfg.Go.Start(engineCtx, &wg, "listener.refuse", func(context.Context) { n.refuse(otherL) })
	n.cfg.Go.Start(engineCtx, &wg, "p2p.peers", n.peers.Run)
	serve("consensus", func() error { return n.engine.Run(engineCtx) })

	n.log.Info("node started", "port", n.cfg.Port, "health_port", n.cfg.HealthPort, "peers", n.cfg.Peers,
		semconv.ChainIDKey, n.genesis.ChainID, semconv.ChainConsensusKey, n.cfg.Consensus, "db_path", n.cfg.DBPath)

	var runErr error
	select {
	case <-ctx.Done():
		n.log.Info("shutting down")
	case runErr = <-errc:
		n.log.Error("node failed, shutting down", "err", runErr)
	}
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), n.cfg.ShutdownTimeout)
	defer cancel()
	if err := httpSrv.Shutdown(shutCtx); err != nil {
		n.log.Warn("client API shutdown", "err", err)
	}
	_ = healthSrv.Shutdown(shutCtx)
	n.stopGRPC(shutCtx)
	stopEngine()
	mux.Close()
	wg.Wait()
	n.closeAll()
	for {
		select {
		case err := <-errc:
			runErr = errors.Join(runErr, err)
		default:
			if runErr == nil {
				n.log.Info("node stopped")
			}
			return runErr
		}
	}
}

func (n *Node) stopGRPC(ctx context.Context) {
	done := make(chan struct{})
	n.cfg.Go.Start(ctx, nil, "grpc.stop", func(context.Context) { n.grpc.GracefulStop(); close(done) })
	select {
	case <-done:
	case <-ctx.Done():
		n.grpc.Stop()
		<-done
	}
}

// refuse closes connections that are neither HTTP/1.1 nor TLS, and says so.
func (n *Node) refuse(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		n.log.Warn("connection refused: neither HTTP/1.1 nor TLS", "remote", c.RemoteAddr().String())
		_ = c.Close()
	}
}

func (n *Node) closeAll() {
	if n.peers != nil {
		n.peers.Close()
	}
	for _, l := range []net.Listener{n.lis, n.healthLis} {
		if l != nil {
			_ = l.Close()
		}
	}
	if n.store != nil {
		if err := n.store.Close(); err != nil {
			n.log.Error("close store", "err", err)
		}
		n.store = nil
	}
}

func isClosed(err error) bool {
	return errors.Is(err, http.ErrServerClosed) || errors.Is(err, cmux.ErrListenerClosed) ||
		errors.Is(err, cmux.ErrServerClosed) || errors.Is(err, net.ErrClosed) || errors.Is(err, grpc.ErrServerStopped)
}

// peerHandler serves the peer service from the node's parts.
type peerHandler struct{ n *Node }

var _ p2p.Handler = peerHandler{}

// maxFetchBytes bounds one answer to a block fetch.
const maxFetchBytes = 8 << 20

func (h peerHandler) HandleHello(context.Context) p2p.Hello {
	if h.n.panicNextCall.CompareAndSwap(true, false) {
		panic(fmt.Sprintf("debug fault %s: %v", FaultGRPCPanic, errInjected))
	}
	return h.n.hello()
}

func (h peerHandler) HandleRaft(ctx context.Context, msgs []raftpb.Message) error {
	if h.n.raft == nil {
		return errNotRaft
	}
	// A peer speaks for itself only: a raft message claiming another
	// sender (a vote or an append in another node's name) is refused.
	peer := p2p.PeerID(ctx)
	for i := range msgs {
		if msgs[i].From != raft.RaftID(peer) {
			h.n.log.WarnContext(ctx, "peer call refused: raft message in another node's name", "peer", peer,
				"raft_from", msgs[i].From, "type", msgs[i].Type.String(), semconv.ErrorTypeKey, semconv.ErrorP2PDisconnect)
			return fmt.Errorf("%w: raft message %s from raft id %d, but the caller is %q", errWrongSender, msgs[i].Type, msgs[i].From, peer)
		}
	}
	return h.n.raft.Step(ctx, msgs)
}

func (h peerHandler) HandleForward(ctx context.Context, txs []chain.Tx) []error {
	if h.n.pow != nil {
		return h.n.pow.Admit(ctx, txs)
	}
	return h.n.raft.Admit(ctx, txs)
}

func (h peerHandler) HandleFetch(_ context.Context, from, to uint64) ([]*chain.Block, error) {
	head, _ := h.n.store.Head()
	if from > head.Height {
		return nil, fmt.Errorf("fetch from %d: head is %d", from, head.Height)
	}
	return h.n.store.Blocks(from, min(to, head.Height), maxFetchBytes)
}
