// Package semconv holds chainotel's semantic conventions: the span names,
// attribute keys and error categories that the node writes and that the
// collector components (chainsampling, chainenrich, sentry) read.
//
// It is the one source of truth for these names; CONVENTIONS.md beside this
// file documents them and must be kept in step with it. Where OpenTelemetry
// has a convention of its own (rpc.*, http.*, error.type, exception.*,
// service.*, deployment.*) the same key is used here.
package semconv

// Resource attributes carried by every signal from a node.
const (
	ServiceNameKey           = "service.name"
	ServiceInstanceIDKey     = "service.instance.id" // the node id, e.g. "node0"
	ServiceVersionKey        = "service.version"     // the release, used by Sentry
	DeploymentEnvironmentKey = "deployment.environment.name"
	ChainIDKey               = "chain.id"        // genesis-derived, e.g. "chainotel-dev"
	ChainConsensusKey        = "chain.consensus" // ConsensusRaft or ConsensusPoW

	// ServiceName is the service.name of the node.
	ServiceName = "blockchain"

	ConsensusRaft = "raft"
	ConsensusPoW  = "pow"
)

// Span names. The HTTP server spans are named after their route ("POST /tx")
// and the P2P spans by otelgrpc ("chainotel.p2p.v1.Peer/Forward").
const (
	SpanValidateTransaction     = "validate.transaction"
	SpanValidateStateTransition = "validate.state_transition"
	SpanValidateGasUsage        = "validate.gas_usage"
	SpanMempoolAdd              = "mempool.add"
	SpanConsensusPropose        = "consensus.propose"
	SpanConsensusPrevote        = "consensus.prevote"
	SpanConsensusCommit         = "consensus.commit"
	SpanConsensusTimeout        = "consensus.timeout"
	SpanBlockApply              = "block.apply"
	SpanPoWMine                 = "pow.mine"
	SpanPoWReorg                = "pow.reorg"
	SpanPoWBlock                = "pow.block" // a block through the checks and fork choice
	SpanSyncFetch               = "sync.fetch"
	SpanSyncApply               = "sync.apply"
	SpanP2PDisconnect           = "p2p.disconnect"
	SpanStoreWrite              = "store.write" // a failed store write (error.type=storage_error)
	SpanPanic                   = "goroutine.panic"
)

// Chain attributes written by the node.
const (
	TxHashKey       = "chain.tx.hash"
	TxTypeKey       = "chain.tx.type"
	TxGasKey        = "chain.tx.gas"
	TxFeeKey        = "chain.tx.fee"
	AccountNonceKey = "chain.account.nonce"
	MempoolSizeKey  = "chain.mempool.size"

	BlockHeightKey  = "chain.block.height"
	BlockHashKey    = "chain.block.hash"
	BlockTxCountKey = "chain.block.tx_count"
	StateRootKey    = "chain.state_root"

	ConsensusTermKey      = "consensus.term"
	ConsensusRoundKey     = "consensus.round"     // on consensus.prevote: the raft term the vote is for
	ConsensusValidatorKey = "consensus.validator" // on consensus.prevote: the candidate asked for, or the voter answering
	ConsensusIndexKey     = "consensus.index"
	ConsensusBlockHashKey = "consensus.block_hash" // on consensus.commit: the committed block's hash
	ConsensusHeightKey    = "consensus.height"     // on consensus.commit: the committed block's height

	// On consensus.prevote: which raft message it was, whether this node
	// sent or received it, and (on a response) whether the vote was granted.
	ConsensusVoteTypeKey      = "consensus.vote.type"      // VoteTypePreVote, VoteTypeVote
	ConsensusVoteMessageKey   = "consensus.vote.message"   // VoteMessageRequest, VoteMessageResponse
	ConsensusVoteDirectionKey = "consensus.vote.direction" // VoteSent, VoteReceived
	ConsensusVoteGrantedKey   = "consensus.vote.granted"

	PoWDifficultyKey = "pow.difficulty"
	PoWAttemptsKey   = "pow.attempts"
	PoWReorgDepthKey = "pow.reorg.depth"
	PoWFoundKey      = "pow.found"       // on pow.mine: a nonce was found (else a better head stopped it)
	PoWForkChoiceKey = "pow.fork_choice" // on pow.block: extend, reorg, side, duplicate, orphan, invalid
	PoWTotalWorkKey  = "pow.total_work"  // cumulative work of the block's branch

	PeerIDKey          = "p2p.peer_id"
	SyncHeightRangeKey = "sync.height_range" // "120-180"
	SyncProtocolKey    = "sync.protocol"
)

// Values of the consensus.prevote attributes.
const (
	VoteTypePreVote     = "pre_vote"
	VoteTypeVote        = "vote"
	VoteMessageRequest  = "request"
	VoteMessageResponse = "response"
	VoteSent            = "sent"
	VoteReceived        = "received"
)

// Transaction types (chain.tx.type). A transaction without a type is a transfer.
const (
	TxTypeTransfer     = "transfer"
	TxTypeStake        = "stake"
	TxTypeUnstake      = "unstake"
	TxTypeContractCall = "contract_call"
)

// TxTypes lists every transaction type the chain accepts.
var TxTypes = []string{TxTypeTransfer, TxTypeStake, TxTypeUnstake, TxTypeContractCall}

// OpenTelemetry semantic convention keys that chainotel reads or writes.
const (
	RPCSystemKey  = "rpc.system"
	RPCServiceKey = "rpc.service"
	RPCMethodKey  = "rpc.method"
	// RPCSystemNameKey is what otelgrpc writes beside rpc.system (the newer RPC conventions).
	RPCSystemNameKey = "rpc.system.name"
	HTTPRouteKey     = "http.route"

	// The HTTP server span's attributes besides http.route.
	HTTPRequestMethodKey      = "http.request.method"
	HTTPResponseStatusCodeKey = "http.response.status_code"
	URLPathKey                = "url.path"
	URLSchemeKey              = "url.scheme"
	ClientAddressKey          = "client.address"
	// BaggageAttributePrefix, followed by a baggage member's key, names the
	// HTTP server span's attribute holding that member's value: the baggage
	// a request brought, after the node's deny-list (--baggage-deny-keys).
	BaggageAttributePrefix = "baggage."

	ErrorTypeKey           = "error.type"
	ExceptionEventName     = "exception"
	ExceptionTypeKey       = "exception.type"
	ExceptionMessageKey    = "exception.message"
	ExceptionStacktraceKey = "exception.stacktrace"
	ThreadNameKey          = "thread.name" // on goroutine.panic: the name the panic guard was given
	EventNameKey           = "event.name"  // on log records: SpanBlockApply on the node's "block applied" log
)

// Error categories (error.type): stable values for grouping errors.
const (
	ErrorConsensusTimeout = "consensus_timeout"
	ErrorP2PDisconnect    = "p2p_disconnect"
	ErrorGoroutinePanic   = "goroutine_panic"
	ErrorValidation       = "validation_error"
	ErrorStorage          = "storage_error"
	ErrorMempoolFull      = "mempool_full"
	ErrorInternal         = "internal_error"
)

// Attributes set by the collector components.
const (
	HeadHeightKey    = "chain.head.height" // the node, beside chain.block.height; chainenrich, on errors
	HeadHashKey      = "chain.head.hash"   // chainenrich, on errors
	HeadStateRootKey = StateRootKey        // chainenrich stamps the head's state root under chain.state_root
	NodeIDKey        = "chain.node.id"     // chainenrich: the node that emitted the error
	SamplingRuleKey  = "sampling.rule"     // chainsampling, on kept spans
)
