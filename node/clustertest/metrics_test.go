package clustertest

import (
	"bytes"
	"io"
	"net/http"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chainotel/chainotel/node/clustertest/cluster"
)

// requirePromtool returns the path of promtool, or fails saying how to get it.
func requirePromtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool is not installed (it checks the node's /metrics format): run `make tools`: %v", err)
	}
	return p
}

// checkMetrics runs `promtool check metrics` over n's /metrics.
func checkMetrics(t *testing.T, cl *cluster.Client, promtool string, n *cluster.Node) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctxFor(t, requestTimeout), http.MethodGet, n.Health+"/metrics", nil)
	require.NoError(t, err)
	resp, err := cl.HTTP.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s /metrics: %s", n.ID, body)
	require.NotEmpty(t, body)

	cmd := exec.CommandContext(ctxFor(t, requestTimeout), promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(body)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "promtool check metrics on %s's /metrics:\n%s", n.ID, out)
}
