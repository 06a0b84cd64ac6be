//go:build integration

package deploy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/chainotel/chainotel/internal/testproc"
	"github.com/chainotel/chainotel/node/api"
)

const (
	healthyWait = 90 * time.Second // image start, raft election, peer connections
	agreeWait   = 30 * time.Second
)

// apiTimeout bounds one request to a node (POST /tx waits for the commit).
const apiTimeout = 15 * time.Second

// getJSON decodes the JSON answer of a GET into v, refusing any status but 200.
func getJSON(url string, v any) error {
	client := http.Client{Timeout: apiTimeout}
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s: decoding %q: %w", url, body, err)
	}
	return nil
}

// waitHealthy waits until node i answers /health through its published port
// with every member alive and a leader elected.
func (n *testnet) waitHealthy(i int, name string) {
	n.t.Helper()
	n.t.Logf("waiting for %s: %s answering with %d peers and a leader ...", name, n.healthURL(i), nodeCount)
	var h api.Health
	testproc.WaitFor(n.t, healthyWait, name+" healthy", func() error {
		if err := getJSON(n.healthURL(i), &h); err != nil {
			return err
		}
		if h.Peers != nodeCount || h.Leader == "" {
			return fmt.Errorf("%s: %+v", name, h)
		}
		return nil
	})
	n.t.Logf("%s healthy: %+v", name, h)
}

// leader returns the index of the current leader, as node0 sees it.
func (n *testnet) leader() int {
	n.t.Helper()
	var h api.Health
	if err := getJSON(n.healthURL(0), &h); err != nil {
		n.t.Fatalf("leader: %v", err)
	}
	for i, name := range nodeNames() {
		if name == h.Leader {
			return i
		}
	}
	n.t.Fatalf("leader: node0 names %q, not one of %v", h.Leader, nodeNames())
	return -1
}

// postTx submits a transfer to node i through its published API port and
// returns the receipt, which the node sends once the block is committed.
func (n *testnet) postTx(i int, amount int) api.Receipt {
	n.t.Helper()
	body, err := json.Marshal(api.TxRequest{From: "0xabc", To: "0xdef", Amount: json.Number(strconv.Itoa(amount))})
	if err != nil {
		n.t.Fatal(err)
	}
	url := n.apiURL(i, "/tx")
	client := http.Client{Timeout: apiTimeout}
	resp, err := client.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		n.t.Fatalf("POST %s: %v", url, err)
	}
	defer func() { _ = resp.Body.Close() }()
	answer, err := io.ReadAll(resp.Body)
	if err != nil {
		n.t.Fatalf("POST %s: %v", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		n.t.Fatalf("POST %s %s: %s: %s", url, body, resp.Status, answer)
	}
	var r api.Receipt
	if err := json.Unmarshal(answer, &r); err != nil {
		n.t.Fatalf("POST %s: decoding %q: %v", url, answer, err)
	}
	return r
}

// requireAgreement waits until the three nodes report the same chain (genesis,
// height, head) at least as high as every receipt, then checks that every node
// holds every acknowledged transaction in the block its receipt named.
func (n *testnet) requireAgreement(receipts []api.Receipt) {
	n.t.Helper()
	var want uint64
	for _, r := range receipts {
		want = max(want, r.Height)
	}
	var views [nodeCount]api.StatusView
	testproc.WaitFor(n.t, agreeWait, fmt.Sprintf("the three nodes at one head, height >= %d", want), func() error {
		for i := range nodeNames() {
			if err := getJSON(n.apiURL(i, "/status"), &views[i]); err != nil {
				return err
			}
		}
		for i, v := range views {
			if v.Height < want || v.HeadHash != views[0].HeadHash || v.GenesisHash != views[0].GenesisHash {
				return fmt.Errorf("%s at height %d head %s genesis %s; node0 at %d %s %s", nodeNames()[i],
					v.Height, v.HeadHash, v.GenesisHash, views[0].Height, views[0].HeadHash, views[0].GenesisHash)
			}
		}
		return nil
	})
	n.t.Logf("the three nodes agree: height %d, head %s", views[0].Height, views[0].HeadHash)
	for _, r := range receipts {
		for i, name := range nodeNames() {
			var got api.TxLookup
			if err := getJSON(n.apiURL(i, "/tx/"+r.TxHash.String()), &got); err != nil {
				n.t.Fatalf("%s lacks acknowledged tx %s: %v", name, r.TxHash, err)
			}
			if got.BlockHash != r.BlockHash || got.Height != r.Height {
				n.t.Fatalf("%s has tx %s in block %s at %d; the receipt said %s at %d",
					name, r.TxHash, got.BlockHash, got.Height, r.BlockHash, r.Height)
			}
		}
	}
}
