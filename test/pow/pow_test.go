//go:build integration

// Package pow runs three proof-of-work node processes on loopback, each
// reaching its peers through a partition proxy (internal/netproxy) the test
// can cut.
package pow

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chainotel/chainotel/internal/netproxy"
	"github.com/chainotel/chainotel/internal/testbin"
	"github.com/chainotel/chainotel/internal/testproc"
)

// hashRate caps each node's miner: the dev genesis's difficulty then gives
// blocks about every second across the three, and the test stays light on
// a shared machine.
const hashRate = "100000"

// commitTimeout is how long POST /tx waits for its block. A node cut off
// from the others mines alone at a third of the cluster's rate, about one
// block in three seconds, so the default 10 s left a partitioned node's
// transaction unmined a few times in a hundred (blocks come as a Poisson
// process: no block in 10 s has odds of about e^-3.3).
const commitTimeout = "60s"

type status struct {
	Height uint64 `json:"height"`
	Peers  int    `json:"peers_up"`
	PoW    struct {
		Hash       string `json:"hash"`
		TotalWork  uint64 `json:"total_work"`
		Difficulty uint64 `json:"difficulty"`
		Reorgs     uint64 `json:"reorgs"`
	} `json:"pow"`
}

type receipt struct {
	TxHash    string `json:"tx_hash"`
	BlockHash string `json:"block_hash"`
	Height    uint64 `json:"height"`
}

type powCluster struct {
	t      *testing.T
	bin    string
	dir    string
	ports  []int // client API and peer port per node; health is ports[n+i]
	links  map[[2]int]*netproxy.Proxy
	procs  []*testproc.Proc
	client *http.Client
}

func newCluster(t *testing.T) *powCluster {
	c := &powCluster{t: t, bin: testbin.Blockchain(t), dir: t.TempDir(), ports: testproc.FreePorts(t, 6),
		links: make(map[[2]int]*netproxy.Proxy), procs: make([]*testproc.Proc, 3), client: &http.Client{Timeout: 90 * time.Second}}
	c.cli("certs", "--dir", "certs", "--nodes", "node0,node1,node2")
	c.cli("init", "--data-dir", "data", "--nodes", "node0,node1,node2")
	for i := range 3 {
		for j := range 3 {
			if i != j {
				p, err := netproxy.New("127.0.0.1:" + strconv.Itoa(c.ports[j]))
				require.NoError(t, err)
				t.Cleanup(p.Close)
				c.links[[2]int{i, j}] = p
			}
		}
	}
	return c
}

func (c *powCluster) cli(args ...string) {
	cmd := exec.Command(c.bin, args...)
	cmd.Dir = c.dir
	out, err := cmd.CombinedOutput()
	require.NoError(c.t, err, "%s: %s", strings.Join(args, " "), out)
}

func (c *powCluster) start(i int) {
	var peers []string
	for j := range 3 {
		if j != i {
			peers = append(peers, c.links[[2]int{i, j}].Addr())
		}
	}
	args := []string{
		"--node-id=node" + strconv.Itoa(i),
		"--port=" + strconv.Itoa(c.ports[i]),
		"--health-port=" + strconv.Itoa(c.ports[3+i]),
		"--peers=" + strings.Join(peers, ","),
		"--consensus=pow",
		"--pow-max-hashrate=" + hashRate,
		"--commit-timeout=" + commitTimeout,
		"--log-level=debug",
	}
	c.procs[i] = testproc.Start(c.t, "node"+strconv.Itoa(i), c.bin, args, testproc.Options{Dir: c.dir, Env: []string{"OTEL_SDK_DISABLED=true"}})
}

// cut cuts (or heals) every link between node i and the others, both ways.
func (c *powCluster) cut(i int, cut bool) {
	for k, l := range c.links {
		if k[0] == i || k[1] == i {
			if cut {
				l.Cut()
			} else {
				l.Heal()
			}
		}
	}
}

func (c *powCluster) url(i int, path string) string {
	return "http://127.0.0.1:" + strconv.Itoa(c.ports[i]) + path
}

func (c *powCluster) status(i int) (status, error) {
	var st status
	resp, err := c.client.Get(c.url(i, "/status"))
	if err != nil {
		return st, err
	}
	defer func() { _ = resp.Body.Close() }()
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

func (c *powCluster) statuses() ([]status, error) {
	out := make([]status, 3)
	for i := range out {
		st, err := c.status(i)
		if err != nil {
			return nil, fmt.Errorf("node%d: %w", i, err)
		}
		out[i] = st
	}
	return out, nil
}

// sameHead waits until every node has one head at least minHeight high and
// returns their statuses.
func (c *powCluster) sameHead(what string, minHeight uint64) []status {
	var sts []status
	testproc.WaitFor(c.t, 90*time.Second, what, func() (err error) {
		if sts, err = c.statuses(); err != nil {
			return err
		}
		for i, st := range sts {
			if st.PoW.Hash != sts[0].PoW.Hash || st.Height < minHeight {
				return fmt.Errorf("node%d at %d (%s), node0 at %d (%s), want one head at >= %d",
					i, st.Height, st.PoW.Hash, sts[0].Height, sts[0].PoW.Hash, minHeight)
			}
		}
		return nil
	})
	return sts
}

func (c *powCluster) postTx(i int, to string, amount uint64) receipt {
	return c.postTxTo(i, "/tx", to, amount, http.StatusOK)
}

func (c *powCluster) postTxTo(i int, path, to string, amount uint64, wantStatus int) receipt {
	body := fmt.Sprintf(`{"from":"0xabc","to":%q,"amount":%d}`, to, amount)
	resp, err := c.client.Post(c.url(i, path), "application/json", bytes.NewBufferString(body))
	require.NoError(c.t, err)
	defer func() { _ = resp.Body.Close() }()
	require.Equal(c.t, wantStatus, resp.StatusCode)
	var r receipt
	require.NoError(c.t, json.NewDecoder(resp.Body).Decode(&r))
	return r
}

// txIn reports the block hash node i has tx in, on its best chain.
func (c *powCluster) txIn(i int, tx string) (string, error) {
	resp, err := c.client.Get(c.url(i, "/tx/"+tx))
	if err != nil {
		return "", err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("node%d: GET /tx/%s: %s", i, tx, resp.Status)
	}
	var r receipt
	return r.BlockHash, json.NewDecoder(resp.Body).Decode(&r)
}

// TestPoWClusterConvergesHealsAPartitionAndResumesFromDisk runs three PoW
// nodes: they converge on one chain; a node cut off from the others mines a
// branch of its own, and once the cut heals every node holds the heaviest
// chain with the abandoned transactions included again; a restarted node
// resumes from its disk and syncs what it missed.
func TestPoWClusterConvergesHealsAPartitionAndResumesFromDisk(t *testing.T) {
	c := newCluster(t)
	for i := range 3 {
		c.start(i)
	}

	testproc.WaitFor(t, 60*time.Second, "three nodes up, each seeing the others", func() error {
		sts, err := c.statuses()
		if err != nil {
			return err
		}
		for i, st := range sts {
			if st.Peers != 3 {
				return fmt.Errorf("node%d sees %d of 3", i, st.Peers)
			}
		}
		return nil
	})

	// One chain, and a transaction every node sees in it.
	first := c.postTx(1, "0x1", 1)
	c.sameHead("three nodes on one chain", first.Height+2)
	// The answer names the block that first held the tx on node1's best
	// chain; a reorg right after may have moved it to another block at the
	// same height, so the nodes must agree with each other, not with it.
	testproc.WaitFor(t, 30*time.Second, "every node to hold the first tx in one block", func() error {
		inBlock, err := c.txIn(0, first.TxHash)
		if err != nil {
			return err
		}
		for i := 1; i < 3; i++ {
			b, err := c.txIn(i, first.TxHash)
			if err != nil {
				return err
			}
			if b != inBlock {
				return fmt.Errorf("node%d holds the tx in %s, node0 in %s", i, b, inBlock)
			}
		}
		return nil
	})

	// ?confirmations=N answers once the block holding the tx has N-1 blocks on top.
	c.postTxTo(0, "/tx?confirmations=0", "0x4", 4, http.StatusBadRequest)
	deep := c.postTxTo(0, "/tx?confirmations=3", "0x4", 4, http.StatusOK)
	st0, err := c.status(0)
	require.NoError(t, err)
	require.GreaterOrEqual(t, st0.Height, deep.Height+2)

	// Cut node2 off; each side mines, each side takes a transaction.
	c.cut(2, true)
	lone := c.postTx(2, "0x2", 2)
	major := c.postTx(0, "0x3", 3)
	testproc.WaitFor(t, 90*time.Second, "the majority's branch to outweigh node2's", func() error {
		sts, err := c.statuses()
		if err != nil {
			return err
		}
		if sts[2].PoW.Hash == sts[0].PoW.Hash {
			return fmt.Errorf("node2 is still on the majority's head")
		}
		if sts[0].PoW.TotalWork < sts[2].PoW.TotalWork+2*sts[0].PoW.Difficulty {
			return fmt.Errorf("majority work %d, node2 %d", sts[0].PoW.TotalWork, sts[2].PoW.TotalWork)
		}
		return nil
	})
	_, err = c.txIn(0, lone.TxHash)
	require.Error(t, err, "the majority never saw node2's transaction while cut off")
	before, err := c.statuses()
	require.NoError(t, err)
	heaviest := max(before[0].PoW.TotalWork, before[1].PoW.TotalWork, before[2].PoW.TotalWork)

	// Heal: node2 reorganises onto the heavier chain, and its abandoned
	// transaction goes back to its mempool and into a block of that chain.
	c.cut(2, false)
	after := c.sameHead("one chain again after the cut healed", before[0].Height)
	require.GreaterOrEqual(t, after[0].PoW.TotalWork, heaviest, "everyone follows the heaviest chain")
	// The majority's transaction must be there too, but not at once: node0
	// and node1 race each other as well, and a block of theirs lost to a
	// sibling sends its transactions back to the mempool for the next one.
	testproc.WaitFor(t, 90*time.Second, "node2's abandoned transaction and node0's, each in one block on every node", func() error {
		for _, tx := range []string{lone.TxHash, major.TxHash} {
			var blocks []string
			for i := range 3 {
				b, err := c.txIn(i, tx)
				if err != nil {
					return err
				}
				blocks = append(blocks, b)
			}
			if blocks[0] != blocks[1] || blocks[1] != blocks[2] {
				return fmt.Errorf("tx %s in different blocks: %v", tx, blocks)
			}
		}
		return nil
	})
	st2, err := c.status(2)
	require.NoError(t, err)
	require.GreaterOrEqual(t, st2.PoW.Reorgs, uint64(1), "node2 reorganised")

	// Restart node1: it resumes from disk, then syncs the blocks it missed.
	st1, err := c.status(1)
	require.NoError(t, err)
	require.NoError(t, c.procs[1].Stop(20*time.Second))
	testproc.WaitFor(t, 90*time.Second, "the others to mine on without node1", func() error {
		st, err := c.status(0)
		if err != nil {
			return err
		}
		if st.Height < st1.Height+3 {
			return fmt.Errorf("node0 at %d", st.Height)
		}
		return nil
	})
	c.start(1)
	testproc.WaitFor(t, 30*time.Second, "node1 to reload its chain", func() error {
		if !strings.Contains(c.procs[1].Log(), `"msg":"block tree loaded"`) {
			return fmt.Errorf("no \"block tree loaded\" in its log yet")
		}
		return nil
	})
	c.sameHead("node1 synced after its restart", st1.Height+3)
	require.NoError(t, c.procs[1].Signal(syscall.SIGTERM))
}
