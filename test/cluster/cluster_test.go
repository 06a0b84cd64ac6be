//go:build integration

package cluster

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	harness "github.com/chainotel/chainotel/internal/cluster"
	"github.com/chainotel/chainotel/internal/testbin"
	"github.com/chainotel/chainotel/internal/testproc"
	"github.com/chainotel/chainotel/node/api"
)

const (
	healthyWithin  = 90 * time.Second // three -race binaries on two shared cores
	electionWithin = 15 * time.Second // "a new leader within seconds"
	catchUpWithin  = 60 * time.Second
	stopWithin     = 30 * time.Second
	requestTimeout = 20 * time.Second
)

// TestCluster runs three node processes as the README does and walks through
// the life of a cluster; each step builds on the state the previous one left.
func TestCluster(t *testing.T) {
	promtool := requirePromtool(t)
	c := startCluster(t, testbin.Blockchain(t))
	cl := harness.NewClient(64, requestTimeout)
	var acked []harness.Receipt

	step := func(name string, f func(t *testing.T)) {
		if !t.Run(name, f) {
			t.FailNow() // later steps rely on this one's outcome
		}
	}
	step("transactions through a follower reach every node", func(t *testing.T) {
		leader := waitLeader(t, cl, c.Nodes(), "")
		follower := otherThan(c.Nodes(), leader)[0]
		t.Logf("leader %s, submitting through follower %s", leader, follower.ID)
		acked = append(acked, submitMany(t, cl, []*harness.Node{follower}, 40, 8)...)
		checkAllHaveTxs(t, cl, c.Nodes(), acked)
		checkSameChains(t, cl, c.Nodes())
	})
	step("SIGKILL of the leader elects a new one and submissions keep succeeding", func(t *testing.T) {
		old := waitLeader(t, cl, c.Nodes(), "")
		require.NoError(t, c.Kill(old))
		killedAt := time.Now()
		rest := otherThan(c.Nodes(), old)
		leader := waitLeader(t, cl, rest, old)
		t.Logf("killed leader %s; %s leads after %v", old, leader, time.Since(killedAt).Round(time.Millisecond))
		acked = append(acked, submitMany(t, cl, rest, 20, 4)...)
		checkAllHaveTxs(t, cl, rest, acked)

		require.NoError(t, c.Start(old))
		require.NoError(t, c.WaitHealthy(t.Context(), healthyWithin))
		checkAllHaveTxs(t, cl, c.Nodes(), acked)
		checkSameChains(t, cl, c.Nodes())
	})
	step("peers refuse TLS 1.2 and clients without a certificate", func(t *testing.T) {
		for _, n := range c.Nodes() {
			logStart := len(n.Log())
			checkTLSRefusals(t, n)
			// "Everything else is refused and logged": crypto/tls's own words.
			waitLogged(t, n, logStart, "offered only unsupported versions", "didn't provide a certificate")
		}
		// Plain HTTP on the same port still serves the API.
		_, err := latestHeight(ctxFor(t, requestTimeout), cl, c.Nodes()[0])
		require.NoError(t, err)
	})
	step("a node with a certificate from another CA never joins", func(t *testing.T) {
		checkImpostorRefused(t, c, cl, &acked)
	})
	step("metrics pass promtool check metrics", func(t *testing.T) {
		leaders := 0.0
		for _, n := range c.Nodes() {
			m := checkMetrics(t, cl, promtool, n)
			require.Equal(t, float64(len(c.Nodes())), gaugeValue(t, m, "chainotel_peers_up"), "%s peers up", n.ID)
			require.Positive(t, gaugeValue(t, m, "chainotel_block_height"), "%s height", n.ID)
			leaders += gaugeValue(t, m, "chainotel_raft_leader")
		}
		require.Equal(t, 1.0, leaders, "nodes reporting chainotel_raft_leader 1")
	})
	step("SIGTERM stops every node with exit status 0", func(t *testing.T) {
		for _, n := range c.Nodes() {
			require.NoError(t, c.Stop(n.ID, stopWithin), "graceful stop of %s", n.ID)
		}
	})
}

// startCluster runs certs, init and the three nodes in a temporary folder and
// waits until they see each other; args are added to the README's command
// lines. Telemetry is disabled: no collector runs here, and the node's export
// path is tested where one does.
func startCluster(t *testing.T, bin string, args ...string) *harness.Cluster {
	t.Helper()
	c, err := harness.New(ctxFor(t, time.Minute), harness.Config{
		Binary:   bin,
		Dir:      t.TempDir(),
		Env:      []string{"OTEL_SDK_DISABLED=true"},
		Args:     args,
		Progress: func(msg string) { t.Log(msg) },
	})
	require.NoError(t, err)
	t.Cleanup(func() {
		if t.Failed() {
			for _, n := range c.Nodes() {
				t.Logf("--- last lines of %s (%s):\n%s", n.ID, n.LogPath, n.Tail(60))
			}
		}
		_ = c.Close(stopWithin)
	})
	require.NoError(t, c.StartAll())
	require.NoError(t, c.WaitHealthy(t.Context(), healthyWithin))
	return c
}

func otherThan(nodes []*harness.Node, id string) []*harness.Node {
	var out []*harness.Node
	for _, n := range nodes {
		if n.ID != id {
			out = append(out, n)
		}
	}
	return out
}

// waitLeader waits until every node in nodes names the same leader, one of
// nodes and not notID, and returns it.
func waitLeader(t *testing.T, cl *harness.Client, nodes []*harness.Node, notID string) string {
	t.Helper()
	var leader string
	err := testproc.Until(ctxFor(t, electionWithin), func() error {
		leader = ""
		for _, n := range nodes {
			s, err := getStatus(ctxFor(t, time.Second), cl, n)
			if err != nil {
				return fmt.Errorf("%s: %w", n.ID, err)
			}
			switch {
			case s.Leader == "" || s.Leader == notID:
				return fmt.Errorf("%s: leader is %q", n.ID, s.Leader)
			case leader != "" && s.Leader != leader:
				return fmt.Errorf("nodes disagree on the leader: %s and %s", leader, s.Leader)
			}
			leader = s.Leader
		}
		for _, n := range nodes {
			if n.ID == leader {
				return nil
			}
		}
		return fmt.Errorf("leader %q is not among the running nodes", leader)
	})
	require.NoError(t, err, "waiting %v for a leader", electionWithin)
	return leader
}

// submitMany posts count transfers from 0xabc, spread over nodes by workers
// concurrent clients, and requires every one to be acknowledged with a receipt.
func submitMany(t *testing.T, cl *harness.Client, nodes []*harness.Node, count, workers int) []harness.Receipt {
	t.Helper()
	var (
		mu       sync.Mutex
		receipts []harness.Receipt
		errs     []error
		wg       sync.WaitGroup
		next     = make(chan int)
	)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				n := nodes[(w+i)%len(nodes)]
				r, err := cl.SubmitTx(ctxFor(t, requestTimeout), n.API, harness.Tx{From: "0xabc", To: "0xdef", Amount: uint64(1 + i%7)})
				mu.Lock()
				if err != nil {
					errs = append(errs, fmt.Errorf("tx %d via %s: %w", i, n.ID, err))
				} else {
					receipts = append(receipts, r)
				}
				mu.Unlock()
			}
		}()
	}
	for i := range count {
		next <- i
	}
	close(next)
	wg.Wait()
	require.NoError(t, errors.Join(errs...))
	seen := map[string]bool{}
	for _, r := range receipts {
		require.False(t, seen[r.TxHash], "two acknowledgements for tx %s", r.TxHash)
		seen[r.TxHash] = true
	}
	return receipts
}

// checkAllHaveTxs waits until each node's chain reaches the highest
// acknowledged block, then requires every acknowledged transaction in it:
// GET /tx/{hash} agrees with the receipt and the block at that height holds it.
func checkAllHaveTxs(t *testing.T, cl *harness.Client, nodes []*harness.Node, acked []harness.Receipt) {
	t.Helper()
	var top uint64
	for _, r := range acked {
		top = max(top, r.Height)
	}
	for _, n := range nodes {
		err := testproc.Until(ctxFor(t, catchUpWithin), func() error {
			h, err := latestHeight(ctxFor(t, requestTimeout), cl, n)
			if err == nil && h < top {
				err = fmt.Errorf("%s at height %d, want >= %d", n.ID, h, top)
			}
			return err
		})
		require.NoError(t, err, "waiting for %s to catch up", n.ID)

		blocks := map[uint64]map[string]bool{} // height → tx hashes in the block
		for _, r := range acked {
			got, err := getTx(ctxFor(t, requestTimeout), cl, n, r.TxHash)
			require.NoError(t, err, "%s: acknowledged tx %s", n.ID, r.TxHash)
			require.Equal(t, r.TxHash, got.Hash.String(), "%s: GET /tx/%s", n.ID, r.TxHash)
			require.Equal(t, r.BlockHash, got.BlockHash.String(), "%s: block of tx %s", n.ID, r.TxHash)
			require.Equal(t, r.Height, got.Height, "%s: height of tx %s", n.ID, r.TxHash)
			if blocks[r.Height] == nil {
				b, err := getBlock(ctxFor(t, requestTimeout), cl, n, blockPath(r.Height))
				require.NoError(t, err)
				require.Equal(t, r.BlockHash, b.Hash.String(), "%s: hash of block %d", n.ID, r.Height)
				blocks[r.Height] = map[string]bool{}
				for i := range b.Txs {
					// The hash shown must be the transaction's own.
					require.Equal(t, b.Txs[i].Tx.Hash(), b.Txs[i].Hash, "%s: block %d tx %d", n.ID, r.Height, i)
					blocks[r.Height][b.Txs[i].Hash.String()] = true
				}
			}
			require.True(t, blocks[r.Height][r.TxHash], "%s: block %d lacks tx %s", n.ID, r.Height, r.TxHash)
		}
	}
}

// checkSameChains requires the nodes' chains to be identical block for block
// up to the lowest of their heights.
func checkSameChains(t *testing.T, cl *harness.Client, nodes []*harness.Node) {
	t.Helper()
	top := ^uint64(0)
	for _, n := range nodes {
		h, err := latestHeight(ctxFor(t, requestTimeout), cl, n)
		require.NoError(t, err)
		top = min(top, h)
	}
	require.Positive(t, top, "no block was committed")
	var prev api.BlockView
	for h := uint64(0); h <= top; h++ {
		var first api.BlockView
		for i, n := range nodes {
			b, err := getBlock(ctxFor(t, requestTimeout), cl, n, blockPath(h))
			require.NoError(t, err)
			if i == 0 {
				first = b
				require.Equal(t, h, b.Header.Height, "%s: GET /blocks/%d", n.ID, h)
				if h > 0 {
					require.Equal(t, prev.Hash, b.Header.Parent, "%s: block %d's parent", n.ID, h)
				}
				continue
			}
			require.Equal(t, first, b, "block %d differs between %s and %s", h, nodes[0].ID, n.ID)
		}
		prev = first
	}
	t.Logf("%d nodes hold the same %d blocks", len(nodes), top+1)
}
