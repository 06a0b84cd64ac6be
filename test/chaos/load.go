//go:build integration

package chaos

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/chainotel/chainotel/internal/cluster"
)

// sourceAccounts are the dev genesis' funded accounts.
func sourceAccounts() []string { return []string{"0xabc", "0xdef", "0xa11ce", "0xb0b"} }

// targetAccounts start empty and only ever receive, so a target's balance is
// the sum of the transfers applied to it.
func targetAccounts() []string {
	return []string{"0xc4a050", "0xc4a051", "0xc4a052", "0xc4a053", "0xc4a054", "0xc4a055", "0xc4a056", "0xc4a057"}
}

// Load drives transfers and reads at every node from a few concurrent
// clients and records them in a History.
//
// Reads are of both kinds the API offers. A default read is linearizable
// (the node gets a read index from the leader and waits for its apply): it
// goes into porcupine's history as it is, at whichever node it was sent. A
// ?consistency=local read answers from the node's applied state at once and
// may be stale; CheckLocal checks what it promises instead.
//
// The suite once made local reads linearizable the way a client can: each
// waited until its node's height reached that of every receipt acknowledged
// before it began. That covers acknowledged writes only: a read at a node
// ahead could see a transfer whose receipt was still on its way, and a later
// read at a lagging node then missed it, which no linearizable order allows
// (the full suite's "linearizable: NO").
type Load struct {
	client  *cluster.Client
	nodes   []*cluster.Node
	hist    *History
	workers int

	barrier atomic.Uint64 // highest height of any receipt so far
	amounts atomic.Uint64 // the last amount sent: every transfer's is unique
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// NewLoad prepares workers concurrent clients over nodes.
func NewLoad(client *cluster.Client, nodes []*cluster.Node, hist *History, workers int) *Load {
	return &Load{client: client, nodes: nodes, hist: hist, workers: workers}
}

// Start runs the clients until Stop.
func (l *Load) Start(ctx context.Context) {
	ctx, l.cancel = context.WithCancel(ctx)
	for w := range l.workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			l.run(ctx, w)
		}()
	}
}

// Stop ends the clients and waits for their last answers.
func (l *Load) Stop() {
	if l.cancel != nil {
		l.cancel()
	}
	l.wg.Wait()
}

// Barrier is the highest height of any receipt so far: the height every
// node must reach before a fault's row is settled.
func (l *Load) Barrier() uint64 { return l.barrier.Load() }

func (l *Load) run(ctx context.Context, w int) {
	sources, targets := sourceAccounts(), targetAccounts()
	for i := 0; ctx.Err() == nil; i++ {
		n := l.nodes[randN(len(l.nodes))]
		target := targets[randN(len(targets))]
		switch i % 8 {
		case 3:
			l.read(ctx, w, n, target)
			continue
		case 7:
			l.localRead(ctx, n, target)
			continue
		}
		l.transfer(ctx, w, n, sources[w%len(sources)], target)
	}
}

// transfer sends one transfer with a fresh W3C trace context, so its trace can
// be found among the collector's kept traces.
func (l *Load) transfer(ctx context.Context, w int, n *cluster.Node, from, to string) {
	// A unique amount names the transfer in the chain, so the final checks
	// can tell whether a transfer of unknown outcome was applied (and once).
	amount := l.amounts.Add(1)
	traceID, parent := newTraceParent()
	call := l.hist.Now()
	var rc cluster.Receipt
	// Not ctx: a transfer in flight when the load stops still gets its
	// answer, so that no acknowledged transfer goes unrecorded.
	err := l.post(context.WithoutCancel(ctx), n.API+"/tx", parent,
		cluster.Tx{From: from, To: to, Amount: amount}, &rc)
	switch {
	case err == nil:
		raiseTo(&l.barrier, rc.Height)
		ret := l.hist.Now()
		l.hist.Transfer(w, to, amount, Ack{Hash: rc.TxHash, BlockHash: rc.BlockHash, Height: rc.Height, Node: n.ID,
			TraceID: traceID, Call: call, Return: ret})
	case errors.Is(err, syscall.ECONNREFUSED):
		// Nothing was sent: the node is down. Not an operation.
	case isClientError(err):
		l.hist.Rejected(fmt.Sprintf("%s: %v", n.ID, err))
	default:
		l.hist.TransferUnknown(w, to, amount, call)
	}
}

// read makes a linearizable read (the API's default) of account at n.
func (l *Load) read(ctx context.Context, w int, n *cluster.Node, account string) {
	call := l.hist.Now()
	balance, err := l.balance(ctx, n, account, "")
	if err != nil {
		return // a read that got no answer (503 without quorum) has no effect to record
	}
	l.hist.Read(w, account, balance, call, l.hist.Now())
}

// localRead makes a ?consistency=local read of account at n.
func (l *Load) localRead(ctx context.Context, n *cluster.Node, account string) {
	call := l.hist.Now()
	balance, err := l.balance(ctx, n, account, "?consistency=local")
	if err != nil {
		return
	}
	l.hist.LocalRead(n.ID, account, balance, call, l.hist.Now())
}

func (l *Load) balance(ctx context.Context, n *cluster.Node, account, query string) (uint64, error) {
	var acct struct {
		Balance uint64 `json:"balance"`
	}
	err := l.client.Do(ctx, http.MethodGet, n.API+"/accounts/"+account+query, nil, &acct)
	return acct.Balance, err
}

// ReadAll reads every target account at every node after the load stopped,
// linearizably and locally, so the history ends with the balances every node
// settled on.
func (l *Load) ReadAll(ctx context.Context) error {
	for _, n := range l.nodes {
		for _, a := range targetAccounts() {
			call := l.hist.Now()
			balance, err := l.balance(ctx, n, a, "")
			if err != nil {
				return fmt.Errorf("final read of %s at %s: %w", a, n.ID, err)
			}
			l.hist.Read(len(l.nodes)*l.workers, a, balance, call, l.hist.Now())
			call = l.hist.Now()
			if balance, err = l.balance(ctx, n, a, "?consistency=local"); err != nil {
				return fmt.Errorf("final local read of %s at %s: %w", a, n.ID, err)
			}
			l.hist.LocalRead(n.ID, a, balance, call, l.hist.Now())
		}
	}
	return nil
}

// post sends POST url with the body and a traceparent header.
func (l *Load) post(ctx context.Context, url, traceparent string, body, out any) error {
	return l.client.Do(withTraceParent(ctx, traceparent), http.MethodPost, url, body, out)
}

func isClientError(err error) bool {
	var he *cluster.HTTPError
	return errors.As(err, &he) && he.Status/100 == 4 && he.Status != http.StatusRequestTimeout &&
		he.Status != http.StatusTooManyRequests
}

func raiseTo(v *atomic.Uint64, h uint64) {
	for {
		cur := v.Load()
		if h <= cur || v.CompareAndSwap(cur, h) {
			return
		}
	}
}

// newTraceParent makes a sampled W3C trace context with random ids.
func newTraceParent() (traceID, header string) {
	var b [24]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	traceID = hex.EncodeToString(b[:16])
	return traceID, "00-" + traceID + "-" + hex.EncodeToString(b[16:]) + "-01"
}

func randN(n int) int {
	v, _ := rand.Int(rand.Reader, big.NewInt(int64(n)))
	return int(v.Int64())
}
