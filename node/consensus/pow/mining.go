package pow

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/chainotel/chainotel/node/chain"
	"github.com/chainotel/chainotel/semconv"
)

// job is the block being mined: a template on the best chain's head, and the
// search for its nonce running in the background.
type job struct {
	template *chain.Block
	cancel   context.CancelFunc
	done     chan struct{}     // closed when the search returned
	found    chan chain.Header // the sealed header, when the search succeeded
	pending  bool              // transactions arrived since it started
}

// minedCh is where the current job reports a sealed header; nil (never
// ready) while nothing is mined.
func (e *Engine) minedCh() <-chan chain.Header {
	if e.job == nil {
		return nil
	}
	return e.job.found
}

// stopJob stops the search, if one runs, and returns the transactions its
// template took from the mempool.
func (e *Engine) stopJob() []chain.Tx {
	if e.job == nil {
		return nil
	}
	e.job.cancel()
	<-e.job.done
	txs := e.job.template.Txs
	e.job = nil
	return txs
}

// restartMining builds a new template on the head, with the current
// template's transactions (still valid: the head did not change) and more
// from the mempool, and starts searching for its nonce.
func (e *Engine) restartMining(afterTipChange bool) error {
	var carried []chain.Tx
	if !afterTipChange {
		carried = e.stopJob()
	}
	if e.cfg.Disabled {
		e.cfg.Pool.Release(carried)
		return nil
	}
	txs := append(carried, e.cfg.Pool.Take(max(e.params.BlockMaxTxs-len(carried), 0), e.params.BlockMaxBytes)...)
	head := e.tree.head()
	d, err := nextDifficulty(e.pow, head)
	if err != nil {
		e.cfg.Pool.Release(txs)
		return fmt.Errorf("pow: difficulty after block %d: %w", head.hdr.Height, err)
	}
	now := time.Now()
	b, _, rejected, err := chain.BuildBlockChanges(e.params, e.cfg.Store, head.hdr, head.hash, txs, e.cfg.NodeID, now)
	if err != nil {
		e.cfg.Pool.Release(txs)
		return fmt.Errorf("pow: build block %d: %w: %w", head.hdr.Height+1, errStorage, err)
	}
	for _, r := range rejected {
		e.log.Debug("transaction left out of the mined block", semconv.TxHashKey, r.Tx.Hash().String(), "err", r.Err)
		e.cfg.Pool.Release([]chain.Tx{r.Tx})
	}
	b.Header.Difficulty = d
	b.Header.Time = max(now.UnixNano(), head.hdr.Time+1)
	e.startJob(b)
	return nil
}

func (e *Engine) startJob(b *chain.Block) {
	jctx, cancel := context.WithCancel(e.runCtx)
	j := &job{template: b, cancel: cancel, done: make(chan struct{}), found: make(chan chain.Header, 1)}
	e.job = j
	jctx, span := e.tracer.Start(jctx, semconv.SpanPoWMine, trace.WithAttributes(
		attribute.Int64(semconv.BlockHeightKey, int64(b.Header.Height)),
		attribute.Int64(semconv.HeadHeightKey, int64(b.Header.Height)-1), // the head it mines on
		attribute.Int64(semconv.PoWDifficultyKey, int64(b.Header.Difficulty)),
		attribute.Int(semconv.BlockTxCountKey, len(b.Txs))))
	e.cfg.Go.Start(jctx, nil, "pow.mine", func(ctx context.Context) {
		defer close(j.done)
		hdr, attempts, ok := e.miner.Mine(ctx, b.Header)
		span.SetAttributes(attribute.Int64(semconv.PoWAttemptsKey, int64(attempts)), attribute.Bool(semconv.PoWFoundKey, ok))
		if ok {
			span.SetAttributes(attribute.String(semconv.BlockHashKey, hdr.Hash().String()))
			j.found <- hdr
		}
		span.End()
	})
}

// minedBlock takes a sealed header from the current job and offers the
// block to fork choice like any other.
func (e *Engine) minedBlock(ctx context.Context, hdr chain.Header) error {
	mined := e.job
	b := &chain.Block{Header: hdr, Txs: mined.template.Txs}
	e.metrics.mined.Inc()
	err := e.accept(ctx, b, "", true)
	if isFatal(err) {
		return err
	}
	if err != nil {
		// This node's own block failed its own checks: a bug, not a peer's.
		e.log.Error("mined block refused", semconv.BlockHeightKey, hdr.Height, "err", err)
	}
	if e.job == mined {
		// The head did not move (the block was refused, or lost a tie to a
		// block of equal work): mine again on the same head.
		return e.restartMining(false)
	}
	return nil
}
