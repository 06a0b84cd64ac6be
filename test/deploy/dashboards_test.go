//go:build integration

package deploy

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/chainotel/chainotel/internal/collectorproc"
	"github.com/chainotel/chainotel/internal/sentrytest"
	"github.com/chainotel/chainotel/internal/testbin"
	"github.com/chainotel/chainotel/internal/testproc"
)

// dashboardCollectorConfig makes every chainsampling metric the dashboards
// query appear within seconds: a short wait, a buffer bound that a node's
// traffic reaches (traces_decided_early), and load shedding configured
// (load_scale exists only with max_spans_per_second), at a rate never met.
const dashboardCollectorConfig = `processors:
  chainsampling:
    decision_wait: 1s
    max_traces: 2
    max_spans_per_second: 1000000
`

// TestDashboardMetricsExist runs a node exporting to the shipped collector
// configuration with the Sentry overlay, makes it commit transactions and
// report an error, and checks that every metric a dashboard panel queries
// is exposed: chainotel_* by the node, otelcol_* by the collector.
func TestDashboardMetricsExist(t *testing.T) {
	want := dashboardMetrics(t)
	root := repoRoot(t)
	bin := testbin.Blockchain(t)

	sentry := sentrytest.NewServer(t)
	col := collectorproc.Start(t, collectorproc.Options{
		ConfigFiles: collectorproc.Shipped(t, "sentry"),
		Config:      dashboardCollectorConfig,
		Env: []string{
			"SENTRY_DSN=" + sentry.DSN(),
			"CHAINOTEL_POLICY_FILE=" + filepath.Join(root, "collector", "sampling-policies.yaml"),
		},
	})

	dir := t.TempDir()
	for _, args := range [][]string{{"certs", "--dir=certs", "--nodes=node0"}, {"init", "--data-dir=data", "--nodes=node0"}} {
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "blockchain %v: %s", args, out)
	}
	ports := testproc.FreePorts(t, 2)
	testproc.Start(t, "node0", bin, []string{
		"--node-id=node0", fmt.Sprintf("--port=%d", ports[0]), fmt.Sprintf("--health-port=%d", ports[1]),
		"--tls-dir=certs", "--genesis=data/genesis.json", "--db-path=data/node0/badger",
		"--log-file=false", "--debug-faults", "--otlp-endpoint=" + col.OTLPGRPC,
	}, testproc.Options{Dir: dir})
	api := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	health := fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	testproc.WaitFor(t, 30*time.Second, "node0 ready", func() error { return getOK(health + "/ready") })

	// Traffic for every panel: committed transfers (latency histogram,
	// traces to sample) and an error (an event for Sentry).
	for i := range 5 {
		resp, err := http.Post(api+"/tx", "application/json",
			strings.NewReader(fmt.Sprintf(`{"from":"0xabc","to":"0xdef","amount":%d}`, i+1)))
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	}
	resp, err := http.Post(health+"/debug/fault?kind=consensus_timeout", "", nil)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusAccepted, resp.StatusCode)

	var missing []string
	err = testproc.Poll(context.Background(), 90*time.Second, func() error {
		nodeNames, err := exposedNames(health + "/metrics")
		if err != nil {
			return err
		}
		colNames, err := exposedNames(col.MetricsURL)
		if err != nil {
			return err
		}
		missing = missing[:0]
		for name, where := range want {
			exposed := colNames
			if strings.HasPrefix(name, "chainotel_") {
				exposed = nodeNames
			}
			if !exposed[name] {
				missing = append(missing, fmt.Sprintf("%s (queried by %s)", name, strings.Join(where, "; ")))
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("%d metrics not exposed yet", len(missing))
		}
		return nil
	})
	sort.Strings(missing)
	require.NoError(t, err, "metrics the dashboards query that neither the node nor the collector exposes:\n%s",
		strings.Join(missing, "\n"))
	t.Logf("%d metric names of the dashboards, all exposed", len(want))
}

func getOK(url string) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

// exposedNames are the series names a /metrics endpoint in the Prometheus
// text format serves: a histogram's _bucket, _sum and _count, a summary's
// _sum and _count, the others' family name.
func exposedNames(url string) (map[string]bool, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", url, err)
	}
	out := map[string]bool{}
	for name, fam := range families {
		switch fam.GetType().String() {
		case "HISTOGRAM", "GAUGE_HISTOGRAM":
			out[name+"_bucket"], out[name+"_sum"], out[name+"_count"] = true, true, true
		case "SUMMARY":
			out[name+"_sum"], out[name+"_count"] = true, true
		default:
			out[name] = true
		}
	}
	return out, nil
}
