package node

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	"github.com/stretchr/testify/require"

	"github.com/chainotel/chainotel/internal/testproc"
	"github.com/chainotel/chainotel/node/api"
	"github.com/chainotel/chainotel/node/chain"
	"github.com/chainotel/chainotel/node/pki"
)

func TestOneListenerRefusesWhatIsNotHTTPOrTLS13(t *testing.T) {
	logs := &testproc.SyncBuffer{}
	var certs string
	base := startSingle(t, []string{"node0"}, func(_ *chain.Genesis, c *Config) {
		c.Logger = newTestLogger(logs)
		certs = c.TLSDir
	}).base
	waitLeader(t, base)
	addr := strings.TrimPrefix(base, "http://")

	// Neither HTTP/1.1 nor TLS: closed, and logged.
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	_, err = conn.Write([]byte("\x00\x01garbage that is no protocol\r\n\r\n"))
	require.NoError(t, err)
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
	_, _ = io.ReadAll(conn) // returns once the node closed (or reset) the connection
	_ = conn.Close()

	// A peer offering only TLS 1.2: refused in the handshake, and logged.
	b, err := pki.LoadNode(certs, "node1")
	require.NoError(t, err)
	cfg := b.ClientConfig("")
	cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
	_, err = tls.Dial("tcp", addr, cfg)
	require.ErrorContains(t, err, "protocol version")

	// A certificate from another CA: refused, and logged.
	foreign := filepath.Join(t.TempDir(), "foreign")
	_, err = pki.WriteCluster(foreign, []string{"node1"}, pki.Options{})
	require.NoError(t, err)
	fb, err := pki.LoadNode(foreign, "node1")
	require.NoError(t, err)
	fc := fb.ClientConfig("")
	fc.InsecureSkipVerify = true // only the server's check is under test
	fc.VerifyConnection = nil
	tc, err := tls.Dial("tcp", addr, fc)
	if err == nil { // TLS 1.3 reports the client certificate's rejection on the first read
		require.NoError(t, tc.SetReadDeadline(time.Now().Add(10*time.Second)))
		_, err = tc.Read(make([]byte, 1))
		_ = tc.Close() // the refusal in err is what the test checks
	}
	require.Error(t, err)

	testproc.WaitFor(t, 5*time.Second, "the refusals in the log", func() error {
		for _, want := range []string{"neither HTTP/1.1 nor TLS", "offered only unsupported versions", "certificate signed by unknown authority"} {
			if !strings.Contains(logs.String(), want) {
				return fmt.Errorf("no %q in the log", want)
			}
		}
		return nil
	})

	// Plain HTTP on the same port still works.
	var st api.StatusView
	require.NoError(t, getJSON(base+"/status", &st))
	require.Equal(t, "node0", st.NodeID)
}

func TestMetricsPassPromlint(t *testing.T) {
	node := startSingle(t, []string{"node0"}, nil)
	base := node.base
	waitLeader(t, base)
	code, raw := post(t, base+"/tx", `{"from":"0xabc","to":"0xdef","amount":1}`)
	require.Equal(t, http.StatusOK, code, "%s", raw)

	var health api.Health
	healthBase := node.health
	require.NoError(t, getJSON(healthBase+"/health", &health))
	require.Equal(t, api.Health{Status: "up", Peers: 1, Members: 1, NodeID: "node0", Leader: "node0", Height: 1}, health)

	resp, err := http.Get(healthBase + "/metrics")
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	for _, name := range []string{"chainotel_block_height 1", "chainotel_committed_transactions_total 1", "chainotel_mempool_transactions",
		"chainotel_raft_term", "chainotel_raft_leader 1", "chainotel_peers_up 1", "chainotel_http_request_duration_seconds_bucket",
		"chainotel_badger_lsm_size_bytes", "chainotel_badger_vlog_size_bytes"} {
		require.Contains(t, string(body), name)
	}
	problems, err := promlint.New(strings.NewReader(string(body))).Lint()
	require.NoError(t, err)
	require.Empty(t, problems)
}
