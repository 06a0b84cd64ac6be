package pow

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/chainotel/chainotel/node/chain"
	"github.com/chainotel/chainotel/semconv"
)

// errStorage marks errors of the store, which stop the engine.
var errStorage = errors.New("storage")

func isFatal(err error) bool { return errors.Is(err, errStorage) }

// Fork-choice outcomes (pow.fork_choice).
const (
	outcomeExtend    = "extend"    // the block extends the best chain
	outcomeReorg     = "reorg"     // the block's branch became the best chain
	outcomeSide      = "side"      // kept on a lighter branch
	outcomeDuplicate = "duplicate" // already known
	outcomeOrphan    = "orphan"    // parent unknown: sync first
	outcomeInvalid   = "invalid"   // refused
)

// accept runs a block through the checks and fork choice: a block that
// makes a branch heavier than the best chain makes that branch the best
// chain (its state applied, the old branch's rolled back, atomically);
// a lighter one is kept for later. from is the peer it came from, "" for
// this node's miner.
func (e *Engine) accept(ctx context.Context, b *chain.Block, from string, relay bool) (err error) {
	hash := b.Hash()
	ctx, span := e.tracer.Start(ctx, semconv.SpanPoWBlock, trace.WithAttributes(
		attribute.Int64(semconv.BlockHeightKey, int64(b.Header.Height)),
		attribute.String(semconv.BlockHashKey, hash.String()),
		attribute.Int64(semconv.PoWDifficultyKey, int64(b.Header.Difficulty)),
		attribute.Int(semconv.BlockTxCountKey, len(b.Txs))))
	if from != "" {
		span.SetAttributes(attribute.String(semconv.PeerIDKey, from))
	}
	outcome := outcomeInvalid
	defer func() {
		span.SetAttributes(attribute.String(semconv.PoWForkChoiceKey, outcome),
			attribute.Int64(semconv.HeadHeightKey, int64(e.tree.head().hdr.Height)))
		e.metrics.received.WithLabelValues(outcome).Inc()
		if err != nil && !errors.Is(err, ErrUnknownParent) {
			span.SetStatus(codes.Error, err.Error())
			if errors.Is(err, chain.ErrInvalidBlock) {
				span.SetAttributes(attribute.String(semconv.ErrorTypeKey, semconv.ErrorValidation))
			}
		}
		span.End()
	}()
	if e.tree.get(hash) != nil {
		outcome = outcomeDuplicate
		return nil
	}
	parent := e.tree.get(b.Header.Parent)
	if parent == nil {
		outcome = outcomeOrphan
		return fmt.Errorf("block %d (%s): %w", b.Header.Height, hash, ErrUnknownParent)
	}
	if err := e.check(parent, b); err != nil {
		return err
	}
	cand := &node{hdr: b.Header, hash: hash, parent: parent, work: parent.work + b.Header.Difficulty}
	span.SetAttributes(attribute.Int64(semconv.PoWTotalWorkKey, int64(cand.work)))
	best := e.tree.head()
	if !heavier(cand, best) {
		if err := e.checkSide(ctx, cand, best, b); err != nil {
			return err
		}
		if err := e.blocks.put(b, cand.work); err != nil {
			return fmt.Errorf("%w: %w", errStorage, err)
		}
		if _, err := e.tree.add(b.Header, hash); err != nil {
			return err
		}
		outcome = outcomeSide
		return nil
	}
	abandoned, err := e.switchTo(ctx, cand, best, b)
	if err != nil {
		return err
	}
	outcome = outcomeExtend
	if len(abandoned) > 0 {
		outcome = outcomeReorg
	}
	if relay {
		e.announce(ctx, b, from)
	}
	if err := e.afterTipChange(ctx, abandoned); err != nil {
		return err
	}
	e.publish()
	return nil
}

// check is everything a block is checked for before its state is run.
func (e *Engine) check(parent *node, b *chain.Block) error {
	d, err := nextDifficulty(e.pow, parent)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadDifficulty, err)
	}
	if err := CheckHeader(e.pow, e.cfg.Genesis.ChainID, &parent.hdr, &b.Header, d, time.Now()); err != nil {
		return err
	}
	return CheckTxs(e.params, e.cfg.Genesis.ChainID, b)
}

// branchTo is the blocks (with their cumulative work) from the point where
// cand's branch leaves best's up to cand, whose block is b, and that point.
func (e *Engine) branchTo(cand, best *node, b *chain.Block) (*node, []*chain.Block, []uint64, error) {
	fork := forkPoint(cand.parent, best)
	if fork == nil {
		return nil, nil, nil, fmt.Errorf("%w: block %d shares no ancestor with the best chain", chain.ErrInvalidBlock, b.Header.Height)
	}
	if depth := best.hdr.Height - fork.hdr.Height; depth > e.cfg.MaxReorgDepth {
		return nil, nil, nil, fmt.Errorf("%w: the branch of block %d forks %d blocks back, at most %d",
			ErrReorgTooDeep, b.Header.Height, depth, e.cfg.MaxReorgDepth)
	}
	nodes := branch(fork, cand.parent)
	blocks := make([]*chain.Block, 0, len(nodes)+1)
	works := make([]uint64, 0, len(nodes)+1)
	for _, n := range nodes {
		body, err := e.blocks.block(n.hash)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("%w: read branch block %d: %w", errStorage, n.hdr.Height, err)
		}
		blocks, works = append(blocks, body), append(works, n.work)
	}
	return fork, append(blocks, b), append(works, cand.work), nil
}

// checkSide checks a block of a branch lighter than the best chain against
// that branch's own state (the store runs the branch and throws it away),
// so a block is only kept once fully checked.
func (e *Engine) checkSide(ctx context.Context, cand, best *node, b *chain.Block) error {
	fork, blocks, _, err := e.branchTo(cand, best, b)
	if err != nil {
		return err
	}
	err = e.blocks.checkBranch(ctx, e.params, fork.hdr.Height, blocks)
	if err != nil && !errors.Is(err, chain.ErrInvalidBlock) && ctx.Err() == nil {
		return fmt.Errorf("%w: %w", errStorage, err)
	}
	return err
}

// switchTo makes cand's branch (cand's block is b) the best chain, rolling
// back the blocks of best's branch above the fork point, and returns them.
func (e *Engine) switchTo(ctx context.Context, cand, best *node, b *chain.Block) ([]*chain.Block, error) {
	fork, blocks, works, err := e.branchTo(cand, best, b)
	if err != nil {
		return nil, err
	}
	depth := best.hdr.Height - fork.hdr.Height

	var span trace.Span
	if depth > 0 {
		ctx, span = e.tracer.Start(ctx, semconv.SpanPoWReorg, trace.WithAttributes(
			attribute.Int64(semconv.PoWReorgDepthKey, int64(depth)),
			attribute.Int64(semconv.BlockHeightKey, int64(fork.hdr.Height)),
			attribute.String(semconv.BlockHashKey, fork.hash.String())))
		defer span.End()
	}
	abandoned, err := e.blocks.applyBranch(ctx, e.params, fork.hdr.Height, blocks, works)
	if err != nil {
		if span != nil {
			span.SetStatus(codes.Error, err.Error())
		}
		if errors.Is(err, chain.ErrInvalidBlock) || ctx.Err() != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %w", errStorage, err)
	}
	n, err := e.tree.add(b.Header, cand.hash)
	if err != nil {
		return nil, err
	}
	e.tree.setBest(n)
	if depth > 0 {
		e.reorgs.Add(1)
		e.metrics.reorgDepth.Observe(float64(depth))
		e.log.Info("reorganised onto a heavier branch", "depth", depth, "fork_height", fork.hdr.Height,
			semconv.BlockHeightKey, n.hdr.Height, semconv.BlockHashKey, n.hash.String(), "total_work", n.work,
			"abandoned_txs", countTxs(abandoned))
	}
	for _, blk := range blocks {
		e.applied(ctx, blk)
	}
	return abandoned, nil
}

// afterTipChange re-checks the mempool against the new head: the
// transactions of abandoned blocks come back first, then those of the
// mining template and the queue, in order; the ones now in the chain or no
// longer valid drop out. Then mining restarts on the new head.
func (e *Engine) afterTipChange(ctx context.Context, abandoned []*chain.Block) error {
	var carry []chain.Tx
	for _, b := range abandoned {
		carry = append(carry, b.Txs...)
	}
	carry = append(carry, e.stopJob()...)
	carry = append(carry, e.cfg.Pool.Drain()...)
	readded := 0
	for i := range carry {
		h := carry[i].Hash()
		if in, err := e.cfg.Store.HasTx(h); err != nil {
			return fmt.Errorf("%w: %w", errStorage, err)
		} else if in {
			continue
		}
		if err := e.cfg.Pool.Add(ctx, carry[i], h, e.cfg.Store, e.params); err == nil {
			readded++
		}
	}
	if len(abandoned) > 0 {
		e.log.Info("transactions of abandoned blocks returned to the mempool", "txs", countTxs(abandoned), "pending", readded)
	}
	return e.restartMining(true)
}

// announce gossips a block that joined the best chain to every peer but the
// one it came from.
func (e *Engine) announce(ctx context.Context, b *chain.Block, from string) {
	for _, peer := range e.cfg.Transport.Known() {
		if peer == from {
			continue
		}
		e.sendAsync(ctx, "pow.announce", func(ctx context.Context) error {
			return e.cfg.Transport.Announce(ctx, peer, b)
		})
	}
}

func countTxs(blocks []*chain.Block) int {
	n := 0
	for _, b := range blocks {
		n += len(b.Txs)
	}
	return n
}
