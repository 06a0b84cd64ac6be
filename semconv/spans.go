package semconv

// SpanConvention is one row of CONVENTIONS.md's span table, for the spans the
// node names itself: what a span of that name carries. The unit test holds
// this table and the document together; the process tests check that the
// spans a running cluster emits carry Always.
type SpanConvention struct {
	Name string
	// Parent is the name of the span it is a child of, when the conventions
	// fix one.
	Parent string
	// Always lists the attributes every span of this name carries;
	// Sometimes those it carries in some cases (an error, a found block).
	Always, Sometimes []string
	// Exception is set when the span records an exception event (with
	// exception.type, exception.message and exception.stacktrace).
	Exception bool
}

// Spans is the span table of CONVENTIONS.md (the node's own spans; the HTTP
// and P2P spans follow OpenTelemetry's conventions, written by their
// instrumentation).
var Spans = []SpanConvention{
	{Name: SpanValidateTransaction, Always: []string{TxHashKey, TxTypeKey}, Sometimes: []string{ErrorTypeKey}},
	{Name: SpanValidateStateTransition, Parent: SpanValidateTransaction, Always: []string{AccountNonceKey}, Sometimes: []string{ErrorTypeKey}},
	{Name: SpanValidateGasUsage, Parent: SpanValidateStateTransition, Always: []string{TxGasKey, TxFeeKey}, Sometimes: []string{ErrorTypeKey}},
	{Name: SpanMempoolAdd, Always: []string{TxHashKey, MempoolSizeKey}},
	{Name: SpanConsensusPropose, Always: []string{BlockHeightKey, HeadHeightKey, BlockTxCountKey, ConsensusTermKey}},
	{Name: SpanConsensusPrevote,
		Always: []string{ConsensusTermKey, ConsensusRoundKey, ConsensusValidatorKey, ConsensusVoteTypeKey,
			ConsensusVoteMessageKey, ConsensusVoteDirectionKey, PeerIDKey},
		Sometimes: []string{ConsensusVoteGrantedKey}},
	{Name: SpanConsensusCommit,
		Always:    []string{ConsensusBlockHashKey, ConsensusHeightKey, BlockHeightKey, HeadHeightKey, BlockHashKey, ConsensusTermKey, ConsensusIndexKey},
		Sometimes: []string{ErrorTypeKey}},
	{Name: SpanBlockApply, Always: []string{BlockHeightKey, HeadHeightKey, BlockHashKey, StateRootKey, BlockTxCountKey}},
	{Name: SpanPoWMine, Always: []string{BlockHeightKey, HeadHeightKey, PoWDifficultyKey, PoWAttemptsKey, PoWFoundKey},
		Sometimes: []string{BlockTxCountKey, BlockHashKey}},
	{Name: SpanPoWBlock, Always: []string{BlockHeightKey, HeadHeightKey, BlockHashKey, PoWDifficultyKey, PoWTotalWorkKey, PoWForkChoiceKey},
		Sometimes: []string{PeerIDKey, ErrorTypeKey}},
	{Name: SpanSyncFetch, Always: []string{PeerIDKey, SyncHeightRangeKey, SyncProtocolKey}},
	{Name: SpanSyncApply, Always: []string{SyncHeightRangeKey}},
	{Name: SpanConsensusTimeout, Always: []string{ErrorTypeKey, ConsensusTermKey},
		Sometimes: []string{ConsensusValidatorKey, BlockHeightKey, HeadHeightKey}},
	{Name: SpanP2PDisconnect, Always: []string{ErrorTypeKey, PeerIDKey}},
	{Name: SpanPanic, Always: []string{ErrorTypeKey, ThreadNameKey}, Exception: true},
	{Name: SpanStoreWrite, Always: []string{ErrorTypeKey}, Sometimes: []string{BlockHeightKey, HeadHeightKey}},
	{Name: SpanPoWReorg, Always: []string{PoWReorgDepthKey, BlockHeightKey, BlockHashKey}},
}

// SpanConventionOf returns the row of Spans for a span name.
func SpanConventionOf(name string) (SpanConvention, bool) {
	for _, s := range Spans {
		if s.Name == name {
			return s, true
		}
	}
	return SpanConvention{}, false
}
