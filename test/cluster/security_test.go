//go:build integration

package cluster

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	harness "github.com/chainotel/chainotel/internal/cluster"
	"github.com/chainotel/chainotel/internal/testproc"
)

// checkTLSRefusals dials n's port as a TLS client that a node must refuse:
// one speaking only TLS 1.2, and one speaking TLS 1.3 without a certificate.
func checkTLSRefusals(t *testing.T, n *harness.Node) {
	t.Helper()
	dialer := &net.Dialer{Timeout: 5 * time.Second}

	old := &tls.Config{MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS12, InsecureSkipVerify: true} //nolint:gosec // the client under test is the one to refuse
	conn, err := tls.DialWithDialer(dialer, "tcp", n.Addr(), old)
	if err == nil {
		_ = conn.Close()
	}
	require.Error(t, err, "%s accepted a TLS 1.2 handshake", n.ID)

	anon := &tls.Config{MinVersion: tls.VersionTLS13, InsecureSkipVerify: true} //nolint:gosec // as above
	conn, err = tls.DialWithDialer(dialer, "tcp", n.Addr(), anon)
	if err == nil {
		// TLS 1.3 reports the refusal of the client's (missing) certificate
		// after the client's side of the handshake: on the first read.
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		_, _ = conn.Write([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"))
		_, err = conn.Read(make([]byte, 1))
		_ = conn.Close()
		var ne net.Error
		require.False(t, errors.As(err, &ne) && ne.Timeout(), "%s neither answered nor refused a client without certificate", n.ID)
	}
	require.Error(t, err, "%s accepted a TLS client without certificate", n.ID)
}

// waitLogged waits until n's output after offset from holds every one of subs.
func waitLogged(t *testing.T, n *harness.Node, from int, subs ...string) {
	t.Helper()
	err := testproc.Until(ctxFor(t, catchUpWithin), func() error {
		out := n.Log()[from:]
		for _, s := range subs {
			if !strings.Contains(out, s) {
				return fmt.Errorf("%s has not logged %q", n.ID, s)
			}
		}
		return nil
	})
	require.NoError(t, err)
}

// checkImpostorRefused replaces a follower by a process with the same node id
// and the same data but certificates from another CA: the other nodes must
// refuse it (and log why) and it must never receive a block; the real node
// then comes back and catches up.
func checkImpostorRefused(t *testing.T, c *harness.Cluster, cl *harness.Client, acked *[]harness.Receipt) {
	leader := waitLeader(t, cl, c.Nodes(), "")
	victim := otherThan(c.Nodes(), leader)[0]
	rest := otherThan(c.Nodes(), victim.ID)
	require.NoError(t, c.Stop(victim.ID, stopWithin), "graceful stop of %s", victim.ID)
	lastHeight, err := latestHeight(ctxFor(t, requestTimeout), cl, rest[0])
	require.NoError(t, err)

	impostor := t.TempDir()
	require.NoError(t, copyData(filepath.Join(c.Dir(), "data"), filepath.Join(impostor, "data"), victim.ID, c.Nodes()))
	var ids []string
	for _, n := range c.Nodes() {
		ids = append(ids, n.ID)
	}
	_, err = c.Run(ctxFor(t, time.Minute), "certs", "--dir", filepath.Join(impostor, "certs"), "--nodes", strings.Join(ids, ","))
	require.NoError(t, err)

	logStart := map[string]int{}
	for _, n := range rest {
		logStart[n.ID] = len(n.Log())
	}
	require.NoError(t, c.StartIn(victim.ID, impostor))
	err = testproc.Until(ctxFor(t, healthyWithin), func() error {
		if !victim.Running() {
			return testproc.GiveUp(fmt.Errorf("the impostor exited: %v", victim.ExitErr()))
		}
		_, err := anyHealth(t, cl, victim)
		return err
	})
	require.NoError(t, err, "waiting for the impostor to serve /health")

	// The cluster goes on without it...
	*acked = append(*acked, submitMany(t, cl, rest, 10, 2)...)
	// ...and says why it refuses it.
	err = testproc.Until(ctxFor(t, catchUpWithin), func() error {
		for _, n := range rest {
			for _, line := range strings.Split(n.Log()[logStart[n.ID]:], "\n") {
				if strings.Contains(strings.ToLower(line), "certificate") {
					t.Logf("%s logged the refusal: %s", n.ID, line)
					return nil
				}
			}
		}
		return errors.New("no peer has logged a certificate refusal yet")
	})
	require.NoError(t, err)

	// Liveness is judged over a window, so the others may count the
	// stopped node for a while: wait until they, and the impostor, see
	// only the members they can really talk to.
	err = testproc.Until(ctxFor(t, catchUpWithin), func() error {
		if h, err := anyHealth(t, cl, victim); err != nil || h.Peers != 1 {
			return fmt.Errorf("the impostor's health: %+v (%v), want 1 peer (itself)", h, err)
		}
		for _, n := range rest {
			if h, err := anyHealth(t, cl, n); err != nil || h.Peers != len(rest) {
				return fmt.Errorf("%s's health: %+v (%v), want %d peers", n.ID, h, err, len(rest))
			}
		}
		return nil
	})
	require.NoError(t, err)
	height, err := localHeight(ctxFor(t, requestTimeout), cl, victim) // the impostor has no quorum
	require.NoError(t, err)
	require.LessOrEqual(t, height, lastHeight, "the impostor received blocks")

	require.NoError(t, c.Kill(victim.ID))
	require.NoError(t, c.Start(victim.ID))
	require.NoError(t, c.WaitHealthy(t.Context(), healthyWithin))
	checkAllHaveTxs(t, cl, c.Nodes(), *acked)
	checkSameChains(t, cl, c.Nodes())
}

// anyHealth reads GET /health whatever its status code: a node without
// quorum may answer 503 with the same body.
func anyHealth(t *testing.T, cl *harness.Client, n *harness.Node) (harness.Health, error) {
	h, err := cl.Health(ctxFor(t, requestTimeout), n)
	var he *harness.HTTPError
	if errors.As(err, &he) {
		if jerr := json.Unmarshal([]byte(he.Body), &h); jerr == nil {
			return h, nil
		}
	}
	return h, err
}

// copyData copies the data folder for node id (the genesis and its own
// store), leaving out the other nodes' stores.
func copyData(from, to, id string, nodes []*harness.Node) error {
	skip := map[string]bool{}
	for _, n := range nodes {
		if n.ID != id {
			skip[n.ID] = true
		}
	}
	return filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(from, path)
		if err != nil {
			return err
		}
		if d.IsDir() && skip[rel] {
			return filepath.SkipDir
		}
		dst := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
}
