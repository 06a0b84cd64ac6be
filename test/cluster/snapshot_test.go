//go:build integration

package cluster

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	harness "github.com/chainotel/chainotel/internal/cluster"
	"github.com/chainotel/chainotel/internal/testbin"
)

// snapshotEvery is small so that a node down for a few hundred blocks falls
// behind the leader's compacted log, which keeps snapshotCatchUp entries
// behind each snapshot.
const (
	snapshotEvery   = 300
	snapshotCatchUp = 200 // the raft engine's default (raft.DefaultConfig); not a flag
)

// TestCrashedNodeCatchesUpFromASnapshot kills a follower, commits more blocks
// than the leader keeps in its raft log, and restarts the follower from its
// data folder: it must install a snapshot, fetch the missing blocks from a
// peer over mTLS and end with the same chain as the others.
func TestCrashedNodeCatchesUpFromASnapshot(t *testing.T) {
	c := startCluster(t, testbin.Blockchain(t), fmt.Sprintf("--snapshot-every=%d", snapshotEvery))
	cl := harness.NewClient(8, requestTimeout)
	acked := submitMany(t, cl, c.Nodes(), 10, 2)
	start := time.Now()

	leader := waitLeader(t, cl, c.Nodes(), "")
	victim := otherThan(c.Nodes(), leader)[0]
	rest := otherThan(c.Nodes(), victim.ID)
	stale, err := latestHeight(ctxFor(t, requestTimeout), cl, victim)
	require.NoError(t, err)
	require.NoError(t, c.Kill(victim.ID))

	// Few clients make small blocks, so many raft entries; go on until the
	// chain is past what the log keeps: a snapshot after snapshotEvery
	// entries, snapshotCatchUp kept behind it.
	want := stale + snapshotEvery + snapshotCatchUp + 100
	deadline := time.Now().Add(catchUpWithin)
	for {
		h, err := latestHeight(ctxFor(t, requestTimeout), cl, rest[0])
		require.NoError(t, err)
		if h >= want {
			break
		}
		require.True(t, time.Now().Before(deadline), "the chain reached only height %d of %d in %v", h, want, catchUpWithin)
		acked = append(acked, submitMany(t, cl, rest, 200, 4)...)
	}

	t.Logf("committed %d blocks while %s was down, in %v", want-stale, victim.ID, time.Since(start).Round(time.Millisecond))
	logStart := len(victim.Log())
	require.NoError(t, c.Start(victim.ID))
	require.NoError(t, c.WaitHealthy(t.Context(), healthyWithin))
	waitLogged(t, victim, logStart, "installing raft snapshot")
	checkAllHaveTxs(t, cl, c.Nodes(), acked)
	checkSameChains(t, cl, c.Nodes())
	for _, n := range c.Nodes() {
		require.NoError(t, c.Stop(n.ID, stopWithin), "graceful stop of %s", n.ID)
	}
}
