package pow

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/chainotel/chainotel/node/chain"
	"github.com/chainotel/chainotel/semconv"
)

// syncProtocol names how blocks are fetched, for the sync.protocol attribute.
const syncProtocol = "grpc-fetch"

// syncRequest asks to catch up with peer, which has a block at height.
type syncRequest struct {
	peer   string
	height uint64
}

// Receive is a block a peer gossiped (the p2p server calls it). A block
// whose parent is unknown starts a sync from that peer; an invalid one
// counts against the peer, which is ignored for a while after BanAfter of
// them.
func (e *Engine) Receive(ctx context.Context, from string, b *chain.Block) error {
	if e.isBanned(from) {
		return fmt.Errorf("%w: %s", ErrPeerBanned, from)
	}
	err := e.submit(ctx, b, from, true)
	switch {
	case errors.Is(err, ErrUnknownParent):
		e.requestSync(from, b.Header.Height)
		return nil
	case errors.Is(err, chain.ErrInvalidBlock):
		e.penalise(from, b, err)
	}
	return err
}

// submit hands a block to the loop and waits for its verdict.
func (e *Engine) submit(ctx context.Context, b *chain.Block, from string, relay bool) error {
	if !e.running.Load() {
		return ErrStopped
	}
	in := inbound{ctx: ctx, block: b, from: from, relay: relay, result: make(chan error, 1)}
	select {
	case e.inbox <- in:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-in.result:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (e *Engine) requestSync(peer string, height uint64) {
	select {
	case e.syncReq <- syncRequest{peer: peer, height: height}:
	default: // a sync is queued already; gossip will ask again
	}
}

func (e *Engine) syncLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case r := <-e.syncReq:
			if !slices.Contains(e.cfg.Transport.Known(), r.peer) {
				// Its block came in before its hello: the next one will ask again.
				e.log.Debug("sync deferred: peer not introduced yet", semconv.PeerIDKey, r.peer)
				continue
			}
			if err := e.syncFrom(ctx, r.peer, r.height); err != nil && ctx.Err() == nil {
				e.log.Warn("sync failed", semconv.PeerIDKey, r.peer, "target_height", r.height, "err", err)
			}
		}
	}
}

// syncFrom fetches peer's best chain in ranges up to height and runs each
// block through fork choice. It starts above this node's head and, while the
// first fetched block's parent is unknown (the peer is on another branch),
// steps back, doubling the step, until it finds the fork point.
func (e *Engine) syncFrom(ctx context.Context, peer string, height uint64) error {
	head := e.tree.head().hdr.Height
	from, step := min(head+1, height), uint64(1)
	for from <= height {
		to := min(from+e.cfg.SyncRange-1, height)
		blocks, err := e.fetch(ctx, peer, from, to)
		if err != nil {
			return err
		}
		if e.tree.get(blocks[0].Header.Parent) == nil {
			if from <= 1 || head+1-from >= e.cfg.MaxReorgDepth {
				return fmt.Errorf("%w: no common block with %s within %d blocks of height %d", ErrReorgTooDeep, peer, head+1-from, head)
			}
			from -= min(step, from-1)
			step *= 2
			continue
		}
		last, err := e.applyFetched(ctx, peer, blocks)
		if err != nil {
			return err
		}
		from = last + 1
	}
	return nil
}

func (e *Engine) fetch(ctx context.Context, peer string, from, to uint64) ([]*chain.Block, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ctx, span := e.tracer.Start(ctx, semconv.SpanSyncFetch, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(
		attribute.String(semconv.PeerIDKey, peer),
		attribute.String(semconv.SyncHeightRangeKey, fmt.Sprintf("%d-%d", from, to)),
		attribute.String(semconv.SyncProtocolKey, syncProtocol)))
	defer span.End()
	blocks, err := e.cfg.Transport.FetchBlocks(ctx, peer, from, to)
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
		return nil, err
	}
	return blocks, nil
}

// applyFetched runs fetched blocks through fork choice, in order, and returns
// the height of the last one.
func (e *Engine) applyFetched(ctx context.Context, peer string, blocks []*chain.Block) (uint64, error) {
	first, last := blocks[0].Header.Height, blocks[len(blocks)-1].Header.Height
	ctx, span := e.tracer.Start(ctx, semconv.SpanSyncApply, trace.WithAttributes(
		attribute.String(semconv.SyncHeightRangeKey, fmt.Sprintf("%d-%d", first, last)),
		attribute.String(semconv.PeerIDKey, peer)))
	defer span.End()
	for _, b := range blocks {
		if err := e.submit(ctx, b, peer, false); err != nil {
			if errors.Is(err, chain.ErrInvalidBlock) {
				e.penalise(peer, b, err)
			}
			span.SetStatus(codes.Error, err.Error())
			return 0, fmt.Errorf("sync block %d from %s: %w", b.Header.Height, peer, err)
		}
	}
	return last, nil
}

// penalise records an invalid block from peer; BanAfter of them ban it for
// BanFor.
func (e *Engine) penalise(peer string, b *chain.Block, err error) {
	e.penaltyMu.Lock()
	p := e.penalties[peer]
	if p == nil {
		p = &penalty{}
		e.penalties[peer] = p
	}
	p.strikes++
	banned := p.strikes >= e.cfg.BanAfter
	if banned {
		p.strikes, p.bannedUntil = 0, time.Now().Add(e.cfg.BanFor)
	}
	e.penaltyMu.Unlock()
	e.metrics.invalid.WithLabelValues(peer).Inc()
	e.log.Warn("peer sent an invalid block", semconv.PeerIDKey, peer, semconv.BlockHeightKey, b.Header.Height,
		semconv.BlockHashKey, b.Hash().String(), "err", err, semconv.ErrorTypeKey, semconv.ErrorValidation, "banned", banned)
}

func (e *Engine) isBanned(peer string) bool {
	e.penaltyMu.Lock()
	defer e.penaltyMu.Unlock()
	p := e.penalties[peer]
	return p != nil && time.Now().Before(p.bannedUntil)
}

func (e *Engine) banned() []string {
	e.penaltyMu.Lock()
	defer e.penaltyMu.Unlock()
	var out []string
	for peer, p := range e.penalties {
		if time.Now().Before(p.bannedUntil) {
			out = append(out, peer)
		}
	}
	return out
}
