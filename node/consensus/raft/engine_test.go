package raft

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRaftIDIsStableAndDistinct(t *testing.T) {
	require.Equal(t, RaftID("node0"), RaftID("node0"))
	seen := map[uint64]string{}
	for _, id := range []string{"node0", "node1", "node2", "a", "b"} {
		r := RaftID(id)
		require.NotZero(t, r)
		require.NotContains(t, seen, r, "%s collides with %s", id, seen[r])
		seen[r] = id
	}
	// Pinned so a change of hash, which would split existing clusters, is noticed.
	require.Equal(t, uint64(0xca4ebb72072330c7), RaftID("node0"))
}
