package raft

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/chainotel/chainotel/node/chain"
)

// Test doubles for the engine's seams. The real ones are node/store and
// raftlog (Badger) and p2p (gRPC over TLS), each tested for real in its own
// package and together in test/cluster; here the engine's own logic runs
// in-process and fast: several nodes in one test, links cut at will.

var errNoBlock = errors.New("no such block")

// memChain is a test double for StateMachine: the chain in memory, applying
// blocks with the checks node/store makes (follows the head, tx root, every
// transaction, state root), each apply atomic under one lock.
type memChain struct {
	mu      sync.RWMutex
	blocks  []*chain.Block // by height
	accts   accounts
	txs     map[chain.Hash]bool
	applied uint64
	synced  int // blocks applied from a sync (index 0)

	// beforeApply, when set, sees each committed entry's index before it is
	// applied (the persistence-order test checks it is durable).
	beforeApply func(index uint64)
}

var _ StateMachine = (*memChain)(nil)

func newMemChain(g *chain.Genesis) *memChain {
	b := g.Block()
	return &memChain{blocks: []*chain.Block{&b}, accts: g.Alloc(), txs: make(map[chain.Hash]bool)}
}

// accounts reads a map as chain state.
type accounts map[string]chain.Account

func (a accounts) Account(addr string) (chain.Account, error) { return a[addr], nil }

func (m *memChain) Account(addr string) (chain.Account, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.accts[addr], nil
}

func (m *memChain) HasTx(h chain.Hash) (bool, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.txs[h], nil
}

func (m *memChain) Head() (chain.Header, chain.Hash) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	b := m.blocks[len(m.blocks)-1]
	return b.Header, b.Hash()
}

func (m *memChain) BlockByHeight(h uint64) (*chain.Block, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if h >= uint64(len(m.blocks)) {
		return nil, fmt.Errorf("block %d: %w", h, errNoBlock)
	}
	return m.blocks[h], nil
}

// syncedBlocks counts the blocks applied from a sync rather than the log.
func (m *memChain) syncedBlocks() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.synced
}

func (m *memChain) AppliedIndex() uint64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.applied
}

func (m *memChain) SetAppliedIndex(_ context.Context, i uint64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.applied = max(m.applied, i)
	return nil
}

func (m *memChain) ApplyBlock(_ context.Context, b *chain.Block, params *chain.Params, index uint64) (bool, error) {
	if index != 0 && m.beforeApply != nil {
		m.beforeApply(index)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if index != 0 && index <= m.applied {
		return false, nil
	}
	head := m.blocks[len(m.blocks)-1]
	if b.Header.Height <= head.Header.Height {
		m.applied = max(m.applied, index)
		return false, nil
	}
	if b.Header.Height != head.Header.Height+1 || b.Header.Parent != head.Hash() {
		return false, fmt.Errorf("%w: block %d does not follow head %d", chain.ErrInvalidBlock, b.Header.Height, head.Header.Height)
	}
	if chain.TxRoot(b.Txs) != b.Header.TxRoot {
		return false, fmt.Errorf("%w: block %d tx root", chain.ErrInvalidBlock, b.Header.Height)
	}
	ex := chain.NewExecutor(params, m.accts)
	for i := range b.Txs {
		if _, err := ex.Apply(&b.Txs[i]); err != nil {
			return false, fmt.Errorf("%w: block %d tx %d: %w", chain.ErrInvalidBlock, b.Header.Height, i, err)
		}
	}
	if chain.StateRoot(head.Header.StateRoot, ex.Changes()) != b.Header.StateRoot {
		return false, fmt.Errorf("%w: block %d state root", chain.ErrInvalidBlock, b.Header.Height)
	}
	maps.Copy(m.accts, ex.Changes())
	for i := range b.Txs {
		m.txs[b.Txs[i].Hash()] = true
	}
	m.blocks = append(m.blocks, b)
	m.applied = max(m.applied, index)
	if index == 0 {
		m.synced++
	}
	return true, nil
}

// memLog is a test double for LogStorage: etcd raft's MemoryStorage stands
// for the disk, so whatever Save returned from is "durable". failSave, when
// set, makes Save fail as a full disk would.
type memLog struct {
	*raft.MemoryStorage

	mu       sync.Mutex
	failSave error
}

var _ LogStorage = (*memLog)(nil)

func newMemLog() *memLog { return &memLog{MemoryStorage: raft.NewMemoryStorage()} }

func (l *memLog) IsEmpty() (bool, error) {
	hs, _, err := l.InitialState()
	if err != nil {
		return false, err
	}
	last, err := l.LastIndex()
	return raft.IsEmptyHardState(hs) && last == 0, err
}

func (l *memLog) Save(hs raftpb.HardState, ents []raftpb.Entry, snap raftpb.Snapshot, _ bool) error {
	l.mu.Lock()
	fail := l.failSave
	l.mu.Unlock()
	if fail != nil {
		return fail
	}
	if !raft.IsEmptySnap(snap) {
		if err := l.MemoryStorage.ApplySnapshot(snap); err != nil && !errors.Is(err, raft.ErrSnapOutOfDate) {
			return err
		}
	}
	if err := l.Append(ents); err != nil {
		return err
	}
	if !raft.IsEmptyHardState(hs) {
		return l.SetHardState(hs)
	}
	return nil
}

func (l *memLog) ApplySnapshot(snap raftpb.Snapshot) error {
	return l.Save(raftpb.HardState{}, nil, snap, true)
}

func (l *memLog) Compact(i uint64) error {
	if err := l.MemoryStorage.Compact(i); err != nil && !errors.Is(err, raft.ErrCompacted) {
		return err
	}
	return nil
}

func (l *memLog) setFailSave(err error) {
	l.mu.Lock()
	l.failSave = err
	l.mu.Unlock()
}

// hardState is the durable hard state.
func (l *memLog) hardState() raftpb.HardState {
	hs, _, _ := l.InitialState()
	return hs
}
