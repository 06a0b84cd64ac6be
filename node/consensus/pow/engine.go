// Package pow is the proof-of-work consensus engine behind consensus.Engine:
// every node mines blocks of the transactions it heard of (SHA-256 over the
// block header, on a bounded number of goroutines), gossips the blocks it
// mines and accepts to its peers, and follows the branch with the most
// cumulative work, rolling its state back and forward in one store
// transaction when a heavier branch appears (storage.go keeps the side
// branches and the undo records that make that possible). The difficulty retargets toward
// the genesis's target block time. A node that hears of a block whose parent
// it lacks fetches the missing range from that peer.
//
// One goroutine (Run's loop) owns the block tree, the store's writes and the
// mining job; peers' blocks, mined blocks and sync batches reach it over
// channels.
package pow

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/chainotel/chainotel/node/chain"
	"github.com/chainotel/chainotel/node/consensus"
	"github.com/chainotel/chainotel/node/guard"
	"github.com/chainotel/chainotel/node/mempool"
	"github.com/chainotel/chainotel/node/store"
	"github.com/chainotel/chainotel/semconv"
)

// Transport carries the engine's traffic to its peers, named by node id. Its
// methods are safe for concurrent use.
type Transport interface {
	// Announce gossips a block to node to.
	Announce(ctx context.Context, to string, b *chain.Block) error
	// Forward hands txs to node to's mempool, returning one error per tx.
	Forward(ctx context.Context, to string, txs []chain.Tx) ([]error, error)
	// FetchBlocks reads blocks from..to (inclusive) of node peer's best chain;
	// it may return fewer, from the start of the range, but at least one.
	FetchBlocks(ctx context.Context, peer string, from, to uint64) ([]*chain.Block, error)
	// Known lists the node ids of the peers that introduced themselves.
	Known() []string
	// PeersUp counts the peers that answered recently, this node excluded.
	PeersUp() int
}

// Config configures an Engine.
type Config struct {
	NodeID    string
	Genesis   *chain.Genesis // must have PoW params
	Store     *store.Store
	Pool      *mempool.Pool
	Transport Transport
	Logger    *slog.Logger
	Tracer    trace.Tracer
	// Registerer takes the engine's metrics; nil registers none.
	Registerer prometheus.Registerer
	// OnApplied is told of every block that joins the best chain, in height
	// order (see consensus.BlockListener); after a reorganisation, of each
	// block of the new branch.
	OnApplied consensus.BlockListener
	// Go starts the engine's helper loops (under the process's panic guard).
	Go guard.Go

	Threads         int           // mining goroutines
	MaxHashRate     float64       // hashes per second in all; 0 is unlimited
	MaxReorgDepth   uint64        // deepest reorganisation followed
	SyncRange       uint64        // blocks per sync fetch
	RefreshInterval time.Duration // how often new transactions may restart the miner
	BanAfter        int           // invalid blocks from a peer before it is ignored
	BanFor          time.Duration // how long it is ignored
	Disabled        bool          // do not mine (follow and relay only)
}

// DefaultConfig fills the tuning fields with their defaults.
func DefaultConfig() Config {
	return Config{
		Threads:         1,
		MaxReorgDepth:   256,
		SyncRange:       64,
		RefreshInterval: 200 * time.Millisecond,
		BanAfter:        3,
		BanFor:          30 * time.Second,
	}
}

// Engine is the proof-of-work consensus engine.
type Engine struct {
	cfg     Config
	params  *chain.Params
	pow     *chain.PoWParams
	log     *slog.Logger
	tracer  trace.Tracer
	miner   *Miner
	metrics *metrics

	blocks  blockStore // kept blocks and undo records, beside the chain in cfg.Store
	tree    *tree
	inbox   chan inbound
	syncReq chan syncRequest
	running atomic.Bool
	status  atomic.Pointer[consensus.PoWStatus]
	rate    atomic.Uint64 // float64 bits: hashes per second
	reorgs  atomic.Uint64
	gossip  chan struct{} // bounds concurrent announcements

	penaltyMu sync.Mutex
	penalties map[string]*penalty

	// Owned by Run's loop.
	job    *job
	runCtx context.Context // Run's: mining jobs live under it, not under the request that moved the head
}

// inbound is a block for the loop to consider, from a peer ("" for this
// node's miner), and where to say what became of it.
type inbound struct {
	ctx    context.Context
	block  *chain.Block
	from   string
	relay  bool // gossip it on when it joins the best chain
	result chan error
}

type penalty struct {
	strikes     int
	bannedUntil time.Time
}

// New checks cfg and makes an engine; Run starts it.
func New(cfg Config) (*Engine, error) {
	if cfg.Genesis == nil || cfg.Genesis.PoW == nil {
		return nil, fmt.Errorf("pow engine: the genesis has no pow section; `blockchain init` writes a genesis with one")
	}
	if cfg.Store == nil || cfg.Pool == nil || cfg.Transport == nil {
		return nil, fmt.Errorf("pow engine: store, pool and transport are required")
	}
	def := DefaultConfig()
	if cfg.Threads <= 0 {
		cfg.Threads = def.Threads
	}
	if cfg.MaxReorgDepth == 0 {
		cfg.MaxReorgDepth = def.MaxReorgDepth
	}
	if cfg.SyncRange == 0 {
		cfg.SyncRange = def.SyncRange
	}
	if cfg.RefreshInterval <= 0 {
		cfg.RefreshInterval = def.RefreshInterval
	}
	if cfg.BanAfter <= 0 {
		cfg.BanAfter = def.BanAfter
	}
	if cfg.BanFor <= 0 {
		cfg.BanFor = def.BanFor
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Tracer == nil {
		cfg.Tracer = noop.NewTracerProvider().Tracer("")
	}
	if cfg.OnApplied == nil {
		cfg.OnApplied = func(*chain.Block) {}
	}
	e := &Engine{
		cfg:       cfg,
		blocks:    blockStore{cfg.Store},
		params:    &cfg.Genesis.Consensus,
		pow:       cfg.Genesis.PoW,
		log:       cfg.Logger.With("component", "pow"),
		tracer:    cfg.Tracer,
		miner:     NewMiner(cfg.Threads, cfg.MaxHashRate),
		inbox:     make(chan inbound),
		syncReq:   make(chan syncRequest, 16),
		gossip:    make(chan struct{}, 16),
		penalties: make(map[string]*penalty),
	}
	m, err := newMetrics(cfg.Registerer, e)
	if err != nil {
		return nil, err
	}
	e.metrics = m
	e.miner.Go = cfg.Go
	if err := e.loadTree(); err != nil {
		return nil, err
	}
	e.publish()
	return e, nil
}

// loadTree rebuilds the block tree from the store: the genesis, then every
// kept block under its parent, and the store's head as the best chain.
func (e *Engine) loadTree() error {
	g, err := e.cfg.Store.BlockByHeight(0)
	if err != nil {
		return fmt.Errorf("pow engine: read genesis block: %w", err)
	}
	e.tree = newTree(g.Header, g.Hash())
	type kept struct {
		hdr  chain.Header
		hash chain.Hash
	}
	var all []kept
	err = e.blocks.headers(func(h chain.Header, hash chain.Hash, _ uint64) error {
		all = append(all, kept{h, hash})
		return nil
	})
	if err != nil {
		return fmt.Errorf("pow engine: load kept blocks: %w", err)
	}
	// Parents first: a parent is always lower than its children.
	byHeight := make(map[uint64][]kept)
	var top uint64
	for _, k := range all {
		byHeight[k.hdr.Height] = append(byHeight[k.hdr.Height], k)
		top = max(top, k.hdr.Height)
	}
	for h := uint64(1); h <= top; h++ {
		for _, k := range byHeight[h] {
			if _, err := e.tree.add(k.hdr, k.hash); err != nil {
				e.log.Warn("kept block dropped: its parent is missing", "height", h, "hash", k.hash.String())
			}
		}
	}
	_, headHash := e.cfg.Store.Head()
	best := e.tree.get(headHash)
	if best == nil {
		return fmt.Errorf("pow engine: the store's head %s is not among its kept blocks (was this data folder made by raft?)", headHash)
	}
	e.tree.setBest(best)
	if top > 0 {
		e.log.Info("block tree loaded", "blocks", len(all), semconv.BlockHeightKey, best.hdr.Height, "total_work", best.work)
	}
	return nil
}

// Run mines, accepts blocks and syncs until ctx ends; it returns nil then,
// or the storage error that stopped it.
func (e *Engine) Run(ctx context.Context) error {
	e.running.Store(true)
	defer e.running.Store(false)
	var wg sync.WaitGroup
	helpers, stop := context.WithCancel(ctx)
	defer func() {
		e.stopJob()
		stop()
		wg.Wait()
	}()
	e.cfg.Go.Start(helpers, &wg, "pow.sync", e.syncLoop)
	e.log.Info("proof of work started", "threads", e.cfg.Threads, "max_hash_rate", e.cfg.MaxHashRate,
		semconv.BlockHeightKey, e.tree.head().hdr.Height)
	return e.loop(ctx)
}

func (e *Engine) loop(ctx context.Context) error {
	e.runCtx = ctx
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	refresh := time.NewTimer(0) // the first job starts at once
	defer refresh.Stop()
	lastHashes, lastTick := e.miner.Hashes(), time.Now()
	for {
		select {
		case <-ctx.Done():
			return nil
		case in := <-e.inbox:
			err := e.accept(in.ctx, in.block, in.from, in.relay)
			in.result <- err
			if isFatal(err) {
				return err
			}
		case m := <-e.minedCh():
			if err := e.minedBlock(ctx, m); isFatal(err) {
				return err
			}
		case <-e.cfg.Pool.Ready():
			if e.job == nil || !e.job.pending {
				refresh.Reset(e.cfg.RefreshInterval)
				if e.job != nil {
					e.job.pending = true
				}
			}
		case <-refresh.C:
			if err := e.restartMining(false); err != nil {
				return err
			}
		case now := <-tick.C:
			h := e.miner.Hashes()
			rate := float64(h-lastHashes) / now.Sub(lastTick).Seconds()
			lastHashes, lastTick = h, now
			e.rate.Store(math.Float64bits(rate))
			e.publish()
		}
	}
}

// Submit admits txs into this node's mempool, against its best chain's
// state, and hands the admitted ones to its peers so every miner can include
// them. It returns one admission error per transaction.
func (e *Engine) Submit(ctx context.Context, txs []chain.Tx) []error {
	errs := e.Admit(ctx, txs)
	var ok []chain.Tx
	for i, err := range errs {
		if err == nil {
			ok = append(ok, txs[i])
		}
	}
	if len(ok) > 0 {
		for _, peer := range e.cfg.Transport.Known() {
			e.sendAsync(ctx, "pow.forward", func(ctx context.Context) error {
				_, err := e.cfg.Transport.Forward(ctx, peer, ok)
				return err
			})
		}
	}
	return errs
}

// Admit puts txs into this node's mempool (a peer's Forward lands here).
func (e *Engine) Admit(ctx context.Context, txs []chain.Tx) []error {
	errs := make([]error, len(txs))
	for i := range txs {
		errs[i] = e.cfg.Pool.Add(ctx, txs[i], txs[i].Hash(), e.cfg.Store, e.params)
	}
	return errs
}

// sendAsync runs a call to a peer in the background, bounded: when too many
// are in flight it is dropped (gossip is best effort; sync repairs gaps).
func (e *Engine) sendAsync(ctx context.Context, what string, call func(ctx context.Context) error) {
	select {
	case e.gossip <- struct{}{}:
	default:
		e.log.Debug("peer call dropped: too many in flight", "call", what)
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	e.cfg.Go.Start(ctx, nil, what, func(ctx context.Context) {
		defer func() { <-e.gossip; cancel() }()
		if err := call(ctx); err != nil {
			e.log.Debug("peer call failed", "call", what, "err", err)
		}
	})
}

// Status reports the engine's view of its chain and peers.
func (e *Engine) Status() consensus.Status {
	ps := *e.status.Load()
	ps.HashRate = math.Float64frombits(e.rate.Load())
	ps.Banned = e.banned()
	head := e.tree.head()
	return consensus.Status{
		NodeID:    e.cfg.NodeID,
		Consensus: semconv.ConsensusPoW,
		// The node that mined the head; "" until the first block, so /ready
		// answers once the chain moves.
		Leader:   head.hdr.Proposer,
		IsLeader: head.hdr.Proposer == e.cfg.NodeID,
		State:    "mining",
		Commit:   ps.Height,
		Applied:  ps.Height,
		Members:  len(e.cfg.Genesis.Validators),
		PeersUp:  e.cfg.Transport.PeersUp() + 1,
		PoW:      &ps,
	}
}

// publish refreshes the status snapshot from the best chain.
func (e *Engine) publish() {
	head := e.tree.head()
	d, err := nextDifficulty(e.pow, head)
	if err != nil {
		d = head.hdr.Difficulty
	}
	e.status.Store(&consensus.PoWStatus{Height: head.hdr.Height, Hash: head.hash, TotalWork: head.work,
		Difficulty: d, Reorgs: e.reorgs.Load()})
	e.metrics.observeHead(head.work, d, math.Float64frombits(e.rate.Load()))
}

var _ consensus.Engine = (*Engine)(nil)
