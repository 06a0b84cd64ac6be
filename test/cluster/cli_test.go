//go:build integration

package cluster

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chainotel/chainotel/internal/testbin"
	"github.com/chainotel/chainotel/internal/testproc"
)

// run runs the built binary in dir and returns its combined output.
func run(t *testing.T, dir string, env []string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(testbin.Blockchain(t), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestCertsAndInitAreRerunnable(t *testing.T) {
	dir := t.TempDir()
	out, err := run(t, dir, nil, "certs", "--dir", "certs", "--nodes", "node0,node1")
	require.NoError(t, err, out)
	require.Contains(t, out, "made a new CA")
	out, err = run(t, dir, nil, "certs", "--dir", "certs", "--nodes", "node0,node1")
	require.NoError(t, err, out)
	require.Contains(t, out, "kept the existing CA")

	out, err = run(t, dir, nil, "init", "--data-dir", "data", "--nodes", "node0,node1")
	require.NoError(t, err, out)
	require.Contains(t, out, "wrote data/genesis.json")
	first, err := os.ReadFile(filepath.Join(dir, "data", "genesis.json"))
	require.NoError(t, err)
	require.DirExists(t, filepath.Join(dir, "data", "node1"))

	out, err = run(t, dir, nil, "init", "--data-dir", "data", "--nodes", "node0,node1")
	require.NoError(t, err, out)
	require.Contains(t, out, "kept data/genesis.json")
	again, _ := os.ReadFile(filepath.Join(dir, "data", "genesis.json"))
	require.Equal(t, first, again, "an existing genesis is kept")

	var g struct {
		ChainID  string `json:"chain_id"`
		Accounts []struct {
			Address string `json:"address"`
		} `json:"accounts"`
	}
	require.NoError(t, json.Unmarshal(first, &g))
	require.Equal(t, "chainotel-dev", g.ChainID)
	require.Equal(t, "0xabc", g.Accounts[0].Address)
}

func TestNodeRefusesBadSetupClearly(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no node id", nil, "--node-id is required"},
		{"unknown consensus", []string{"--node-id=node0", "--consensus=pbft"}, `want "raft" or "pow"`},
		{"no genesis", []string{"--node-id=node0"}, "make init"},
		{"bad log level", []string{"--node-id=node0", "--log-level=loud"}, "--log-level"},
		{"otlp tls without certificates", []string{"--node-id=node0", "--otlp-tls", "--tls-dir=missing"}, "--otlp-tls"},
		{"bad otlp endpoint", []string{"--node-id=node0", "--otlp-endpoint=ftp://collector:4317"}, `scheme "ftp"`},
		{"empty baggage deny fragment", []string{"--node-id=node0", "--baggage-deny-keys=token,,secret"}, `--baggage-deny-keys "token,,secret": fragment 2 of 3 is ""`},
		{"control character in environment", []string{"--node-id=node0", "--environment=d\tev"}, `Environment "d\tev": control character at byte 1`},
		{"stray node argument", []string{"--node-id=node0", "node1"}, "unexpected arguments"},
		{"init with a spaced list", []string{"init", "--data-dir=data", "--nodes=node0", "node1", "node2"}, "unexpected arguments"},
		{"certs with a spaced list", []string{"certs", "--dir=certs", "--nodes=node0", "node1"}, "unexpected arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := run(t, dir, nil, tt.args...)
			require.Error(t, err)
			require.Contains(t, out, tt.want)
		})
	}
	out, err := run(t, dir, nil, "init", "--data-dir", "data", "--nodes", "node0")
	require.NoError(t, err, out)
	out, err = run(t, dir, nil, "--node-id=node0")
	require.Error(t, err)
	require.Contains(t, out, "make certs")
}

// TestNodeRunsFromEnvAndStopsCleanly starts a one-node chain configured
// through the environment, commits a transaction, and stops it with SIGTERM.
func TestNodeRunsFromEnvAndStopsCleanly(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{{"certs", "--nodes", "node0"}, {"init", "--nodes", "node0"}} {
		out, err := run(t, dir, nil, args...)
		require.NoError(t, err, out)
	}
	ports := testproc.FreePorts(t, 2)
	conf := filepath.Join(dir, "node.conf")
	require.NoError(t, os.WriteFile(conf, []byte(fmt.Sprintf("health-port %d\n", ports[1])), 0o644))
	p := testproc.Start(t, "node0", testbin.Blockchain(t), []string{"--config", conf}, testproc.Options{Dir: dir, Env: []string{
		"BLOCKCHAIN_NODE_ID=node0", fmt.Sprintf("BLOCKCHAIN_PORT=%d", ports[0]),
	}})
	base := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	testproc.WaitFor(t, 20*time.Second, "node0 ready", func() error {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/ready", ports[1]))
		if err != nil {
			return err
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("ready: %d", resp.StatusCode)
		}
		return nil
	})
	resp, err := http.Post(base+"/tx", "application/json", strings.NewReader(`{"from":"0xabc","to":"0xdef","amount":100}`))
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	require.Contains(t, string(body), `"block_hash":"0x`)

	require.NoError(t, p.Stop(20*time.Second), "exit status 0 after SIGTERM")
	logFile, err := os.ReadFile(filepath.Join(dir, "logs", "node0", "app.log"))
	require.NoError(t, err)
	require.Contains(t, string(logFile), `"msg":"node stopped"`)
	for _, line := range bytes.Split(bytes.TrimSpace(logFile), []byte("\n")) {
		require.True(t, json.Valid(line), "log line is JSON: %s", line)
	}
}
