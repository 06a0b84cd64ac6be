package raft

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"time"

	"go.etcd.io/raft/v3"

	"github.com/chainotel/chainotel/node/consensus"
)

// readRetryTicks is how many ticks a ReadIndex request waits for its answer
// before it is asked again (etcd retries after 500 ms, 5 of our default
// ticks). Raft drops a request without a word when the leader steps down or
// while a follower knows no leader; asking again reaches the next leader.
const readRetryTicks = 5

// ReadBarrier makes a read of this node's state linearizable, the way etcd
// serves its default reads (raft thesis 6.4): it asks raft for a read index
// (the leader's commit index, once a round of heartbeats confirmed it still
// leads a quorum; a follower's request goes to the leader over the raft
// transport), then waits until this node applied that far. Whatever was
// committed before the call is then in the local state.
//
// A leader cut off from its quorum cannot confirm it leads, so it never
// answers: the call ends wrapping consensus.ErrNoQuorum when ctx does.
func (e *Engine) ReadBarrier(ctx context.Context) error {
	index, err := e.readIndex(ctx)
	if err != nil {
		return err
	}
	return e.waitApplied(ctx, index)
}

var _ consensus.LinearReader = (*Engine)(nil)

// readIndex asks raft for a read index until it answers or ctx ends.
func (e *Engine) readIndex(ctx context.Context) (uint64, error) {
	np := e.node.Load()
	if np == nil {
		return 0, fmt.Errorf("%w: raft is not running yet", consensus.ErrNoQuorum)
	}
	key, answer := e.reads.register(e.id)
	defer e.reads.forget(key)
	retry := readRetryTicks * e.cfg.TickInterval
	for {
		if err := (*np).ReadIndex(ctx, key); err != nil && ctx.Err() == nil {
			return 0, fmt.Errorf("read index: %w", err)
		}
		t := time.NewTimer(retry)
		select {
		case index := <-answer:
			t.Stop()
			return index, nil
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return 0, fmt.Errorf("%w: no leader confirmed a read index in time", consensus.ErrNoQuorum)
		}
	}
}

// waitApplied waits until the state reflects raft index i.
func (e *Engine) waitApplied(ctx context.Context, i uint64) error {
	for {
		moved := e.reads.appliedWatch()
		at := e.cfg.State.AppliedIndex()
		if at >= i {
			return nil
		}
		select {
		case <-moved:
		case <-ctx.Done():
			return fmt.Errorf("%w: applied up to index %d, the read needs %d", consensus.ErrNoQuorum, at, i)
		}
	}
}

// reads pairs ReadIndex requests with raft's answers (Ready.ReadStates) and
// tells the waiting reads when the applied index moves. Safe for concurrent
// use: readers register from any goroutine, the Ready loop delivers.
type reads struct {
	mu      sync.Mutex
	next    uint64
	waiting map[string]chan uint64
	applied chan struct{} // closed and replaced when the applied index moves
}

func newReads() *reads {
	return &reads{waiting: map[string]chan uint64{}, applied: make(chan struct{})}
}

// register makes a request context unique in the cluster (the leader keys
// pending reads by it): this node's raft id, then a counter.
func (r *reads) register(id uint64) ([]byte, chan uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.next++
	key := binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, id), r.next)
	ch := make(chan uint64, 1)
	r.waiting[string(key)] = ch
	return key, ch
}

func (r *reads) forget(key []byte) {
	r.mu.Lock()
	delete(r.waiting, string(key))
	r.mu.Unlock()
}

// deliver hands each read state to its request; a request asked twice may
// be answered twice, and only the first answer counts.
func (r *reads) deliver(states []raft.ReadState) {
	if len(states) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range states {
		if ch, ok := r.waiting[string(s.RequestCtx)]; ok {
			select {
			case ch <- s.Index:
			default:
			}
		}
	}
}

// appliedMoved wakes the reads waiting for the applied index.
func (r *reads) appliedMoved() {
	r.mu.Lock()
	close(r.applied)
	r.applied = make(chan struct{})
	r.mu.Unlock()
}

func (r *reads) appliedWatch() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.applied
}
