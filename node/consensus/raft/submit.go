package raft

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/chainotel/chainotel/node/chain"
	"github.com/chainotel/chainotel/node/consensus"
	"github.com/chainotel/chainotel/node/mempool"
)

// forwardTimeout bounds one forward call to the leader.
const forwardTimeout = 5 * time.Second

// Submit's pauses between tries while no leader accepts its transactions.
const (
	submitRetryMin = 20 * time.Millisecond
	submitRetryMax = 500 * time.Millisecond
)

// Submit admits txs on the leader: directly when this node leads, else by
// forwarding them. While there is no leader, or the one it knew stepped down,
// it waits for the next and tries again, until ctx ends.
//
// A follower may hear of a new leader (from its heartbeats) before the leader
// has processed its own election, and a forward may fail on a connection
// still being made: then no leader change is coming to wake it, so it also
// retries after a short, growing pause.
//
// A forward that failed in transit may have reached the leader all the same,
// so once one has, a later try that finds a transaction already pending or
// committed finds that same submission, not a duplicate: it is admitted, and
// the caller hears of its commit as usual.
func (e *Engine) Submit(ctx context.Context, txs []chain.Tx) []error {
	retry := submitRetryMin
	unsure := false // an earlier forward's outcome is unknown
	for {
		lead := e.leader.Load()
		watch := e.leaderWatch()
		if lead == e.id {
			return ownDuplicates(e.Admit(ctx, txs), unsure)
		}
		if lead != 0 {
			errs, err := e.forward(ctx, e.names[lead], txs)
			if err == nil && !allNotLeader(errs) {
				return ownDuplicates(errs, unsure)
			}
			unsure = unsure || err != nil
		}
		pause := time.NewTimer(retry)
		retry = min(2*retry, submitRetryMax)
		select {
		case <-watch:
			pause.Stop()
		case <-pause.C:
		case <-ctx.Done():
			pause.Stop()
			return repeat(len(txs), fmt.Errorf("%w: no leader accepted the transaction in time", consensus.ErrNoQuorum))
		}
	}
}

// Admit puts txs into the leader's mempool; a node that does not lead
// answers consensus.ErrNotLeader for each.
func (e *Engine) Admit(ctx context.Context, txs []chain.Tx) []error {
	if !e.isLeader() {
		return repeat(len(txs), consensus.ErrNotLeader)
	}
	errs := make([]error, len(txs))
	traced := make(map[string]bool)
	for i := range txs {
		tx := &txs[i]
		tp := tx.TraceParent
		switch {
		case tp != "" && traced[tp]:
			// Another tx of the same request (a POST /txs batch): one
			// traced admission per request is enough.
			errs[i] = e.cfg.Pool.AddUntraced(*tx, tx.Hash(), e.cfg.State, e.params)
		case tp != "" && len(txs) > 1:
			// A forward call coalesces the txs of many requests: each one's
			// admission joins the trace of the request that submitted it.
			traced[tp] = true
			tctx := ctx
			if sc, ok := consensus.ParseTraceParent(tp); ok {
				tctx = trace.ContextWithRemoteSpanContext(ctx, sc)
			}
			errs[i] = e.cfg.Pool.Add(tctx, *tx, tx.Hash(), e.cfg.State, e.params)
		default:
			traced[tp] = true
			errs[i] = e.cfg.Pool.Add(ctx, *tx, tx.Hash(), e.cfg.State, e.params)
		}
	}
	return errs
}

// ownDuplicates clears the duplicate errors of a retry after a forward of
// unknown outcome (unsure): those transactions are pending or committed
// because the earlier try reached the leader.
func ownDuplicates(errs []error, unsure bool) []error {
	if !unsure {
		return errs
	}
	for i, err := range errs {
		if errors.Is(err, mempool.ErrDuplicate) {
			errs[i] = nil
		}
	}
	return errs
}

func allNotLeader(errs []error) bool {
	for _, err := range errs {
		if !errors.Is(err, consensus.ErrNotLeader) {
			return false
		}
	}
	return len(errs) > 0
}

func repeat(n int, err error) []error {
	out := make([]error, n)
	for i := range out {
		out[i] = err
	}
	return out
}

// fwdReq is one caller's transactions waiting to be forwarded; forwarders
// coalesce many into one call.
type fwdReq struct {
	ctx  context.Context
	to   string
	txs  []chain.Tx
	done chan fwdResp
}

type fwdResp struct {
	errs []error
	err  error
}

func (e *Engine) forward(ctx context.Context, to string, txs []chain.Tx) ([]error, error) {
	req := &fwdReq{ctx: ctx, to: to, txs: txs, done: make(chan fwdResp, 1)}
	select {
	case e.fwd <- req:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case r := <-req.done:
		return r.errs, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// forwardLoop sends queued forward requests to the leader, as many as are
// waiting (up to ForwardBatch txs) in one call.
func (e *Engine) forwardLoop(ctx context.Context) {
	var carry *fwdReq // a request for another leader, kept for the next batch
	for {
		first := carry
		carry = nil
		if first == nil {
			select {
			case first = <-e.fwd:
			case <-ctx.Done():
				return
			}
		}
		batch := []*fwdReq{first}
		n := len(first.txs)
	fill:
		for n < e.cfg.ForwardBatch {
			select {
			case r := <-e.fwd:
				if r.to != first.to {
					carry = r
					break fill
				}
				batch = append(batch, r)
				n += len(r.txs)
			default:
				break fill
			}
		}
		e.sendBatch(ctx, batch, n)
	}
}

func (e *Engine) sendBatch(ctx context.Context, batch []*fwdReq, n int) {
	all := make([]chain.Tx, 0, n)
	for _, r := range batch {
		all = append(all, r.txs...)
	}
	// The call carries the first caller's trace; every tx carries its own.
	callCtx := trace.ContextWithSpanContext(ctx, trace.SpanContextFromContext(batch[0].ctx))
	callCtx, cancel := context.WithTimeout(callCtx, forwardTimeout)
	errs, err := e.cfg.Transport.Forward(callCtx, batch[0].to, all)
	cancel()
	if err == nil && len(errs) != len(all) {
		err = fmt.Errorf("forward to %s: %d answers for %d txs", batch[0].to, len(errs), len(all))
	}
	off := 0
	for _, r := range batch {
		resp := fwdResp{err: err}
		if err == nil {
			resp.errs = errs[off : off+len(r.txs)]
		}
		off += len(r.txs)
		r.done <- resp
	}
	if err != nil {
		e.log.Warn("forward to leader failed", "leader", batch[0].to, "txs", n, "err", err)
	}
}
