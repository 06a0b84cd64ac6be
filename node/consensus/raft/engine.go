// Package raft is the Raft consensus engine (go.etcd.io/raft/v3) behind
// consensus.Engine: followers forward transactions to the leader, the leader
// cuts blocks and proposes each as one raft entry, and every node applies the
// committed blocks to its store in log order.
//
// One goroutine runs the Ready loop (persist, send, apply, snapshot,
// Advance); another, on the leader, cuts blocks. A few proposed blocks are in
// flight at a time, each built on the state the ones before it leave, so a
// block is always built on the state it will be applied to. Batching comes
// from that pipeline: while blocks commit, the next one fills.
//
// The engine meets the node through small interfaces (seams.go): a
// StateMachine it applies blocks to (node/store), a LogStorage for raft's
// log (raftlog, in the same Badger database), a TxSource of admitted
// transactions (node/mempool) and a Transport to its peers (node/p2p). Its
// unit tests run whole clusters in one process on in-memory doubles of
// each, over etcd raft's MemoryStorage.
package raft

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/chainotel/chainotel/node/chain"
	"github.com/chainotel/chainotel/node/consensus"
	"github.com/chainotel/chainotel/node/guard"
	"github.com/chainotel/chainotel/semconv"
)

// Transport carries the engine's traffic to its peers, named by node id. Its
// methods are safe for concurrent use.
type Transport interface {
	// Send delivers raft messages to node to without blocking the caller; it
	// calls done with the outcome once it tried (nil when delivered).
	Send(to string, msgs []raftpb.Message, done func(error))
	// Forward asks node to to admit txs, returning one error per tx.
	Forward(ctx context.Context, to string, txs []chain.Tx) ([]error, error)
	// FetchBlocks reads blocks from..to (inclusive) from node peer; it may
	// return fewer, from the start of the range, but at least one.
	FetchBlocks(ctx context.Context, peer string, from, to uint64) ([]*chain.Block, error)
	// PeersUp counts the peers that answered recently, this node excluded.
	PeersUp() int
}

// Config configures an Engine.
type Config struct {
	NodeID    string
	Genesis   *chain.Genesis
	State     StateMachine // the chain committed blocks are applied to
	Log       LogStorage   // raft's log, hard state and snapshot
	Pool      TxSource     // admitted transactions, cut into blocks on the leader
	Transport Transport
	Logger    *slog.Logger
	Tracer    trace.Tracer
	// OnApplied is told of every applied block (see consensus.BlockListener).
	OnApplied consensus.BlockListener
	// Go starts the engine's helper loops (under the process's panic guard).
	Go guard.Go

	TickInterval    time.Duration // raft tick; elections time out after 10 ticks
	SnapshotEvery   uint64        // applied entries between snapshots
	SnapshotCatchUp uint64        // entries kept after a compaction for slow followers
	ProposalTimeout time.Duration // a proposed block not committed by then is given up
	MaxInflight     int           // proposed blocks the leader keeps in flight
	ForwardWorkers  int           // concurrent forward batches from a follower
	ForwardBatch    int           // most txs in one forward call
}

// DefaultConfig fills the tuning fields with their defaults.
func DefaultConfig() Config {
	return Config{
		TickInterval: 100 * time.Millisecond,
		// A raft snapshot is only a pointer to the applied head, so it is
		// cheap; frequent ones keep the in-memory log (whole blocks) small.
		SnapshotEvery:   1_000,
		SnapshotCatchUp: 200,
		ProposalTimeout: 3 * time.Second,
		MaxInflight:     4,
		ForwardWorkers:  4,
		ForwardBatch:    2048,
	}
}

// Engine is the raft consensus engine.
type Engine struct {
	cfg    Config
	params *chain.Params
	log    *slog.Logger
	tracer trace.Tracer
	id     uint64
	names  map[uint64]string // raft id -> node id

	node atomic.Pointer[raft.Node] // set once Run started raft

	leader atomic.Uint64
	term   atomic.Uint64
	commit atomic.Uint64
	state  atomic.Value // string

	leaderMu      sync.Mutex
	leaderChanged chan struct{} // closed and replaced when the leader changes

	// termStart is the last log index when this node became leader: it may
	// cut blocks once it applied that far (everything earlier terms committed).
	termStart atomic.Uint64
	appliedCh chan struct{} // wakes the proposer after an apply

	fwd        chan *fwdReq
	reads      *reads         // linearizable reads waiting on ReadIndex and apply
	background sync.WaitGroup // hand-overs started by the Ready loop

	// Owned by the Ready loop.
	confState raftpb.ConfState
	snapIndex uint64
}

var _ consensus.Engine = (*Engine)(nil)

// RaftID is the raft member id of a node id: a 64-bit FNV-1a hash, so every
// node derives the same ids from the genesis validators.
func RaftID(nodeID string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(nodeID))
	if id := h.Sum64(); id != 0 {
		return id
	}
	return 1
}

// New checks cfg and makes an engine; Run starts it.
func New(cfg Config) (*Engine, error) {
	if cfg.Genesis == nil || cfg.State == nil || cfg.Log == nil || cfg.Pool == nil || cfg.Transport == nil {
		return nil, errors.New("raft engine: genesis, state, log, pool and transport are required")
	}
	if !cfg.Genesis.IsValidator(cfg.NodeID) {
		return nil, fmt.Errorf("raft engine: node %q is not among the genesis validators %v", cfg.NodeID, cfg.Genesis.Validators)
	}
	def := DefaultConfig()
	if cfg.TickInterval <= 0 {
		cfg.TickInterval = def.TickInterval
	}
	if cfg.SnapshotEvery == 0 {
		cfg.SnapshotEvery = def.SnapshotEvery
	}
	if cfg.SnapshotCatchUp == 0 || cfg.SnapshotCatchUp > cfg.SnapshotEvery {
		cfg.SnapshotCatchUp = min(def.SnapshotCatchUp, cfg.SnapshotEvery)
	}
	if cfg.ProposalTimeout <= 0 {
		cfg.ProposalTimeout = def.ProposalTimeout
	}
	if cfg.MaxInflight <= 0 {
		cfg.MaxInflight = def.MaxInflight
	}
	if cfg.ForwardWorkers <= 0 {
		cfg.ForwardWorkers = def.ForwardWorkers
	}
	if cfg.ForwardBatch <= 0 {
		cfg.ForwardBatch = def.ForwardBatch
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
		cfg:           cfg,
		params:        &cfg.Genesis.Consensus,
		log:           cfg.Logger.With("component", "raft"),
		tracer:        cfg.Tracer,
		id:            RaftID(cfg.NodeID),
		names:         make(map[uint64]string),
		leaderChanged: make(chan struct{}),
		appliedCh:     make(chan struct{}, 1),
		fwd:           make(chan *fwdReq, 4096),
		reads:         newReads(),
	}
	for _, v := range cfg.Genesis.Validators {
		id := RaftID(v)
		if other, dup := e.names[id]; dup {
			return nil, fmt.Errorf("raft engine: validators %q and %q hash to the same raft id", other, v)
		}
		e.names[id] = v
	}
	e.state.Store("starting")
	return e, nil
}

// Run bootstraps or restarts raft from its log storage and drives it until
// ctx ends.
func (e *Engine) Run(ctx context.Context) error {
	rl := e.cfg.Log
	if err := e.bootstrap(rl); err != nil {
		return err
	}
	snap, err := rl.Snapshot()
	if err != nil {
		return fmt.Errorf("read raft snapshot: %w", err)
	}
	// A snapshot persisted before a crash may not have been caught up with.
	if err := e.catchUp(ctx, snap); err != nil {
		return err
	}
	_, cs, err := rl.InitialState()
	if err != nil {
		return fmt.Errorf("read raft state: %w", err)
	}
	e.confState, e.snapIndex = cs, snap.Metadata.Index
	applied := max(e.cfg.State.AppliedIndex(), snap.Metadata.Index)
	n := raft.RestartNode(&raft.Config{
		ID:                        e.id,
		ElectionTick:              10,
		HeartbeatTick:             1,
		Storage:                   rl,
		Applied:                   applied,
		MaxSizePerMsg:             4 << 20,
		MaxCommittedSizePerReady:  64 << 20,
		MaxUncommittedEntriesSize: 1 << 30,
		MaxInflightMsgs:           256,
		CheckQuorum:               true,
		PreVote:                   true,
		Logger:                    raftLogger{e.log},
	})
	e.node.Store(&n)
	e.log.Info("raft started", "raft_id", e.id, "applied", applied, "members", len(e.names))

	var wg sync.WaitGroup
	loopCtx, stopHelpers := context.WithCancel(ctx)
	e.cfg.Go.Start(loopCtx, &wg, "raft.propose", e.proposeLoop)
	for range e.cfg.ForwardWorkers {
		e.cfg.Go.Start(loopCtx, &wg, "raft.forward", e.forwardLoop)
	}
	err = e.readyLoop(loopCtx, n)
	stopHelpers()
	n.Stop()
	wg.Wait()
	e.background.Wait()
	return err
}

// bootstrap gives a brand-new log the cluster membership, as a snapshot at
// index 1 that every validator writes identically, so no node has to propose
// the initial configuration.
func (e *Engine) bootstrap(rl LogStorage) error {
	empty, err := rl.IsEmpty()
	if err != nil || !empty {
		return err
	}
	voters := make([]uint64, 0, len(e.names))
	for id := range e.names {
		voters = append(voters, id)
	}
	head, hash := e.cfg.State.Head()
	data, err := encodeSnapData(snapData{Height: head.Height, Hash: hash})
	if err != nil {
		return err
	}
	snap := raftpb.Snapshot{Data: data, Metadata: raftpb.SnapshotMetadata{
		Index: 1, Term: 1, ConfState: raftpb.ConfState{Voters: voters},
	}}
	if err := rl.ApplySnapshot(snap); err != nil {
		return fmt.Errorf("bootstrap raft: %w", err)
	}
	e.log.Info("raft bootstrapped", "voters", e.cfg.Genesis.Validators)
	return nil
}

func (e *Engine) readyLoop(ctx context.Context, n raft.Node) error {
	ticker := time.NewTicker(e.cfg.TickInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ticker.C:
			n.Tick()
		case rd := <-n.Ready():
			if err := e.handleReady(ctx, n, rd); err != nil {
				return err
			}
		case <-ctx.Done():
			return nil
		}
	}
}

// Status reports the engine's view of the cluster.
func (e *Engine) Status() consensus.Status {
	lead := e.leader.Load()
	return consensus.Status{
		NodeID:    e.cfg.NodeID,
		Consensus: semconv.ConsensusRaft,
		Leader:    e.names[lead],
		IsLeader:  lead == e.id,
		State:     e.state.Load().(string),
		Term:      e.term.Load(),
		Commit:    e.commit.Load(),
		Applied:   e.cfg.State.AppliedIndex(),
		Members:   len(e.names),
		PeersUp:   e.cfg.Transport.PeersUp() + 1,
	}
}

// Step hands raft messages received from a peer to raft.
func (e *Engine) Step(ctx context.Context, msgs []raftpb.Message) error {
	np := e.node.Load()
	if np == nil {
		return errors.New("raft not started yet")
	}
	for _, m := range msgs {
		e.traceVote(m, semconv.VoteReceived)
		if err := (*np).Step(ctx, m); err != nil && !errors.Is(err, raft.ErrStepPeerNotFound) {
			return fmt.Errorf("step %s from %s: %w", m.Type, e.names[m.From], err)
		}
	}
	return nil
}

func (e *Engine) isLeader() bool { return e.leader.Load() == e.id }

func (e *Engine) setLeader(lead uint64) {
	if e.leader.Swap(lead) == lead {
		return
	}
	e.leaderMu.Lock()
	close(e.leaderChanged)
	e.leaderChanged = make(chan struct{})
	e.leaderMu.Unlock()
}

// leaderWatch is closed at the next leader change.
func (e *Engine) leaderWatch() <-chan struct{} {
	e.leaderMu.Lock()
	defer e.leaderMu.Unlock()
	return e.leaderChanged
}

// raftLogger sends raft's log lines to slog. raft calls Panic on broken
// invariants; it must still panic there, since raft's state is then unusable.
type raftLogger struct{ l *slog.Logger }

func (r raftLogger) Debug(v ...any)              { r.l.Debug(fmt.Sprint(v...)) }
func (r raftLogger) Debugf(f string, v ...any)   { r.l.Debug(fmt.Sprintf(f, v...)) }
func (r raftLogger) Info(v ...any)               { r.l.Debug(fmt.Sprint(v...)) }
func (r raftLogger) Infof(f string, v ...any)    { r.l.Debug(fmt.Sprintf(f, v...)) }
func (r raftLogger) Warning(v ...any)            { r.l.Warn(fmt.Sprint(v...)) }
func (r raftLogger) Warningf(f string, v ...any) { r.l.Warn(fmt.Sprintf(f, v...)) }
func (r raftLogger) Error(v ...any)              { r.l.Error(fmt.Sprint(v...)) }
func (r raftLogger) Errorf(f string, v ...any)   { r.l.Error(fmt.Sprintf(f, v...)) }
func (r raftLogger) Fatal(v ...any)              { r.Panic(v...) }
func (r raftLogger) Fatalf(f string, v ...any)   { r.Panicf(f, v...) }
func (r raftLogger) Panic(v ...any)              { s := fmt.Sprint(v...); r.l.Error(s); panic(s) }
func (r raftLogger) Panicf(f string, v ...any)   { r.Panic(fmt.Sprintf(f, v...)) }
