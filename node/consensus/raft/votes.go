package raft

import (
	"context"

	"go.etcd.io/raft/v3/raftpb"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/chainotel/chainotel/semconv"
)

// voteKinds names the raft messages of an election: the pre-vote and vote
// requests a candidate sends, and the answers it gets.
var voteKinds = map[raftpb.MessageType][2]string{
	raftpb.MsgPreVote:     {semconv.VoteTypePreVote, semconv.VoteMessageRequest},
	raftpb.MsgPreVoteResp: {semconv.VoteTypePreVote, semconv.VoteMessageResponse},
	raftpb.MsgVote:        {semconv.VoteTypeVote, semconv.VoteMessageRequest},
	raftpb.MsgVoteResp:    {semconv.VoteTypeVote, semconv.VoteMessageResponse},
}

// traceVote writes a consensus.prevote span for a pre-vote or vote message
// this node sends or receives (direction); other messages pass untraced.
// Both ends of each message write one, so an election shows on every node
// that took part. consensus.validator is the message's sender: the
// candidate asking for the vote, or the voter answering.
func (e *Engine) traceVote(m raftpb.Message, direction string) {
	kind, ok := voteKinds[m.Type]
	if !ok || m.From == m.To { // a candidate's vote for itself is no message
		return
	}
	peer := m.To
	if direction == semconv.VoteReceived {
		peer = m.From
	}
	attrs := []attribute.KeyValue{
		attribute.Int64(semconv.ConsensusTermKey, int64(e.term.Load())),
		attribute.Int64(semconv.ConsensusRoundKey, int64(m.Term)),
		attribute.String(semconv.ConsensusValidatorKey, e.names[m.From]),
		attribute.String(semconv.ConsensusVoteTypeKey, kind[0]),
		attribute.String(semconv.ConsensusVoteMessageKey, kind[1]),
		attribute.String(semconv.ConsensusVoteDirectionKey, direction),
		attribute.String(semconv.PeerIDKey, e.names[peer]),
	}
	if kind[1] == semconv.VoteMessageResponse {
		attrs = append(attrs, attribute.Bool(semconv.ConsensusVoteGrantedKey, !m.Reject))
	}
	_, span := e.tracer.Start(context.Background(), semconv.SpanConsensusPrevote, trace.WithAttributes(attrs...))
	span.End()
}
