package raft

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.etcd.io/raft/v3/raftpb"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/chainotel/chainotel/node/chain"
	"github.com/chainotel/chainotel/node/mempool"
)

var errUnreachable = errors.New("peer unreachable")

// memNet is an in-process network of engines: a test double for the peer
// transport. Each directed link delivers in order on its own goroutine, so
// Send never blocks the Ready loop; a node can be cut off and brought back.
// onSend, when set, sees every message before it leaves its sender.
type memNet struct {
	ctx context.Context

	mu     sync.Mutex
	nodes  map[string]*testNode
	cut    map[string]bool
	links  map[[2]string]chan delivery
	onSend func(from *testNode, m raftpb.Message)
	// drop, when set, loses the messages it returns true for, in transit
	// and without a word, as a lossy link does.
	drop    func(from, to string, m raftpb.Message) bool
	started sync.WaitGroup
}

type delivery struct {
	msgs []raftpb.Message
	done func(error)
}

// memTransport is one node's end of a memNet.
type memTransport struct {
	net  *memNet
	from string
}

var _ Transport = memTransport{}

func (n *memNet) reachable(from, to string) (*testNode, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.nodes[to], !n.cut[from] && !n.cut[to]
}

func (t memTransport) Send(to string, msgs []raftpb.Message, done func(error)) {
	n := t.net
	n.mu.Lock()
	onSend, sender := n.onSend, n.nodes[t.from]
	link, ok := n.links[[2]string{t.from, to}]
	if !ok {
		link = make(chan delivery, 1024)
		n.links[[2]string{t.from, to}] = link
		n.started.Go(func() { n.deliver(t.from, to, link) })
	}
	n.mu.Unlock()
	if onSend != nil {
		for _, m := range msgs {
			onSend(sender, m)
		}
	}
	select {
	case link <- delivery{msgs, done}:
	default:
		done(fmt.Errorf("link %s->%s: %w (queue full)", t.from, to, errUnreachable))
	}
}

func (n *memNet) deliver(from, to string, link chan delivery) {
	for {
		select {
		case <-n.ctx.Done():
			return
		case d := <-link:
			node, ok := n.reachable(from, to)
			if !ok || node == nil {
				d.done(errUnreachable)
				continue
			}
			d.done(node.engine().Step(n.ctx, n.kept(from, to, d.msgs)))
		}
	}
}

// kept is msgs without those drop loses.
func (n *memNet) kept(from, to string, msgs []raftpb.Message) []raftpb.Message {
	n.mu.Lock()
	drop := n.drop
	n.mu.Unlock()
	if drop == nil {
		return msgs
	}
	out := make([]raftpb.Message, 0, len(msgs))
	for _, m := range msgs {
		if !drop(from, to, m) {
			out = append(out, m)
		}
	}
	return out
}

// setDrop sets the filter of lost messages (nil: none is lost).
func (c *testCluster) setDrop(drop func(from, to string, m raftpb.Message) bool) {
	c.net.mu.Lock()
	c.net.drop = drop
	c.net.mu.Unlock()
}

func (t memTransport) Forward(ctx context.Context, to string, txs []chain.Tx) ([]error, error) {
	node, ok := t.net.reachable(t.from, to)
	if !ok {
		return nil, errUnreachable
	}
	return node.engine().Admit(ctx, txs), nil
}

func (t memTransport) FetchBlocks(_ context.Context, peer string, from, to uint64) ([]*chain.Block, error) {
	node, ok := t.net.reachable(t.from, peer)
	if !ok {
		return nil, errUnreachable
	}
	var out []*chain.Block
	for h := from; h <= to; h++ {
		b, err := node.chain.BlockByHeight(h)
		if err != nil {
			break
		}
		out = append(out, b)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s has no block %d: %w", peer, from, errNoBlock)
	}
	return out, nil
}

func (t memTransport) PeersUp() int {
	t.net.mu.Lock()
	defer t.net.mu.Unlock()
	up := 0
	for id := range t.net.nodes {
		if id != t.from && !t.net.cut[id] && !t.net.cut[t.from] {
			up++
		}
	}
	return up
}

// testCluster is a raft cluster of engines on the in-memory doubles.
type testCluster struct {
	t     *testing.T
	g     *chain.Genesis
	net   *memNet
	ids   []string
	tune  func(*Config)
	txSeq int
}

// clusterOpts shape a test cluster: its size, each engine's config, and
// hooks that see every message sent and every committed entry applied.
type clusterOpts struct {
	size    int
	tune    func(*Config)
	onSend  func(from *testNode, m raftpb.Message)
	onApply func(n *testNode, index uint64)
}

// testNode is one member: its durable state (chain, log) outlives the
// engine, which stop and start replace.
type testNode struct {
	id    string
	chain *memChain
	log   *memLog
	pool  *mempool.Pool

	mu     sync.Mutex
	eng    *Engine
	cancel context.CancelFunc
	done   chan struct{} // closed when Run returned
	runErr error         // what it returned
}

func (n *testNode) running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.cancel != nil
}

func (n *testNode) engine() *Engine {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.eng
}

// newCluster starts a cluster of o.size nodes, node0 to node<size-1>.
func newCluster(t *testing.T, o clusterOpts) *testCluster {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c := &testCluster{t: t, tune: o.tune, net: &memNet{ctx: ctx, nodes: map[string]*testNode{}, cut: map[string]bool{},
		links: map[[2]string]chan delivery{}, onSend: o.onSend}}
	for i := range o.size {
		c.ids = append(c.ids, "node"+strconv.Itoa(i))
	}
	c.g = chain.DevGenesis(c.ids, time.Unix(1_700_000_000, 0))
	for _, id := range c.ids {
		n := &testNode{id: id, chain: newMemChain(c.g), log: newMemLog(), pool: mempool.New(10_000, noop.NewTracerProvider().Tracer(""))}
		if o.onApply != nil {
			n.chain.beforeApply = func(index uint64) { o.onApply(n, index) }
		}
		c.net.nodes[id] = n
	}
	t.Cleanup(func() {
		for _, id := range c.ids {
			_ = c.stop(id) // what a node's Run returned is for the test that stops it to check
		}
		cancel()
		c.net.started.Wait()
	})
	for _, id := range c.ids {
		c.start(id)
	}
	return c
}

func (c *testCluster) node(id string) *testNode { return c.net.nodes[id] }

// start runs a new engine on the node's durable state.
func (c *testCluster) start(id string) {
	c.t.Helper()
	n := c.node(id)
	cfg := DefaultConfig()
	cfg.NodeID, cfg.Genesis, cfg.State, cfg.Log, cfg.Pool = id, c.g, n.chain, n.log, n.pool
	cfg.Transport = memTransport{net: c.net, from: id}
	cfg.TickInterval = 10 * time.Millisecond
	if c.tune != nil {
		c.tune(&cfg)
	}
	e, err := New(cfg)
	require.NoError(c.t, err)
	ctx, cancel := context.WithCancel(c.net.ctx)
	done := make(chan struct{})
	n.mu.Lock()
	n.eng, n.cancel, n.done, n.runErr = e, cancel, done, nil
	n.mu.Unlock()
	go func() {
		err := e.Run(ctx)
		n.mu.Lock()
		n.runErr = err
		n.mu.Unlock()
		close(done)
	}()
}

// stop ends the node's engine and returns what Run returned.
func (c *testCluster) stop(id string) error {
	n := c.node(id)
	n.mu.Lock()
	cancel, done := n.cancel, n.done
	n.cancel = nil
	n.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	<-done
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.runErr
}

// waitStopped waits for the node's engine to stop by itself and returns
// what Run returned.
func (c *testCluster) waitStopped(id string) error {
	c.t.Helper()
	n := c.node(id)
	n.mu.Lock()
	done := n.done
	n.mu.Unlock()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		c.t.Fatalf("%s's engine did not stop", id)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.runErr
}

// setCut cuts a node off the network, or brings it back.
func (c *testCluster) setCut(id string, cut bool) {
	c.net.mu.Lock()
	c.net.cut[id] = cut
	c.net.mu.Unlock()
}

// leader waits until every running, connected node agrees on one leader.
func (c *testCluster) leader() string {
	c.t.Helper()
	var lead string
	require.Eventually(c.t, func() bool {
		lead = ""
		for _, id := range c.ids {
			n := c.node(id)
			if _, ok := c.net.reachable(id, id); !ok || !n.running() {
				continue
			}
			st := n.engine().Status()
			if st.Leader == "" || (lead != "" && st.Leader != lead) {
				return false
			}
			lead = st.Leader
		}
		return lead != ""
	}, 20*time.Second, 5*time.Millisecond, "no leader all agree on")
	return lead
}

// txs makes n distinct transfers.
func (c *testCluster) txs(n int) []chain.Tx {
	out := make([]chain.Tx, n)
	for i := range out {
		c.txSeq++
		out[i] = chain.Tx{From: "0xabc", To: "0xdef", Amount: 1, ID: "tx" + strconv.Itoa(c.txSeq)}
	}
	return out
}

// submit submits txs at node id and requires every one admitted.
func (c *testCluster) submit(id string, txs []chain.Tx) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i, err := range c.node(id).engine().Submit(ctx, txs) {
		require.NoError(c.t, err, "tx %d at %s", i, id)
	}
}

// waitCommitted waits until the given nodes' chains hold every one of txs
// and end at the same block.
func (c *testCluster) waitCommitted(txs []chain.Tx, ids ...string) {
	c.t.Helper()
	require.Eventually(c.t, func() bool {
		var head chain.Hash
		for i, id := range ids {
			ch := c.node(id).chain
			for j := range txs {
				if in, _ := ch.HasTx(txs[j].Hash()); !in {
					return false
				}
			}
			_, h := ch.Head()
			if i > 0 && h != head {
				return false
			}
			head = h
		}
		return true
	}, 20*time.Second, 5*time.Millisecond, "txs not committed on %v", ids)
}
