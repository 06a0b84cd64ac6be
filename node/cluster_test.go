package node

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chainotel/chainotel/internal/testproc"
	"github.com/chainotel/chainotel/node/api"
	"github.com/chainotel/chainotel/node/chain"
	"github.com/chainotel/chainotel/node/pki"
)

// testCluster is three in-process nodes on loopback with real TLS and Badger.
type testCluster struct {
	t       *testing.T
	dir     string
	ids     []string
	ports   []int
	cfgs    []Config
	running []*runningNode
}

type runningNode struct {
	node   *Node
	cancel context.CancelFunc
	done   chan error
	logs   *testproc.SyncBuffer
}

func newTestCluster(t *testing.T) *testCluster {
	t.Helper()
	dir := t.TempDir()
	ids := []string{"node0", "node1", "node2"}
	_, err := pki.WriteCluster(filepath.Join(dir, "certs"), ids, pki.Options{})
	require.NoError(t, err)
	g := chain.DevGenesis(ids, time.Now())
	g.Consensus.BlockInterval = chain.Duration{Duration: time.Millisecond}
	require.NoError(t, g.Write(filepath.Join(dir, "genesis.json")))
	ports := testproc.FreePorts(t, 6)
	c := &testCluster{t: t, dir: dir, ids: ids, ports: ports[:3], running: make([]*runningNode, 3)}
	for i, id := range ids {
		var peers []string
		for j := range ids {
			if j != i {
				peers = append(peers, fmt.Sprintf(":%d", ports[j]))
			}
		}
		cfg := DefaultConfig()
		cfg.NodeID, cfg.Port, cfg.HealthPort, cfg.Peers = id, ports[i], ports[3+i], peers
		cfg.ListenHost = "127.0.0.1"
		cfg.TLSDir, cfg.GenesisPath = filepath.Join(dir, "certs"), filepath.Join(dir, "genesis.json")
		cfg.DBPath = filepath.Join(dir, id, "badger")
		cfg.TickInterval = 20 * time.Millisecond
		cfg.SnapshotEvery, cfg.SnapshotCatchUp = 20, 5
		cfg.CommitTimeout = 5 * time.Second
		c.cfgs = append(c.cfgs, cfg)
	}
	for i := range ids {
		c.start(i)
	}
	t.Cleanup(func() {
		for i := range c.running {
			if c.running[i] != nil {
				c.stop(i)
			}
		}
	})
	return c
}

func (c *testCluster) start(i int) {
	c.t.Helper()
	logs := &testproc.SyncBuffer{}
	cfg := c.cfgs[i]
	cfg.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	n, err := New(cfg)
	require.NoError(c.t, err)
	ctx, cancel := context.WithCancel(context.Background())
	rn := &runningNode{node: n, cancel: cancel, done: make(chan error, 1), logs: logs}
	go func() { rn.done <- n.Run(ctx) }()
	c.running[i] = rn
}

func (c *testCluster) stop(i int) {
	c.t.Helper()
	rn := c.running[i]
	rn.cancel()
	select {
	case err := <-rn.done:
		require.NoError(c.t, err, "node %s shut down with an error", c.ids[i])
	case <-time.After(20 * time.Second):
		c.t.Fatalf("node %s did not shut down", c.ids[i])
	}
	c.running[i] = nil
}

func (c *testCluster) url(i int, path string) string {
	return fmt.Sprintf("http://127.0.0.1:%d%s", c.ports[i], path)
}

func getJSON(url string, v any) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %d %s", url, resp.StatusCode, body)
	}
	return json.Unmarshal(body, v)
}

func (c *testCluster) status(i int) (api.StatusView, error) {
	var st api.StatusView
	return st, getJSON(c.url(i, "/status"), &st)
}

// leader waits until the running nodes agree on a leader and returns its index.
func (c *testCluster) leader() int {
	c.t.Helper()
	lead := -1
	testproc.WaitFor(c.t, 15*time.Second, "a leader all running nodes agree on", func() error {
		name := ""
		for i, rn := range c.running {
			if rn == nil {
				continue
			}
			st, err := c.status(i)
			if err != nil {
				return err
			}
			if st.Leader == "" || (name != "" && st.Leader != name) {
				return fmt.Errorf("%s sees leader %q", c.ids[i], st.Leader)
			}
			name = st.Leader
		}
		for i, id := range c.ids {
			if id == name && c.running[i] != nil {
				lead = i
				return nil
			}
		}
		return fmt.Errorf("leader %q is not running", name)
	})
	return lead
}

func (c *testCluster) postTx(i int, body string) api.Receipt {
	c.t.Helper()
	resp, err := http.Post(c.url(i, "/tx"), "application/json", strings.NewReader(body))
	require.NoError(c.t, err)
	defer func() { _ = resp.Body.Close() }()
	raw, _ := io.ReadAll(resp.Body)
	require.Equal(c.t, http.StatusOK, resp.StatusCode, "POST /tx on %s: %s", c.ids[i], raw)
	var rc api.Receipt
	require.NoError(c.t, json.Unmarshal(raw, &rc))
	return rc
}

// chainsAgree waits until every running node has the same head, then
// compares every block hash.
func (c *testCluster) chainsAgree() uint64 {
	c.t.Helper()
	var height uint64
	testproc.WaitFor(c.t, 20*time.Second, "all running nodes at the same head", func() error {
		var head chain.Hash
		for i, rn := range c.running {
			if rn == nil {
				continue
			}
			st, err := c.status(i)
			if err != nil {
				return err
			}
			if !head.IsZero() && st.HeadHash != head {
				return fmt.Errorf("%s is at %d (%s), others at %s", c.ids[i], st.Height, st.HeadHash, head)
			}
			head, height = st.HeadHash, st.Height
		}
		return nil
	})
	for h := uint64(0); h <= height; h++ {
		var want chain.Hash
		for i, rn := range c.running {
			if rn == nil {
				continue
			}
			b, err := rn.node.store.BlockByHeight(h)
			require.NoError(c.t, err)
			if want.IsZero() {
				want = b.Hash()
			}
			require.Equal(c.t, want, b.Hash(), "block %d differs on %s", h, c.ids[i])
		}
	}
	return height
}

func TestClusterCommitsRestartsAndCatchesUp(t *testing.T) {
	c := newTestCluster(t)
	lead := c.leader()
	follower := (lead + 1) % 3

	// Concurrent submissions through a follower, all from one account and
	// without nonces: each gets the next nonce in commit order.
	const n = 40
	receipts := make([]api.Receipt, n)
	var wg sync.WaitGroup
	for k := range n {
		wg.Go(func() { receipts[k] = c.postTx(follower, `{"from":"0xabc","to":"0xdef","amount":1}`) })
	}
	wg.Wait()
	c.chainsAgree()
	for _, rc := range receipts {
		for i := range c.ids {
			var got api.TxLookup
			require.NoError(t, getJSON(c.url(i, "/tx/"+rc.TxHash.String()), &got))
			require.Equal(t, rc.BlockHash, got.BlockHash, "tx %s on %s", rc.TxHash, c.ids[i])
		}
	}
	var acct api.AccountView
	require.NoError(t, getJSON(c.url(lead, "/accounts/0xabc"), &acct))
	require.Equal(t, uint64(n), acct.Nonce)
	require.Equal(t, chain.DevBalance-n, acct.Balance)

	// A follower that misses a few blocks catches up from the raft log.
	c.stop(follower)
	for range 3 {
		c.postTx(lead, `{"from":"0xabc","to":"0xdef","amount":1}`)
	}
	c.start(follower)
	c.chainsAgree()

	// One that misses more than the leader keeps in its log (snapshots every
	// 20 entries, 5 kept) installs a snapshot and fetches the blocks.
	c.stop(follower)
	for range 30 {
		c.postTx(c.leader(), `{"from":"0xabc","to":"0xdef","amount":1}`)
	}
	c.start(follower)
	height := c.chainsAgree()
	require.GreaterOrEqual(t, height, uint64(30))
	require.Contains(t, c.running[follower].logs.String(), "installing raft snapshot")
	testproc.WaitFor(t, 10*time.Second, "the restarted node to see all members live", func() error {
		st, err := c.status(follower)
		if err == nil && st.PeersUp != 3 {
			err = fmt.Errorf("peers up: %d", st.PeersUp)
		}
		return err
	})

	// The restarted node serves submissions too.
	c.postTx(follower, `{"from":"0xabc","to":"0xdef","amount":1}`)
	c.chainsAgree()

	// Without its leader the cluster elects another and keeps committing;
	// the old leader rejoins as a follower and catches up.
	old := c.leader()
	c.stop(old)
	next := c.leader()
	require.NotEqual(t, old, next)
	for i := range c.ids {
		if c.running[i] != nil {
			c.postTx(i, `{"from":"0xabc","to":"0xdef","amount":1}`)
		}
	}
	c.start(old)
	c.chainsAgree()
	require.NoError(t, getJSON(c.url(old, "/accounts/0xabc"), &acct))
	require.Equal(t, uint64(n+3+30+1+2), acct.Nonce, "every acknowledged transfer applied once")
}
