package pow

import (
	"errors"
	"fmt"

	"github.com/chainotel/chainotel/node/chain"
)

// Sentinel errors, matched with errors.Is. The ones about a block wrap
// chain.ErrInvalidBlock, so a caller can also test for any invalid block.
var (
	ErrWrongChain     = fmt.Errorf("%w: wrong chain id", chain.ErrInvalidBlock)
	ErrBadHeight      = fmt.Errorf("%w: height does not follow the parent", chain.ErrInvalidBlock)
	ErrBadDifficulty  = fmt.Errorf("%w: difficulty is not the retarget rule's", chain.ErrInvalidBlock)
	ErrBadProofOfWork = fmt.Errorf("%w: hash does not meet the difficulty's target", chain.ErrInvalidBlock)
	ErrBadTime        = fmt.Errorf("%w: time is not after the parent's", chain.ErrInvalidBlock)
	ErrFutureBlock    = fmt.Errorf("%w: time is too far in the future", chain.ErrInvalidBlock)
	ErrBadTxs         = fmt.Errorf("%w: transactions do not match the header or are malformed", chain.ErrInvalidBlock)

	// ErrUnknownParent means a block's parent is not known yet (this node
	// must sync first); it is not the sender's fault.
	ErrUnknownParent = errors.New("unknown parent block")
	// ErrReorgTooDeep means a heavier branch forks further back than a
	// reorganisation may go.
	ErrReorgTooDeep = errors.New("reorganisation too deep")
	// ErrPeerBanned means a peer sent too many invalid blocks lately.
	ErrPeerBanned = errors.New("peer banned for invalid blocks")
	// ErrStopped means the engine is not running.
	ErrStopped = errors.New("pow engine stopped")
)
