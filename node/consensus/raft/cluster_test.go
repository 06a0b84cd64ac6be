package raft

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/chainotel/chainotel/node/chain"
	"github.com/chainotel/chainotel/node/consensus"
)

func TestSingleNodeCommitsBlocks(t *testing.T) {
	c := newCluster(t, clusterOpts{size: 1})
	require.Equal(t, "node0", c.leader())
	n := c.node("node0")
	for range 3 {
		txs := c.txs(5)
		c.submit("node0", txs)
		c.waitCommitted(txs, "node0")
	}
	head, _ := n.chain.Head()
	require.GreaterOrEqual(t, head.Height, uint64(3), "each round waited for its commit, so each is a block at least")
	abc, err := n.chain.Account("0xabc")
	require.NoError(t, err)
	require.Equal(t, uint64(15), abc.Nonce)
	require.Eventually(t, func() bool {
		st := n.engine().Status()
		return st.IsLeader && st.Applied == st.Commit && st.Applied == n.chain.AppliedIndex()
	}, 10*time.Second, 5*time.Millisecond, "applied catches up with the commit index")
}

// TestThreeNodesCommitTheSameBlocks submits at the leader and, forwarded,
// at both followers; every node ends with the same blocks.
func TestThreeNodesCommitTheSameBlocks(t *testing.T) {
	c := newCluster(t, clusterOpts{size: 3})
	lead := c.leader()
	var all []chain.Tx
	var wg sync.WaitGroup
	for _, id := range c.ids {
		txs := c.txs(20)
		all = append(all, txs...)
		wg.Go(func() { c.submit(id, txs) })
	}
	wg.Wait()
	c.waitCommitted(all, c.ids...)
	head, hash := c.node(lead).chain.Head()
	for _, id := range c.ids {
		for h := uint64(1); h <= head.Height; h++ {
			want, err := c.node(lead).chain.BlockByHeight(h)
			require.NoError(t, err)
			got, err := c.node(id).chain.BlockByHeight(h)
			require.NoError(t, err)
			require.Equal(t, want.Hash(), got.Hash(), "%s block %d", id, h)
		}
		_, h := c.node(id).chain.Head()
		require.Equal(t, hash, h, id)
		require.Zero(t, c.node(id).chain.syncedBlocks(), "%s applied every block from the log", id)
	}
	// Only the leader cuts blocks.
	for h := uint64(1); h <= head.Height; h++ {
		b, _ := c.node(lead).chain.BlockByHeight(h)
		require.Equal(t, lead, b.Header.Proposer, "block %d", h)
	}
}

// TestFollowersPersistBeforeTheyAcknowledge checks the Ready loop's order
// on every message and apply of a 3-node run: a node acknowledges entries
// (MsgAppResp) and grants votes (MsgVoteResp) only once its log storage
// holds them, and applies only entries its log storage holds.
func TestFollowersPersistBeforeTheyAcknowledge(t *testing.T) {
	var mu sync.Mutex
	var violations []string
	acks, votes, applies := 0, 0, 0
	onSend := func(from *testNode, m raftpb.Message) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case m.Type == raftpb.MsgAppResp && !m.Reject:
			acks++
			if last, _ := from.log.LastIndex(); last < m.Index {
				violations = append(violations, from.id+" acknowledged an entry it had not persisted")
			}
		case m.Type == raftpb.MsgVoteResp && !m.Reject:
			votes++
			if hs := from.log.hardState(); hs.Vote != m.To || hs.Term < m.Term {
				violations = append(violations, from.id+" granted a vote it had not persisted")
			}
		}
	}
	onApply := func(n *testNode, index uint64) {
		mu.Lock()
		defer mu.Unlock()
		applies++
		if last, _ := n.log.LastIndex(); last < index {
			violations = append(violations, n.id+" applied an entry it had not persisted")
		}
	}
	c := newCluster(t, clusterOpts{size: 3, onSend: onSend, onApply: onApply})
	lead := c.leader()
	for _, id := range c.ids {
		txs := c.txs(10)
		c.submit(id, txs)
		c.waitCommitted(txs, c.ids...)
	}
	// A second election: the old leader leaves, the others elect anew.
	require.NoError(t, c.stop(lead))
	c.leader()
	mu.Lock()
	defer mu.Unlock()
	require.Empty(t, violations)
	require.Positive(t, acks)
	require.GreaterOrEqual(t, votes, 2, "two elections")
	require.GreaterOrEqual(t, applies, 9, "three rounds on three nodes")
}

// TestPersistFailureStopsTheEngine: when the log storage cannot save a
// Ready, Run returns that error and nothing of that Ready is applied.
func TestPersistFailureStopsTheEngine(t *testing.T) {
	c := newCluster(t, clusterOpts{size: 1})
	c.leader()
	n := c.node("node0")
	first := c.txs(1)
	c.submit("node0", first)
	c.waitCommitted(first, "node0")
	last, err := n.log.LastIndex()
	require.NoError(t, err)

	full := errors.New("disk full")
	n.log.setFailSave(full)
	lost := c.txs(1)
	c.submit("node0", lost) // admitted by the leader; its block cannot be persisted
	require.ErrorIs(t, c.waitStopped("node0"), full)
	in, err := n.chain.HasTx(lost[0].Hash())
	require.NoError(t, err)
	require.False(t, in)
	after, err := n.log.LastIndex()
	require.NoError(t, err)
	require.Equal(t, last, after, "the refused entries are not in the log")
}

// TestSnapshotCompactionAndCatchUp: while a follower is cut off, the others
// snapshot and compact their logs past what it has; back, it gets the
// leader's snapshot and fetches the blocks behind it from a peer.
func TestSnapshotCompactionAndCatchUp(t *testing.T) {
	c := newCluster(t, clusterOpts{size: 3, tune: func(cfg *Config) { cfg.SnapshotEvery, cfg.SnapshotCatchUp = 4, 2 }})
	lead := c.leader()
	var lag string
	var others []string
	for _, id := range c.ids {
		if id != lead && lag == "" {
			lag = id
		} else {
			others = append(others, id)
		}
	}
	c.setCut(lag, true)
	for range 12 {
		txs := c.txs(1)
		c.submit(lead, txs)
		c.waitCommitted(txs, others...)
	}
	lagLast, err := c.node(lag).log.LastIndex()
	require.NoError(t, err)
	for _, id := range others {
		first, err := c.node(id).log.FirstIndex()
		require.NoError(t, err)
		require.Greater(t, first, lagLast+1, "%s compacted its log past what %s holds", id, lag)
		snap, err := c.node(id).log.Snapshot()
		require.NoError(t, err)
		var sd snapData
		require.NoError(t, json.Unmarshal(snap.Data, &sd))
		b, err := c.node(id).chain.BlockByHeight(sd.Height)
		require.NoError(t, err)
		require.Equal(t, b.Hash(), sd.Hash, "%s's snapshot points at its block %d", id, sd.Height)
	}

	c.setCut(lag, false)
	txs := c.txs(1)
	c.submit(lead, txs)
	c.waitCommitted(txs, c.ids...)
	require.Positive(t, c.node(lag).chain.syncedBlocks(), "%s fetched the blocks behind the snapshot", lag)
	snap, err := c.node(lag).log.Snapshot()
	require.NoError(t, err)
	require.Greater(t, snap.Metadata.Index, lagLast, "%s installed the leader's snapshot", lag)
	require.Eventually(t, func() bool {
		return c.node(lag).chain.AppliedIndex() == c.node(lead).chain.AppliedIndex()
	}, 10*time.Second, 5*time.Millisecond)
}

// TestRestartedNodesCatchUpFromTheirLogs: a follower stopped while blocks
// commit, then the whole cluster stopped, restart from their durable state
// (the log and the chain) and carry on; nothing is applied twice.
func TestRestartedNodesCatchUpFromTheirLogs(t *testing.T) {
	c := newCluster(t, clusterOpts{size: 3})
	lead := c.leader()
	down := c.ids[0]
	if down == lead {
		down = c.ids[1]
	}
	require.NoError(t, c.stop(down))
	var all []chain.Tx
	for range 3 {
		txs := c.txs(5)
		all = append(all, txs...)
		c.submit(lead, txs)
	}
	c.start(down)
	c.waitCommitted(all, c.ids...)

	for _, id := range c.ids {
		require.NoError(t, c.stop(id))
	}
	for _, id := range c.ids {
		c.start(id)
	}
	lead = c.leader()
	more := c.txs(5)
	c.submit(lead, more)
	c.waitCommitted(append(all, more...), c.ids...)
	for _, id := range c.ids {
		abc, err := c.node(id).chain.Account("0xabc")
		require.NoError(t, err)
		require.Equal(t, uint64(len(all)+len(more)), abc.Nonce, "%s applied each transfer once", id)
	}
}

// Submit on a cluster that lost its quorum gives up when its context ends.
func TestSubmitWithoutQuorumTimesOut(t *testing.T) {
	c := newCluster(t, clusterOpts{size: 3})
	lead := c.leader()
	for _, id := range c.ids {
		if id != lead {
			c.setCut(id, true)
		}
	}
	// The leader steps down once it misses its quorum (CheckQuorum).
	require.Eventually(t, func() bool { return !c.node(lead).engine().Status().IsLeader }, 20*time.Second, 5*time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	for _, err := range c.node(lead).engine().Submit(ctx, c.txs(2)) {
		require.ErrorIs(t, err, consensus.ErrNoQuorum)
	}
}
