package raft

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/chainotel/chainotel/node/chain"
	"github.com/chainotel/chainotel/node/consensus"
	"github.com/chainotel/chainotel/semconv"
)

// handleReady processes one Ready in the order raft documents: persist, send,
// apply, maybe snapshot, Advance. A leader sends before persisting, as etcd
// does (raft thesis 10.2.1): its messages are appends and heartbeats, which
// do not promise anything about its own disk, so followers write in parallel
// with it. Everyone else persists first, since a vote or an append response
// promises durable state.
func (e *Engine) handleReady(ctx context.Context, n raft.Node, rd raft.Ready) error {
	leading := e.isLeader() && (rd.SoftState == nil || rd.SoftState.Lead == e.id)
	if leading {
		e.send(n, rd.Messages)
	}
	if err := e.persist(rd); err != nil {
		return err
	}
	e.noteSoftState(ctx, rd)
	if !leading {
		e.send(n, rd.Messages)
	}
	if !raft.IsEmptySnap(rd.Snapshot) {
		if err := e.installSnapshot(ctx, rd.Snapshot); err != nil {
			return err
		}
	}
	// Read states may name an index not applied yet: the reads wait for it.
	e.reads.deliver(rd.ReadStates)
	if err := e.apply(ctx, n, rd.CommittedEntries); err != nil {
		return err
	}
	if len(rd.CommittedEntries) > 0 || !raft.IsEmptySnap(rd.Snapshot) {
		e.reads.appliedMoved()
	}
	if err := e.maybeSnapshot(); err != nil {
		return err
	}
	n.Advance()
	return nil
}

// persist saves the snapshot, entries and hard state (in that crash-safe
// order, one fsync) before anything is sent or applied: raft's messages
// promise that what they carry is durable here.
func (e *Engine) persist(rd raft.Ready) error {
	if err := e.cfg.Log.Save(rd.HardState, rd.Entries, rd.Snapshot, rd.MustSync); err != nil {
		err = fmt.Errorf("persist raft state: %w", err)
		// Nothing was acknowledged for this Ready: the node stops here and a
		// restart replays from what is durable. Say why as a storage error.
		_, span := e.tracer.Start(context.Background(), semconv.SpanStoreWrite, trace.WithAttributes(
			attribute.String(semconv.ErrorTypeKey, semconv.ErrorStorage)))
		span.SetStatus(codes.Error, err.Error())
		span.End()
		e.log.Error("raft state not persisted; stopping", "err", err, semconv.ErrorTypeKey, semconv.ErrorStorage)
		return err
	}
	if !raft.IsEmptyHardState(rd.HardState) {
		e.term.Store(rd.HardState.Term)
		e.commit.Store(rd.HardState.Commit)
	}
	return nil
}

// noteSoftState follows leadership changes: it records the leader, marks
// where a new term's log starts on a new leader, and hands a stepped-down
// leader's queued transactions to its successor.
func (e *Engine) noteSoftState(ctx context.Context, rd raft.Ready) {
	if rd.SoftState == nil {
		return
	}
	ss := rd.SoftState
	e.state.Store(ss.RaftState.String())
	was := e.leader.Load()
	if ss.Lead == was {
		return
	}
	if ss.Lead == e.id {
		last, _ := e.cfg.Log.LastIndex()
		e.termStart.Store(last)
	}
	e.setLeader(ss.Lead)
	term := e.term.Load()
	switch ss.Lead {
	case raft.None:
		sctx, span := e.tracer.Start(context.Background(), semconv.SpanConsensusTimeout, trace.WithAttributes(
			attribute.String(semconv.ErrorTypeKey, semconv.ErrorConsensusTimeout),
			attribute.Int64(semconv.ConsensusTermKey, int64(term)),
			attribute.String(semconv.ConsensusValidatorKey, e.cfg.NodeID)))
		span.SetStatus(codes.Error, "lost the leader")
		span.End()
		// An error log in the span: the collector forwards it with the chain head.
		e.log.ErrorContext(sctx, "no leader", "term", term, "previous", e.names[was], "state", ss.RaftState.String(),
			semconv.ErrorTypeKey, semconv.ErrorConsensusTimeout, semconv.ExceptionMessageKey, "lost the leader")
	default:
		e.log.Info("leader elected", "leader", e.names[ss.Lead], "term", term)
	}
	if was == e.id {
		e.handOver(ctx)
	}
}

// handOver re-submits the queued transactions of a node that stopped leading,
// so their submitters still see them commit.
func (e *Engine) handOver(ctx context.Context) {
	txs := e.cfg.Pool.Drain()
	if len(txs) == 0 {
		return
	}
	e.log.Info("stepped down, forwarding queued transactions to the next leader", "txs", len(txs))
	// Guarded as every goroutine of the node; Run waits for it before returning.
	e.cfg.Go.Start(ctx, &e.background, "raft.handover", func(ctx context.Context) {
		ctx, cancel := context.WithTimeout(ctx, 2*e.cfg.ProposalTimeout)
		defer cancel()
		failed := 0
		for _, err := range e.Submit(ctx, txs) {
			if err != nil {
				failed++
			}
		}
		if failed > 0 {
			e.log.Warn("queued transactions lost in the leader change", "failed", failed, "of", len(txs))
		}
	})
}

// send groups the messages by destination and hands them to the transport;
// failures are reported back to raft so it probes or retries the peer.
func (e *Engine) send(n raft.Node, msgs []raftpb.Message) {
	byPeer := make(map[uint64][]raftpb.Message)
	for _, m := range msgs {
		e.traceVote(m, semconv.VoteSent)
		byPeer[m.To] = append(byPeer[m.To], m)
	}
	for to, batch := range byPeer {
		name, ok := e.names[to]
		if !ok {
			continue
		}
		snaps := 0
		for _, m := range batch {
			if m.Type == raftpb.MsgSnap {
				snaps++
			}
		}
		e.cfg.Transport.Send(name, batch, func(err error) {
			if err != nil {
				n.ReportUnreachable(to)
			}
			for range snaps {
				status := raft.SnapshotFinish
				if err != nil {
					status = raft.SnapshotFailure
				}
				n.ReportSnapshot(to, status)
			}
		})
	}
}

// apply applies committed entries in order: blocks to the store, membership
// changes to raft, and records the applied index of the rest.
func (e *Engine) apply(ctx context.Context, n raft.Node, ents []raftpb.Entry) error {
	for _, ent := range ents {
		switch {
		case ent.Type == raftpb.EntryNormal && len(ent.Data) > 0:
			if err := e.applyBlockEntry(ctx, ent); err != nil {
				return err
			}
		case ent.Type == raftpb.EntryConfChange:
			var cc raftpb.ConfChange
			if err := cc.Unmarshal(ent.Data); err != nil {
				return fmt.Errorf("decode conf change at %d: %w", ent.Index, err)
			}
			e.confState = *n.ApplyConfChange(cc)
			fallthrough
		default:
			if err := e.cfg.State.SetAppliedIndex(ctx, ent.Index); err != nil {
				return err
			}
			// The empty entry a new leader appends is what its proposer
			// waits for before cutting blocks (termStart): without this
			// wake-up, transactions queued before it was applied waited
			// for the next one to arrive, up to their commit timeout.
			e.wakeProposer()
		}
	}
	return nil
}

func (e *Engine) applyBlockEntry(ctx context.Context, ent raftpb.Entry) error {
	var b chain.Block
	if err := b.UnmarshalBinary(ent.Data); err != nil {
		return fmt.Errorf("raft entry %d: %w", ent.Index, err)
	}
	hash := b.Hash()
	// consensus.* are the design's names; chain.* are what the collector's
	// chainenrich follows the head by.
	hashText := hash.String()
	ctx, commit := e.tracer.Start(ctx, semconv.SpanConsensusCommit, trace.WithAttributes(
		attribute.String(semconv.ConsensusBlockHashKey, hashText),
		attribute.Int64(semconv.ConsensusHeightKey, int64(b.Header.Height)),
		attribute.Int64(semconv.BlockHeightKey, int64(b.Header.Height)),
		attribute.String(semconv.BlockHashKey, hashText),
		attribute.Int64(semconv.ConsensusTermKey, int64(ent.Term)),
		attribute.Int64(semconv.ConsensusIndexKey, int64(ent.Index))))
	defer commit.End()
	applied, err := e.applyBlock(ctx, &b, ent.Index)
	head, _ := e.cfg.State.Head()
	commit.SetAttributes(attribute.Int64(semconv.HeadHeightKey, int64(head.Height)))
	switch {
	case errors.Is(err, chain.ErrInvalidBlock):
		// Every node sees the same log and so refuses the same block; skip it
		// rather than halt the chain. It means a proposer bug, so say so loudly.
		commit.SetStatus(codes.Error, err.Error())
		e.log.Error("committed block refused", "height", b.Header.Height, "index", ent.Index, "err", err)
		return e.cfg.State.SetAppliedIndex(ctx, ent.Index)
	case err != nil:
		commit.SetStatus(codes.Error, err.Error())
		commit.SetAttributes(attribute.String(semconv.ErrorTypeKey, semconv.ErrorStorage))
		return err
	case !applied:
		e.log.Debug("stale block skipped", "height", b.Header.Height, "index", ent.Index)
	}
	return nil
}

// applyBlock applies one block to the store (index 0 for a synced block),
// tells the listener, and wakes the proposer.
func (e *Engine) applyBlock(ctx context.Context, b *chain.Block, index uint64) (bool, error) {
	hash := b.Hash()
	sctx, span := e.tracer.Start(ctx, semconv.SpanBlockApply, trace.WithLinks(consensus.TxLinks(b.Txs, maxLinks)...), trace.WithAttributes(
		attribute.Int64(semconv.BlockHeightKey, int64(b.Header.Height)),
		attribute.String(semconv.BlockHashKey, hash.String()),
		attribute.String(semconv.StateRootKey, b.Header.StateRoot.String()),
		attribute.Int(semconv.BlockTxCountKey, len(b.Txs))))
	defer span.End()
	var applied bool
	err := e.cfg.Pool.Settle(b.Txs, func() (err error) {
		applied, err = e.cfg.State.ApplyBlock(ctx, b, e.params, index)
		return err
	})
	head, _ := e.cfg.State.Head()
	span.SetAttributes(attribute.Int64(semconv.HeadHeightKey, int64(head.Height)))
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
		return false, err
	}
	if applied {
		// event.name lets the collector's chainenrich move its chain head
		// from logs alone (it does from block.apply spans too).
		e.log.InfoContext(sctx, "block applied", semconv.EventNameKey, semconv.SpanBlockApply,
			semconv.BlockHeightKey, b.Header.Height, semconv.BlockHashKey, hash.String(),
			semconv.StateRootKey, b.Header.StateRoot.String(), semconv.BlockTxCountKey, len(b.Txs))
		e.cfg.OnApplied(b)
	}
	e.wakeProposer()
	return applied, nil
}

// wakeProposer tells the proposer that the applied index moved.
func (e *Engine) wakeProposer() {
	select {
	case e.appliedCh <- struct{}{}:
	default:
	}
}

// snapData is what a raft snapshot holds: not the state itself (that is in
// the store) but the block it reflects, which a node behind it fetches up to.
type snapData struct {
	Height uint64     `json:"height"`
	Hash   chain.Hash `json:"hash"`
}

func encodeSnapData(d snapData) ([]byte, error) {
	b, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("encode snapshot data: %w", err)
	}
	return b, nil
}

// maybeSnapshot takes a snapshot every SnapshotEvery applied entries and
// compacts the log behind it, keeping SnapshotCatchUp entries so a follower
// that is only a little behind catches up from the log.
func (e *Engine) maybeSnapshot() error {
	applied := e.cfg.State.AppliedIndex()
	if applied < e.snapIndex+e.cfg.SnapshotEvery {
		return nil
	}
	head, hash := e.cfg.State.Head()
	data, err := encodeSnapData(snapData{Height: head.Height, Hash: hash})
	if err != nil {
		return err
	}
	rl := e.cfg.Log
	if _, err := rl.CreateSnapshot(applied, &e.confState, data); err != nil {
		return err
	}
	e.snapIndex = applied
	if applied > e.cfg.SnapshotCatchUp {
		if err := rl.Compact(applied - e.cfg.SnapshotCatchUp); err != nil {
			return err
		}
	}
	e.log.Debug("raft snapshot", "index", applied, "height", head.Height)
	return nil
}

// installSnapshot handles a snapshot sent by the leader: it was persisted
// with the Ready; now fetch the blocks it covers from peers.
func (e *Engine) installSnapshot(ctx context.Context, snap raftpb.Snapshot) error {
	e.confState = snap.Metadata.ConfState
	e.snapIndex = snap.Metadata.Index
	e.log.Info("installing raft snapshot", "index", snap.Metadata.Index, "term", snap.Metadata.Term)
	return e.catchUp(ctx, snap)
}
