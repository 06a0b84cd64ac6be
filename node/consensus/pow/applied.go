package pow

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/chainotel/chainotel/node/chain"
	"github.com/chainotel/chainotel/node/consensus"
	"github.com/chainotel/chainotel/semconv"
)

// maxLinks bounds the span links a block.apply span carries to the traces
// of its transactions.
const maxLinks = 32

// applied records that b joined the best chain, as every engine does: a
// block.apply span linked to its transactions' traces and a "block applied"
// log (event.name lets the collector's chainenrich move its chain head).
// Then it tells the API.
func (e *Engine) applied(ctx context.Context, b *chain.Block) {
	hash := b.Hash()
	ctx, span := e.tracer.Start(ctx, semconv.SpanBlockApply, trace.WithLinks(consensus.TxLinks(b.Txs, maxLinks)...), trace.WithAttributes(
		attribute.Int64(semconv.BlockHeightKey, int64(b.Header.Height)),
		attribute.Int64(semconv.HeadHeightKey, int64(b.Header.Height)), // b has just joined the best chain
		attribute.String(semconv.BlockHashKey, hash.String()),
		attribute.String(semconv.StateRootKey, b.Header.StateRoot.String()),
		attribute.Int(semconv.BlockTxCountKey, len(b.Txs))))
	e.log.InfoContext(ctx, "block applied", semconv.EventNameKey, semconv.SpanBlockApply,
		semconv.BlockHeightKey, b.Header.Height, semconv.BlockHashKey, hash.String(),
		semconv.StateRootKey, b.Header.StateRoot.String(), semconv.BlockTxCountKey, len(b.Txs),
		semconv.PoWDifficultyKey, b.Header.Difficulty, "proposer", b.Header.Proposer)
	span.End()
	e.cfg.OnApplied(b)
}
