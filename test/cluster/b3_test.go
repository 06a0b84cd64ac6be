//go:build integration

package cluster

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"

	harness "github.com/chainotel/chainotel/internal/cluster"
	"github.com/chainotel/chainotel/internal/otlpsink"
)

// TestB3TraceCrossesNodes runs three nodes with OTEL_PROPAGATORS=b3 and posts
// a transaction to a follower with a single B3 header: the trace the header
// names continues on the follower and, through the forward call in B3
// metadata, on the leader.
func TestB3TraceCrossesNodes(t *testing.T) {
	sink := otlpsink.Start(t)
	c := startTracedCluster(t, sink, []string{"OTEL_PROPAGATORS=b3"})
	cl := harness.NewClient(8, requestTimeout)
	leader := waitLeader(t, cl, c.Nodes(), "")
	follower := otherThan(c.Nodes(), leader)[0]

	var tid pcommon.TraceID
	var sid [8]byte
	_, _ = rand.Read(tid[:])
	_, _ = rand.Read(sid[:])
	req, err := http.NewRequestWithContext(ctxFor(t, requestTimeout), http.MethodPost, follower.API+"/tx",
		bytes.NewBufferString(`{"from":"0xabc","to":"0xdef","amount":3}`))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("b3", hex.EncodeToString(tid[:])+"-"+hex.EncodeToString(sid[:])+"-1")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	sink.WaitFor(t, spansWithin, "spans of the B3 trace from the follower and the leader", func() error {
		nodes := map[string]bool{}
		for _, s := range sink.Trace(tid) {
			nodes[nodeOf(s)] = true
		}
		if !nodes[follower.ID] || !nodes[leader] {
			return fmt.Errorf("the trace has spans from %v, want %s and %s", nodes, follower.ID, leader)
		}
		return nil
	})
}
