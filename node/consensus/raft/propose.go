package raft

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/chainotel/chainotel/node/chain"
	"github.com/chainotel/chainotel/semconv"
)

// maxLinks bounds the span links a block's spans carry to the traces of its
// transactions.
const maxLinks = 64

// proposer is the leader's block cutter; its state belongs to proposeLoop.
type proposer struct {
	inflight *chain.Block // proposed, not yet seen applied
	since    time.Time
}

// proposeLoop cuts a block when this node leads, no block of its own is in
// flight, it applied everything committed before its term, and either a full
// block is queued or the oldest queued transaction waited BlockInterval.
func (e *Engine) proposeLoop(ctx context.Context) {
	var p proposer
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-e.cfg.Pool.Ready():
		case <-e.appliedCh:
		case <-timer.C:
		case <-e.leaderWatch():
		}
		e.resolve(&p)
		if !e.isLeader() {
			continue
		}
		if p.inflight != nil {
			timer.Reset(e.cfg.ProposalTimeout)
			continue
		}
		if e.cfg.Store.AppliedIndex() < e.termStart.Load() {
			continue // appliedCh wakes us as the backlog applies
		}
		queued, age := e.cfg.Pool.Queued()
		if queued == 0 {
			continue
		}
		if wait := e.params.BlockInterval.Duration - age; queued < e.params.BlockMaxTxs && wait > 0 {
			timer.Reset(wait)
			continue
		}
		e.cut(ctx, &p)
		timer.Reset(e.cfg.ProposalTimeout)
	}
}

// resolve settles the block in flight: applied (its txs were released by
// Settle), superseded by another block at its height, or given up on.
func (e *Engine) resolve(p *proposer) {
	if p.inflight == nil {
		return
	}
	head, hash := e.cfg.Store.Head()
	h := p.inflight.Header.Height
	switch {
	case head.Height >= h:
		if head.Height == h && hash == p.inflight.Hash() {
			break
		}
		if b, err := e.cfg.Store.BlockByHeight(h); err == nil && b.Hash() == p.inflight.Hash() {
			break
		}
		e.log.Warn("proposed block superseded", "height", h, "txs", len(p.inflight.Txs))
		e.cfg.Pool.Release(p.inflight.Txs)
	case !e.isLeader() || time.Since(p.since) > e.cfg.ProposalTimeout:
		e.log.Warn("proposed block not committed, giving up", "height", h, "txs", len(p.inflight.Txs),
			"leader", e.isLeader(), semconv.ErrorTypeKey, semconv.ErrorConsensusTimeout)
		e.cfg.Pool.Release(p.inflight.Txs)
	default:
		return
	}
	p.inflight = nil
}

// cut takes queued transactions, builds the next block on the applied head
// and proposes it as one raft entry.
func (e *Engine) cut(ctx context.Context, p *proposer) {
	txs := e.cfg.Pool.Take(e.params.BlockMaxTxs, e.params.BlockMaxBytes)
	head, hash := e.cfg.Store.Head()
	ctx, span := e.tracer.Start(ctx, semconv.SpanConsensusPropose, trace.WithLinks(txLinks(txs)...), trace.WithAttributes(
		attribute.Int64(semconv.BlockHeightKey, int64(head.Height+1)),
		attribute.Int64(semconv.ConsensusTermKey, int64(e.term.Load()))))
	defer span.End()
	b, rejected, err := chain.BuildBlock(e.params, e.cfg.Store, head, hash, txs, e.cfg.NodeID, time.Now())
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
		e.log.Error("build block", "height", head.Height+1, "err", err, semconv.ErrorTypeKey, semconv.ErrorStorage)
		e.cfg.Pool.Release(txs)
		return
	}
	for _, r := range rejected {
		e.log.Warn("transaction dropped at block building", semconv.TxHashKey, r.Tx.Hash().String(), "err", r.Err)
		e.cfg.Pool.Release([]chain.Tx{r.Tx})
	}
	span.SetAttributes(attribute.Int(semconv.BlockTxCountKey, len(b.Txs)))
	if len(b.Txs) == 0 {
		return
	}
	data, err := b.MarshalBinary()
	if err == nil {
		np := e.node.Load()
		err = (*np).Propose(ctx, data)
	}
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
		e.log.Warn("propose block", "height", b.Header.Height, "err", err)
		e.cfg.Pool.Release(b.Txs)
		return
	}
	p.inflight, p.since = b, time.Now()
}

// txLinks links a block's spans to the traces its transactions came from.
func txLinks(txs []chain.Tx) []trace.Link {
	var links []trace.Link
	prop := propagation.TraceContext{}
	for i := range txs {
		if len(links) == maxLinks {
			break
		}
		if txs[i].TraceParent == "" {
			continue
		}
		ctx := prop.Extract(context.Background(), propagation.MapCarrier{"traceparent": txs[i].TraceParent})
		if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
			links = append(links, trace.Link{SpanContext: sc})
		}
	}
	return links
}
