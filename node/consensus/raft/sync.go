package raft

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"go.etcd.io/raft/v3/raftpb"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/chainotel/chainotel/semconv"
)

// syncProtocol names how blocks are fetched, for the sync.protocol attribute.
const syncProtocol = "grpc-fetch"

// catchUp brings the store up to the block a raft snapshot reflects,
// fetching the missing blocks from peers (the leader first), applying and
// checking each, then records the snapshot's index as applied.
func (e *Engine) catchUp(ctx context.Context, snap raftpb.Snapshot) error {
	if snap.Metadata.Index <= e.cfg.State.AppliedIndex() {
		return nil
	}
	var want snapData
	if err := json.Unmarshal(snap.Data, &want); err != nil {
		return fmt.Errorf("decode raft snapshot %d: %w", snap.Metadata.Index, err)
	}
	head, _ := e.cfg.State.Head()
	if head.Height < want.Height {
		rng := fmt.Sprintf("%d-%d", head.Height+1, want.Height)
		ctx, span := e.tracer.Start(ctx, semconv.SpanSyncApply, trace.WithAttributes(attribute.String(semconv.SyncHeightRangeKey, rng)))
		err := e.fetchUpTo(ctx, want.Height)
		if err != nil {
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
		if err != nil {
			return err
		}
	}
	if b, err := e.cfg.State.BlockByHeight(want.Height); err != nil {
		return fmt.Errorf("sync: %w", err)
	} else if b.Hash() != want.Hash {
		return fmt.Errorf("sync: block %d is %s here but %s in the leader's snapshot", want.Height, b.Hash(), want.Hash)
	}
	return e.cfg.State.SetAppliedIndex(ctx, snap.Metadata.Index)
}

// fetchUpTo applies fetched blocks until the head reaches height, trying
// the peers in turn and backing off when none answers.
func (e *Engine) fetchUpTo(ctx context.Context, height uint64) error {
	backoff := 100 * time.Millisecond
	for {
		head, _ := e.cfg.State.Head()
		if head.Height >= height {
			return nil
		}
		progressed := false
		for _, peer := range e.syncPeers() {
			n, err := e.fetchFrom(ctx, peer, head.Height+1, height)
			if err != nil {
				e.log.Warn("sync: fetch failed", semconv.PeerIDKey, peer, "err", err)
				continue
			}
			progressed = n > 0
			break
		}
		if progressed {
			backoff = 100 * time.Millisecond
			continue
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("sync to height %d: %w", height, ctx.Err())
		case <-time.After(backoff):
			backoff = min(2*backoff, 2*time.Second)
		}
	}
}

// syncPeers lists the peers to fetch from, the known leader first.
func (e *Engine) syncPeers() []string {
	var out []string
	if lead := e.leader.Load(); lead != e.id && e.names[lead] != "" {
		out = append(out, e.names[lead])
	}
	for id, name := range e.names {
		if id != e.id && id != e.leader.Load() {
			out = append(out, name)
		}
	}
	return out
}

func (e *Engine) fetchFrom(ctx context.Context, peer string, from, to uint64) (int, error) {
	ctx, span := e.tracer.Start(ctx, semconv.SpanSyncFetch, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(
		attribute.String(semconv.PeerIDKey, peer),
		attribute.String(semconv.SyncHeightRangeKey, fmt.Sprintf("%d-%d", from, to)),
		attribute.String(semconv.SyncProtocolKey, syncProtocol)))
	defer span.End()
	fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	blocks, err := e.cfg.Transport.FetchBlocks(fctx, peer, from, to)
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
		return 0, err
	}
	for _, b := range blocks {
		if _, err := e.applyBlock(ctx, b, 0); err != nil {
			span.SetStatus(codes.Error, err.Error())
			return 0, fmt.Errorf("sync from %s: %w", peer, err)
		}
	}
	return len(blocks), nil
}
