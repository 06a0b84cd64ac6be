//go:build integration

package cluster

import (
	"bytes"
	"io"
	"net/http"
	"os/exec"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	harness "github.com/chainotel/chainotel/internal/cluster"
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

// wantMetrics are the families the issue asks /metrics for: height,
// committed transactions, mempool size, raft term and leader, peers up, HTTP
// latency histograms and Badger sizes.
func wantMetrics() []string {
	return []string{
		"chainotel_block_height",
		"chainotel_committed_transactions_total",
		"chainotel_mempool_transactions",
		"chainotel_raft_term",
		"chainotel_raft_leader",
		"chainotel_peers_up",
		"chainotel_http_request_duration_seconds",
		"chainotel_badger_lsm_size_bytes",
		"chainotel_badger_vlog_size_bytes",
	}
}

// checkMetrics runs `promtool check metrics` over n's /metrics, checks the
// families the issue names are there, and returns them for the caller to
// compare across nodes.
func checkMetrics(t *testing.T, cl *harness.Client, promtool string, n *harness.Node) map[string]*dto.MetricFamily {
	t.Helper()
	req, err := http.NewRequestWithContext(ctxFor(t, requestTimeout), http.MethodGet, n.Health+"/metrics", nil)
	require.NoError(t, err)
	resp, err := cl.HTTP.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s /metrics: %s", n.ID, body)
	require.NotEmpty(t, body)

	cmd := exec.CommandContext(ctxFor(t, requestTimeout), promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(body)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "promtool check metrics on %s's /metrics:\n%s", n.ID, out)

	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	require.NoError(t, err, "%s /metrics", n.ID)
	for _, name := range wantMetrics() {
		require.Contains(t, families, name, "%s /metrics lacks %s", n.ID, name)
	}
	return families
}

// gaugeValue is the value of a gauge without labels.
func gaugeValue(t *testing.T, families map[string]*dto.MetricFamily, name string) float64 {
	t.Helper()
	f := families[name]
	require.NotNil(t, f, name)
	require.Len(t, f.GetMetric(), 1, name)
	return f.GetMetric()[0].GetGauge().GetValue()
}
