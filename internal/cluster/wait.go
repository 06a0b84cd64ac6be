package cluster

import (
	"context"
	"fmt"
	"time"

	"github.com/chainotel/chainotel/internal/testproc"
)

// WaitHealthy waits until every running node answers GET /health with
// status "up" and counts all len(Nodes()) members alive, or until timeout.
// A node process that exits meanwhile ends the wait with its log's tail.
func (c *Cluster) WaitHealthy(ctx context.Context, timeout time.Duration) error {
	return c.WaitPeers(ctx, timeout, len(c.nodes))
}

// WaitPeers waits until every running node reports status "up" and at least
// peers live members (itself included).
func (c *Cluster) WaitPeers(ctx context.Context, timeout time.Duration, peers int) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &Client{HTTP: c.client}
	running := c.running()
	c.progress(fmt.Sprintf("waiting for %d nodes to be healthy (each seeing %d peers)", len(running), peers))
	err := testproc.Until(ctx, func() error {
		for _, n := range running {
			if !n.Running() {
				return testproc.GiveUp(fmt.Errorf("%s: %w (%s); last lines:\n%s", n.ID, ErrExited, testproc.DescribeExit(n.ExitErr()), n.Tail(20)))
			}
			hctx, hcancel := context.WithTimeout(ctx, time.Second)
			h, err := client.Health(hctx, n)
			hcancel()
			if err != nil {
				return fmt.Errorf("%s: %w", n.ID, err)
			}
			if h.Status != "up" || h.Peers < peers {
				return fmt.Errorf("%s: health says status %q with %d peers, want \"up\" with %d", n.ID, h.Status, h.Peers, peers)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("cluster: waiting %v for %d healthy nodes: %w", timeout, len(running), err)
	}
	return nil
}

func (c *Cluster) running() []*Node {
	var out []*Node
	for _, n := range c.nodes {
		if n.Running() {
			out = append(out, n)
		}
	}
	return out
}
