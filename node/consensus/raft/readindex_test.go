package raft

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/chainotel/chainotel/node/chain"
	"github.com/chainotel/chainotel/node/consensus"
)

// followerOf returns a node of the cluster other than lead.
func (c *testCluster) followerOf(lead string) string {
	for _, id := range c.ids {
		if id != lead {
			return id
		}
	}
	c.t.Fatal("no follower")
	return ""
}

func (c *testCluster) holds(id string, tx chain.Tx) bool {
	in, err := c.node(id).chain.HasTx(tx.Hash())
	require.NoError(c.t, err)
	return in
}

// TestLaggingFollowerReadWaitsForItsApply is the chaos suite's failure in
// small: a follower still hears the leader's heartbeats but not its appends,
// so a transfer commits (on the leader and the other follower, a majority)
// without it. Its local state is then older than an acknowledged write, and
// a read served from it, as every read was, answers a balance no
// linearizable order allows. A read behind ReadBarrier does not answer
// until the follower applied what the leader had committed.
func TestLaggingFollowerReadWaitsForItsApply(t *testing.T) {
	c := newCluster(t, clusterOpts{size: 3})
	lead := c.leader()
	lag := c.followerOf(lead)
	var others []string
	for _, id := range c.ids {
		if id != lag {
			others = append(others, id)
		}
	}
	c.setDrop(func(_, to string, m raftpb.Message) bool {
		return to == lag && (m.Type == raftpb.MsgApp || m.Type == raftpb.MsgSnap)
	})
	tx := c.txs(1)
	c.submit(lead, tx)
	c.waitCommitted(tx, others...)
	require.False(t, c.holds(lag, tx[0]), "a local read at %s misses the committed transfer", lag)

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	err := c.node(lag).engine().ReadBarrier(ctx)
	cancel()
	require.ErrorIs(t, err, consensus.ErrNoQuorum, "the read must not answer before %s applied the leader's commit index", lag)
	require.Contains(t, err.Error(), "applied up to index", "it got a read index and waits for its apply")

	c.setDrop(nil)
	ctx, cancel = context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, c.node(lag).engine().ReadBarrier(ctx))
	require.True(t, c.holds(lag, tx[0]), "after the barrier %s's state holds every write committed before the read", lag)
}

// TestPartitionedLeaderCannotServeALinearizableRead: a leader cut off from
// the others still believes it leads until CheckQuorum steps it down, while
// the majority elects a new leader and commits. A read it served from its
// state would miss that commit; ReadBarrier needs a quorum's heartbeat
// acknowledgements, which never come, so the read fails as no quorum.
func TestPartitionedLeaderCannotServeALinearizableRead(t *testing.T) {
	c := newCluster(t, clusterOpts{size: 3})
	old := c.leader()
	c.setCut(old, true)
	read := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		read <- c.node(old).engine().ReadBarrier(ctx)
	}()

	var majority []string
	for _, id := range c.ids {
		if id != old {
			majority = append(majority, id)
		}
	}
	var lead string
	require.Eventually(t, func() bool {
		lead = c.node(majority[0]).engine().Status().Leader
		return lead != "" && lead != old && c.node(majority[1]).engine().Status().Leader == lead
	}, 20*time.Second, 5*time.Millisecond, "the majority elects a new leader")
	tx := c.txs(1)
	c.submit(lead, tx)
	c.waitCommitted(tx, majority...)

	err := <-read
	require.ErrorIs(t, err, consensus.ErrNoQuorum)
	require.False(t, c.holds(old, tx[0]), "%s's local state is stale: only the barrier kept it from answering", old)
}

// TestReadBarrierOnEveryNode: with the cluster whole, a barrier returns at
// the leader and at each follower with the last commit applied there.
func TestReadBarrierOnEveryNode(t *testing.T) {
	c := newCluster(t, clusterOpts{size: 3})
	lead := c.leader()
	for _, id := range c.ids {
		tx := c.txs(1)
		c.submit(lead, tx)
		c.waitCommitted(tx, lead)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		require.NoError(t, c.node(id).engine().ReadBarrier(ctx), id)
		cancel()
		require.True(t, c.holds(id, tx[0]), "%s holds the transfer committed before its read", id)
	}
}
