// Package api is the node's HTTP interface: the client API on --port
// (transactions in, blocks, transactions, accounts and status out) and the
// health server on --health-port (/health, /ready, /metrics).
package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/chainotel/chainotel/node/chain"
	"github.com/chainotel/chainotel/node/consensus"
	"github.com/chainotel/chainotel/node/guard"
	"github.com/chainotel/chainotel/node/store"
)

// Chain is the read side of the store the API serves.
type Chain interface {
	Head() (chain.Header, chain.Hash)
	BlockByHeight(h uint64) (*chain.Block, error)
	BlockByHash(h chain.Hash) (*chain.Block, error)
	Tx(h chain.Hash) (*chain.Tx, store.TxLocation, error)
	Account(addr string) (chain.Account, error)
	Sizes() (lsm, vlog int64)
}

var _ Chain = (*store.Store)(nil)

// Config configures New.
type Config struct {
	NodeID  string
	Genesis *chain.Genesis
	Chain   Chain
	Engine  consensus.Engine
	// MempoolLen reports the mempool's size for /status and /metrics.
	MempoolLen func() int

	Logger         *slog.Logger
	TracerProvider trace.TracerProvider
	// Propagator reads trace context and baggage from requests; nil means
	// W3C trace context and baggage.
	Propagator propagation.TextMapPropagator
	Registerer prometheus.Registerer
	Gatherer   prometheus.Gatherer
	// OnPanic records a panic recovered in a handler (the request is
	// answered 500 and the node goes on serving); nil logs it on Logger.
	OnPanic guard.Recorder

	// CommitTimeout is how long POST /tx waits for its block (503 after).
	CommitTimeout time.Duration
	MaxTxBytes    int64 // body limit of POST /tx
	MaxBatchBytes int64 // body limit of POST /txs
	MaxBatchTxs   int   // transactions in one POST /txs
	// MaxClientRequests bounds the requests one client (remote IP) has in
	// flight; more are answered 429 (DefaultMaxClientRequests when 0).
	MaxClientRequests int
}

// Defaults for the zero fields of Config.
const (
	DefaultCommitTimeout = 10 * time.Second
	DefaultMaxTxBytes    = 64 << 10
	DefaultMaxBatchBytes = 16 << 20
	DefaultMaxBatchTxs   = 20_000
)

// API serves the client API and the health server.
type API struct {
	cfg     Config
	log     *slog.Logger
	tracer  trace.Tracer
	params  *chain.Params
	waiters *waiters
	heads   *headWatch // wakes POST /tx?confirmations=N
	metrics *metrics
	limiter *clientLimiter
	// commitTimeout is cfg.CommitTimeout as it is now: SetCommitTimeout
	// changes it while the node runs.
	commitTimeout atomic.Int64
}

// New checks cfg and registers the node's metrics.
func New(cfg Config) (*API, error) {
	if cfg.Genesis == nil || cfg.Chain == nil || cfg.Engine == nil {
		return nil, errors.New("api: genesis, chain and engine are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.TracerProvider == nil {
		cfg.TracerProvider = noop.NewTracerProvider()
	}
	if cfg.Propagator == nil {
		cfg.Propagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	}
	if cfg.MempoolLen == nil {
		cfg.MempoolLen = func() int { return 0 }
	}
	if cfg.Registerer == nil || cfg.Gatherer == nil {
		reg := prometheus.NewRegistry()
		cfg.Registerer, cfg.Gatherer = reg, reg
	}
	if cfg.CommitTimeout <= 0 {
		cfg.CommitTimeout = DefaultCommitTimeout
	}
	if cfg.MaxTxBytes <= 0 {
		cfg.MaxTxBytes = DefaultMaxTxBytes
	}
	if cfg.MaxBatchBytes <= 0 {
		cfg.MaxBatchBytes = DefaultMaxBatchBytes
	}
	if cfg.MaxBatchTxs <= 0 {
		cfg.MaxBatchTxs = DefaultMaxBatchTxs
	}
	if cfg.MaxClientRequests <= 0 {
		cfg.MaxClientRequests = DefaultMaxClientRequests
	}
	a := &API{
		cfg:     cfg,
		log:     cfg.Logger.With("component", "api"),
		tracer:  cfg.TracerProvider.Tracer(TracerScope),
		params:  &cfg.Genesis.Consensus,
		waiters: newWaiters(),
		heads:   newHeadWatch(),
	}
	m, err := newMetrics(a)
	if err != nil {
		return nil, err
	}
	a.metrics = m
	a.limiter = newClientLimiter(cfg.MaxClientRequests, a.log, m.throttled)
	a.commitTimeout.Store(int64(cfg.CommitTimeout))
	return a, nil
}

// OnApplied is the engine's block listener: it answers the requests waiting
// for the block's transactions and counts them.
func (a *API) OnApplied(b *chain.Block) {
	a.metrics.committed.Add(float64(len(b.Txs)))
	a.metrics.blocks.Inc()
	a.waiters.notify(b)
	a.heads.bump()
}

// Handler is the client API: each route is traced (a server span named after
// the route, e.g. "POST /tx") and timed in a latency histogram.
func (a *API) Handler() http.Handler {
	mux := http.NewServeMux()
	routes := []struct {
		pattern string
		h       http.HandlerFunc
	}{
		{"POST /tx", a.postTx},
		{"POST /txs", a.postTxs},
		{"GET /blocks/latest", a.getLatest},
		{"GET /blocks/{id}", a.getBlock},
		{"GET /tx/{hash}", a.getTx},
		{"GET /accounts/{addr}", a.getAccount},
		{"GET /status", a.getStatus},
	}
	for _, rt := range routes {
		mux.Handle(rt.pattern, a.newRoute(rt.pattern, rt.h))
	}
	handleUnrouted(mux)
	return a.limiter.wrap(mux)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError answers err with its status and records it on the request span.
func (a *API) writeError(ctx context.Context, w http.ResponseWriter, err error) {
	status, body, errType := statusOf(err)
	if status >= 500 {
		a.log.WarnContext(ctx, "request failed", "status", status, "err", err, "error.type", errType)
	}
	recordError(ctx, err, errType)
	writeJSON(w, status, body)
}
