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
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/chainotel/chainotel/internal/otlpsink"
	"github.com/chainotel/chainotel/internal/testbin"
	"github.com/chainotel/chainotel/internal/testproc"
	"github.com/chainotel/chainotel/semconv"
)

// reloadNode is one node started with --config, and what the test reads.
type reloadNode struct {
	proc       *testproc.Proc
	conf       string // the --config file
	appLog     string
	api        string // http://127.0.0.1:<port>
	health     string
	port       int
	healthPort int
}

// startReloadNode makes certs and a one-validator genesis in a temporary
// folder and starts node0 from a config file holding conf's lines, its
// telemetry off.
func startReloadNode(t *testing.T, conf func(port, healthPort int) string) *reloadNode {
	t.Helper()
	return startReloadNodeEnv(t, conf, []string{"OTEL_SDK_DISABLED=true"})
}

// startReloadNodeEnv is startReloadNode with env as the node's environment.
func startReloadNodeEnv(t *testing.T, conf func(port, healthPort int) string, env []string) *reloadNode {
	t.Helper()
	bin := testbin.Blockchain(t)
	dir := t.TempDir()
	for _, args := range [][]string{
		{"certs", "--dir", "certs", "--nodes", "node0"},
		{"init", "--data-dir", "data", "--nodes", "node0"},
	} {
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%v: %s", args, out)
	}
	ports := testproc.FreePorts(t, 2)
	n := &reloadNode{
		conf: filepath.Join(dir, "node.conf"), appLog: filepath.Join(dir, "logs", "node0", "app.log"),
		api: fmt.Sprintf("http://127.0.0.1:%d", ports[0]), health: fmt.Sprintf("http://127.0.0.1:%d", ports[1]),
		port: ports[0], healthPort: ports[1],
	}
	writeFile(t, n.conf, conf(n.port, n.healthPort))
	n.proc = testproc.Start(t, "node0", bin, []string{"--config", n.conf},
		testproc.Options{Dir: dir, Env: env})
	testproc.WaitFor(t, 20*time.Second, "node0 ready", func() error {
		if n.proc.Exited() {
			return fmt.Errorf("exited: %v", n.proc.ExitErr())
		}
		return expectStatus(n.health+"/ready", http.StatusOK)
	})
	return n
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, []byte(text), 0o644))
}

func expectStatus(url string, want int) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != want {
		return fmt.Errorf("GET %s: %d, want %d", url, resp.StatusCode, want)
	}
	return nil
}

func putLogLevel(t *testing.T, n *reloadNode, spec string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, n.health+"/loglevel", strings.NewReader(fmt.Sprintf(`{"spec":%q}`, spec)))
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(resp.Body)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
}

// postTx submits a transfer and waits for its commit.
func postTx(t *testing.T, n *reloadNode, amount int) {
	t.Helper()
	postTxBaggage(t, n, amount, "")
}

// postTxBaggage is postTx with a W3C baggage header (none when empty).
func postTxBaggage(t *testing.T, n *reloadNode, amount int, bag string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, n.api+"/tx",
		strings.NewReader(fmt.Sprintf(`{"from":"0xabc","to":"0xdef","amount":%d}`, amount)))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if bag != "" {
		req.Header.Set("baggage", bag)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(resp.Body)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
}

// logLines returns the app.log lines whose level is level (DEBUG, WARN...)
// and, when msg is not empty, whose message is msg.
func logLines(t *testing.T, path, level, msg string) []map[string]any {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	var out []map[string]any
	for _, line := range bytes.Split(raw, []byte("\n")) {
		var m map[string]any
		if len(line) == 0 || json.Unmarshal(line, &m) != nil {
			continue
		}
		if m["level"] == level && (msg == "" || m["msg"] == msg) {
			out = append(out, m)
		}
	}
	return out
}

func configValues(t *testing.T, n *reloadNode) map[string]string {
	t.Helper()
	resp, err := http.Get(n.health + "/config")
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	var v struct {
		Values map[string]string `json:"values"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&v))
	return v.Values
}

// TestReloadLogLevel: PUT /loglevel debug shows debug lines in app.log at
// once (a raft snapshot after every block, --snapshot-every 1); back to info
// they stop.
func TestReloadLogLevel(t *testing.T) {
	n := startReloadNode(t, func(port, healthPort int) string {
		return fmt.Sprintf("node-id node0\nport %d\nhealth-port %d\nsnapshot-every 1\nlog-level info\n", port, healthPort)
	})
	postTx(t, n, 1)
	require.Empty(t, logLines(t, n.appLog, "DEBUG", ""), "info hides debug lines")

	putLogLevel(t, n, "debug")
	postTx(t, n, 2)
	testproc.WaitFor(t, time.Second, "a debug line in app.log", func() error {
		if len(logLines(t, n.appLog, "DEBUG", "raft snapshot")) == 0 {
			return fmt.Errorf("no debug line yet")
		}
		return nil
	})
	changed := logLines(t, n.appLog, "WARN", "log level changed")
	require.Len(t, changed, 1)
	require.Equal(t, "debug", changed[0]["to"])
	require.Contains(t, changed[0]["by"], "remote=127.0.0.1:")

	putLogLevel(t, n, "info")
	before := len(logLines(t, n.appLog, "DEBUG", ""))
	// The block of the third transaction is applied after the snapshot step
	// of the second's: once it commits, both have passed.
	postTx(t, n, 3)
	postTx(t, n, 4)
	require.Len(t, logLines(t, n.appLog, "DEBUG", ""), before, "no debug line after the level went back to info")
}

// TestReloadSIGHUP: a SIGHUP after editing the config file changes
// --max-client-requests (the 429 threshold moves), refuses a port change
// with a log line naming it, and a malformed file changes nothing.
func TestReloadSIGHUP(t *testing.T) {
	conf := func(port, healthPort, limit int) string {
		return fmt.Sprintf("node-id node0\nport %d\nhealth-port %d\nmax-client-requests %d\n", port, healthPort, limit)
	}
	n := startReloadNode(t, func(port, healthPort int) string { return conf(port, healthPort, 2) })

	// Two requests held in flight: their bodies never finish.
	for range 2 {
		pr, pw := io.Pipe()
		t.Cleanup(func() { _ = pw.Close() })
		req, err := http.NewRequest(http.MethodPost, n.api+"/tx", pr)
		require.NoError(t, err)
		go func() {
			if resp, err := http.DefaultClient.Do(req); err == nil {
				_ = resp.Body.Close()
			}
		}()
		_, err = pw.Write([]byte(`{"from":`))
		require.NoError(t, err)
	}
	status := n.api + "/status"
	testproc.WaitFor(t, 5*time.Second, "429 with two requests in flight at a limit of 2", func() error {
		return expectStatus(status, http.StatusTooManyRequests)
	})

	// Raise the limit, and try to move the port.
	writeFile(t, n.conf, conf(n.port+1, n.healthPort, 3))
	require.NoError(t, n.proc.Signal(syscall.SIGHUP))
	testproc.WaitFor(t, 5*time.Second, "200 at the raised limit of 3", func() error { return expectStatus(status, http.StatusOK) })
	refused := logLines(t, n.appLog, "WARN", "config key refused: it needs a restart; the value at start stays in force")
	require.Len(t, refused, 1)
	require.Equal(t, "port", refused[0]["key"])
	require.Equal(t, fmt.Sprint(n.port+1), refused[0]["to"])
	require.Equal(t, n.conf+":2", refused[0]["where"])
	vals := configValues(t, n)
	require.Equal(t, "3", vals["max-client-requests"])
	require.Equal(t, fmt.Sprint(n.port), vals["port"], "the port in force is the one at start")

	// A malformed file: nothing changes, and the log says where.
	writeFile(t, n.conf, conf(n.port, n.healthPort, 1)+"max-clients 5\n")
	require.NoError(t, n.proc.Signal(syscall.SIGHUP))
	var invalid []map[string]any
	testproc.WaitFor(t, 5*time.Second, "the invalid file logged", func() error {
		if invalid = logLines(t, n.appLog, "ERROR", "config reload refused: invalid configuration, nothing changed"); len(invalid) == 0 {
			return fmt.Errorf("not yet")
		}
		return nil
	})
	require.Contains(t, invalid[0]["err"], n.conf+`:5: config file flag "max-clients" not defined`)
	require.Equal(t, "3", configValues(t, n)["max-client-requests"])
	require.NoError(t, expectStatus(status, http.StatusOK), "the limit is still 3")

	resp, err := http.Get(n.health + "/metrics")
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	metrics, _ := io.ReadAll(resp.Body)
	require.Contains(t, string(metrics), `chainotel_config_reloads_total{result="partial"} 1`)
	require.Contains(t, string(metrics), `chainotel_config_reloads_total{result="invalid"} 1`)
}

// TestReloadTelemetry: a SIGHUP after editing --environment and
// --baggage-deny-keys in the config file changes deployment.environment.name
// on the spans and log records that reach an OTLP receiver and on
// chainotel_build_info, and drops a newly denied baggage key from the
// requests that follow (the server span records the baggage it kept).
func TestReloadTelemetry(t *testing.T) {
	sink := otlpsink.Start(t)
	conf := func(port, healthPort int, env, deny string) string {
		return fmt.Sprintf("node-id node0\nport %d\nhealth-port %d\notlp-endpoint %s\nenvironment %s\nbaggage-deny-keys %s\n",
			port, healthPort, sink.Addr(), env, deny)
	}
	n := startReloadNodeEnv(t, func(port, healthPort int) string { return conf(port, healthPort, "dev", "token") },
		[]string{"OTEL_BSP_SCHEDULE_DELAY=" + tracedExportDelay, "OTEL_BLRP_SCHEDULE_DELAY=" + tracedExportDelay})

	// serverSpan waits for the POST /tx span of the request whose baggage
	// had probe=<probe>.
	serverSpan := func(probe string) otlpsink.Span {
		t.Helper()
		return sink.WaitSpans(t, spansWithin, "the POST /tx span of probe="+probe, 1, func(s otlpsink.Span) bool {
			v, ok := s.Attr(semconv.BaggageAttributePrefix + "probe")
			return s.Name() == "POST /tx" && ok && v == probe
		})[0]
	}
	envOf := func(res pcommon.Resource) string {
		v, ok := res.Attributes().Get(semconv.DeploymentEnvironmentKey)
		require.True(t, ok, "no %s on the resource", semconv.DeploymentEnvironmentKey)
		return v.AsString()
	}
	const bag = "tenant=acme,customer_id=c1,auth_token=t1,probe="

	postTxBaggage(t, n, 1, bag+"before")
	before := serverSpan("before")
	require.Equal(t, "dev", envOf(before.Resource))
	for key, want := range map[string]string{"tenant": "acme", "customer_id": "c1"} {
		v, ok := before.Attr(semconv.BaggageAttributePrefix + key)
		require.True(t, ok, "baggage %s kept before the reload", key)
		require.Equal(t, want, v)
	}
	_, ok := before.Attr(semconv.BaggageAttributePrefix + "auth_token")
	require.False(t, ok, "auth_token is denied from the start")
	ready := sink.WaitLogs(t, spansWithin, "the telemetry ready log record", 1, func(l otlpsink.LogRecord) bool {
		return l.Body().AsString() == "telemetry ready"
	})
	require.Equal(t, "dev", envOf(ready[0].Resource))

	writeFile(t, n.conf, conf(n.port, n.healthPort, "staging", "token,customer-id"))
	require.NoError(t, n.proc.Signal(syscall.SIGHUP))
	testproc.WaitFor(t, 5*time.Second, "the reload applied", func() error {
		if len(logLines(t, n.appLog, "INFO", "config reloaded")) == 0 {
			return fmt.Errorf("not yet")
		}
		return nil
	})
	applied := logLines(t, n.appLog, "WARN", "config key applied")
	require.Len(t, applied, 2)
	require.Equal(t, "environment", applied[0]["key"])
	require.Equal(t, "staging", applied[0]["to"])
	require.Equal(t, n.conf+":5", applied[0]["where"])
	require.Equal(t, "baggage-deny-keys", applied[1]["key"])
	require.Equal(t, "token,customer-id", applied[1]["to"])
	vals := configValues(t, n)
	require.Equal(t, "staging", vals["environment"])
	require.Equal(t, "token,customer-id", vals["baggage-deny-keys"])

	postTxBaggage(t, n, 2, bag+"after")
	after := serverSpan("after")
	require.Equal(t, "staging", envOf(after.Resource))
	v, ok := after.Attr(semconv.BaggageAttributePrefix + "tenant")
	require.True(t, ok, "tenant is still kept")
	require.Equal(t, "acme", v)
	for _, key := range []string{"customer_id", "auth_token"} {
		_, ok := after.Attr(semconv.BaggageAttributePrefix + key)
		require.False(t, ok, "baggage %s is denied after the reload", key)
	}
	// Every span of the new transaction's trace carries the new environment.
	for _, s := range sink.Trace(after.TraceID()) {
		require.Equal(t, "staging", envOf(s.Resource), "span %s", s.Name())
	}
	// The reload's own log lines are emitted after the change.
	logged := sink.WaitLogs(t, spansWithin, "the config reloaded log record", 1, func(l otlpsink.LogRecord) bool {
		return l.Body().AsString() == "config reloaded"
	})
	require.Equal(t, "staging", envOf(logged[0].Resource))

	resp, err := http.Get(n.health + "/metrics")
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	metrics, _ := io.ReadAll(resp.Body)
	require.Contains(t, string(metrics), `environment="staging"`)
	require.NotContains(t, string(metrics), `environment="dev"`)
	require.Contains(t, string(metrics), `chainotel_config_reloads_total{result="applied"} 1`)
}
