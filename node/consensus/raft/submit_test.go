package raft

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/chainotel/chainotel/node/chain"
	"github.com/chainotel/chainotel/node/consensus"
	"github.com/chainotel/chainotel/node/mempool"
)

// scriptedLeader is a Transport whose Forward answers from a script, one
// answer per call, as a leader on the other end of a flaky link would.
type scriptedLeader struct {
	mu      sync.Mutex
	answers []func(n int) ([]error, error)
	calls   int
}

func (s *scriptedLeader) Forward(_ context.Context, _ string, txs []chain.Tx) ([]error, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.answers[min(s.calls, len(s.answers)-1)]
	s.calls++
	return a(len(txs))
}

func (*scriptedLeader) Send(string, []raftpb.Message, func(error)) {}
func (*scriptedLeader) FetchBlocks(context.Context, string, uint64, uint64) ([]*chain.Block, error) {
	return nil, errors.New("no blocks here")
}
func (*scriptedLeader) PeersUp() int { return 1 }

func each(n int, err error) []error {
	errs := make([]error, n)
	for i := range errs {
		errs[i] = err
	}
	return errs
}

// followerOf makes node1 a follower that believes node0 leads, with only its
// forwarding running: what Submit does on a follower, without raft (and on
// the in-memory doubles, without Badger).
func followerOf(t *testing.T, leader *scriptedLeader) *Engine {
	t.Helper()
	g := chain.DevGenesis([]string{"node0", "node1"}, time.Unix(1_700_000_000, 0))
	e, err := New(Config{NodeID: "node1", Genesis: g, State: newMemChain(g), Log: newMemLog(),
		Pool: mempool.New(10, nil), Transport: leader})
	require.NoError(t, err)
	e.leader.Store(RaftID("node0"))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.forwardLoop(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return e
}

func TestSubmitAfterALostForwardTakesItsOwnDuplicateAsAdmitted(t *testing.T) {
	dup := fmt.Errorf("%w: already committed", mempool.ErrDuplicate)
	lost := func(int) ([]error, error) { return nil, errors.New("connection reset after the leader admitted them") }
	found := func(n int) ([]error, error) { return each(n, dup), nil }

	cases := []struct {
		name    string
		answers []func(int) ([]error, error)
		want    error
	}{
		{"the leader's answer was lost, the retry finds them", []func(int) ([]error, error){lost, found}, nil},
		{"a first answer of duplicate is the client's own duplicate", []func(int) ([]error, error){found}, mempool.ErrDuplicate},
		{"after not-leader answers a duplicate is still genuine", []func(int) ([]error, error){
			func(n int) ([]error, error) { return each(n, consensus.ErrNotLeader), nil }, found}, mempool.ErrDuplicate},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			leader := &scriptedLeader{answers: tc.answers}
			e := followerOf(t, leader)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			errs := e.Submit(ctx, []chain.Tx{{From: "0xabc", To: "0xdef", Amount: 1}, {From: "0xabc", To: "0xdef", Amount: 2}})
			require.Len(t, errs, 2)
			for _, err := range errs {
				if tc.want == nil {
					require.NoError(t, err)
				} else {
					require.ErrorIs(t, err, tc.want)
				}
			}
			require.Equal(t, len(tc.answers), leader.calls, "one forward per scripted answer")
		})
	}
}

// A new leader cuts no block before it applied the empty entry of its term,
// so applying that entry must wake the proposer: transactions queued before
// it waited for the next one to arrive (a cluster test's first transfers
// timed out after 10 s).
func TestApplyingTheLeadersEmptyEntryWakesTheProposer(t *testing.T) {
	e := followerOf(t, &scriptedLeader{})
	applied := e.cfg.State.AppliedIndex()
	require.NoError(t, e.apply(context.Background(), nil, []raftpb.Entry{{Type: raftpb.EntryNormal, Index: applied + 1, Term: 2}}))
	require.Equal(t, applied+1, e.cfg.State.AppliedIndex())
	select {
	case <-e.appliedCh:
	default:
		t.Fatal("the proposer was not woken")
	}
}
