package raft

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/chainotel/chainotel/node/chain"
	"github.com/chainotel/chainotel/node/consensus"
	"github.com/chainotel/chainotel/semconv"
)

// maxLinks bounds the span links a block's spans carry to the traces of its
// transactions.
const maxLinks = 64

// proposer is the leader's block cutter; its state belongs to proposeLoop.
// It keeps up to MaxInflight proposed blocks in flight, each built on the
// state the ones before it will leave (their changes layered over the
// store), so the raft pipeline stays full while earlier blocks commit.
type proposer struct {
	inflight []*inflightBlock // proposed, not yet seen applied; oldest first
}

type inflightBlock struct {
	block   *chain.Block
	hash    chain.Hash
	changes map[string]chain.Account
	since   time.Time
}

// proposeLoop cuts a block when this node leads, fewer than MaxInflight of
// its blocks are in flight, it applied everything committed before its term,
// and either a full block is queued or the oldest queued transaction waited
// BlockInterval.
func (e *Engine) proposeLoop(ctx context.Context) {
	var p proposer
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	defer func() { e.dropInflight(&p, "proposer stopped", false) }()
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
		if len(p.inflight) > 0 {
			timer.Reset(e.cfg.ProposalTimeout)
		}
		for len(p.inflight) < e.cfg.MaxInflight && e.cfg.State.AppliedIndex() >= e.termStart.Load() {
			queued, age := e.cfg.Pool.Queued()
			if queued == 0 {
				break
			}
			if wait := e.params.BlockInterval.Duration - age; queued < e.params.BlockMaxTxs && wait > 0 {
				timer.Reset(wait)
				break
			}
			if !e.cut(ctx, &p) {
				break
			}
			timer.Reset(e.cfg.ProposalTimeout)
		}
	}
}

// resolve retires the in-flight blocks the store has applied, and gives up
// on all of them when one was superseded by another block at its height, the
// node stopped leading, or the oldest waited ProposalTimeout.
func (e *Engine) resolve(p *proposer) {
	head, hash := e.cfg.State.Head()
	for len(p.inflight) > 0 && p.inflight[0].block.Header.Height <= head.Height {
		ib := p.inflight[0]
		got := hash
		if h := ib.block.Header.Height; h != head.Height {
			b, err := e.cfg.State.BlockByHeight(h)
			if err != nil {
				e.dropInflight(p, "cannot read the committed block: "+err.Error(), false)
				return
			}
			got = b.Hash()
		}
		if got != ib.hash {
			e.dropInflight(p, "superseded by another block at its height", false)
			return
		}
		p.inflight = p.inflight[1:]
	}
	switch {
	case len(p.inflight) == 0:
	case !e.isLeader():
		e.dropInflight(p, "lost the leadership", true)
	case time.Since(p.inflight[0].since) > e.cfg.ProposalTimeout:
		e.dropInflight(p, "not committed within the proposal timeout", true)
	}
}

// dropInflight forgets the blocks in flight and releases their transactions
// from the pool's accounting (a block that still commits applies anyway).
// A failure (timeout, lost leadership, not a shutdown) is a consensus_timeout
// error span and error log.
func (e *Engine) dropInflight(p *proposer, why string, failure bool) {
	if len(p.inflight) == 0 {
		return
	}
	txs := 0
	for _, ib := range p.inflight {
		txs += len(ib.block.Txs)
		e.cfg.Pool.Release(ib.block.Txs)
	}
	from := p.inflight[0].block.Header.Height
	if !failure {
		e.log.Warn("giving up on proposed blocks", "reason", why, "blocks", len(p.inflight), "txs", txs, "from_height", from)
		p.inflight = nil
		return
	}
	head, _ := e.cfg.State.Head()
	ctx, span := e.tracer.Start(context.Background(), semconv.SpanConsensusTimeout, trace.WithAttributes(
		attribute.String(semconv.ErrorTypeKey, semconv.ErrorConsensusTimeout),
		attribute.Int64(semconv.BlockHeightKey, int64(from)),
		attribute.Int64(semconv.HeadHeightKey, int64(head.Height)),
		attribute.Int64(semconv.ConsensusTermKey, int64(e.term.Load())),
		attribute.String(semconv.ConsensusValidatorKey, e.cfg.NodeID)))
	span.SetStatus(codes.Error, why)
	span.End()
	e.log.ErrorContext(ctx, "giving up on proposed blocks", "reason", why, "blocks", len(p.inflight), "txs", txs,
		"from_height", from, semconv.ErrorTypeKey, semconv.ErrorConsensusTimeout, semconv.ExceptionMessageKey, why)
	p.inflight = nil
}

// cut takes queued transactions, builds the next block on the tip (the last
// block in flight, else the applied head) and proposes it as one raft entry.
// It reports whether a block was proposed.
func (e *Engine) cut(ctx context.Context, p *proposer) bool {
	txs := e.cfg.Pool.Take(e.params.BlockMaxTxs, e.params.BlockMaxBytes)
	tip, tipHash := e.cfg.State.Head()
	head := tip.Height
	state := chain.Overlay{Base: e.cfg.State}
	if n := len(p.inflight); n > 0 {
		tip, tipHash = p.inflight[n-1].block.Header, p.inflight[n-1].hash
		for _, ib := range p.inflight {
			state.Layers = append(state.Layers, ib.changes)
		}
	}
	ctx, span := e.tracer.Start(ctx, semconv.SpanConsensusPropose, trace.WithLinks(consensus.TxLinks(txs, maxLinks)...), trace.WithAttributes(
		attribute.Int64(semconv.BlockHeightKey, int64(tip.Height+1)),
		attribute.Int64(semconv.HeadHeightKey, int64(head)),
		attribute.Int64(semconv.ConsensusTermKey, int64(e.term.Load()))))
	defer span.End()
	b, changes, rejected, err := chain.BuildBlockChanges(e.params, state, tip, tipHash, txs, e.cfg.NodeID, time.Now())
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
		e.log.Error("build block", "height", tip.Height+1, "err", err, semconv.ErrorTypeKey, semconv.ErrorStorage)
		e.cfg.Pool.Release(txs)
		return false
	}
	for _, r := range rejected {
		e.log.Warn("transaction dropped at block building", semconv.TxHashKey, r.Tx.Hash().String(), "err", r.Err)
		e.cfg.Pool.Release([]chain.Tx{r.Tx})
	}
	span.SetAttributes(attribute.Int(semconv.BlockTxCountKey, len(b.Txs)))
	if len(b.Txs) == 0 {
		return false
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
		return false
	}
	p.inflight = append(p.inflight, &inflightBlock{block: b, hash: b.Hash(), changes: changes, since: time.Now()})
	return true
}
