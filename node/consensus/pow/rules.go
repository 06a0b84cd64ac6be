package pow

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"time"

	"github.com/chainotel/chainotel/node/chain"
)

// Target is the largest value the first 8 bytes of a header hash (big-endian)
// may have at difficulty d: about one hash in d meets it, so d is the
// expected number of hashes per block, and a block's work is its difficulty.
func Target(d uint64) uint64 { return math.MaxUint64 / max(d, 1) }

// MeetsTarget reports whether hash is a proof of work at difficulty d.
func MeetsTarget(hash chain.Hash, d uint64) bool {
	return binary.BigEndian.Uint64(hash[:8]) <= Target(d)
}

// NextDifficulty is the difficulty the child of parent must carry. Block 1
// has the genesis's initial difficulty. A difficulty holds for a window of
// RetargetWindow blocks; the first block of the next window scales it by
// how long the window took against the target time, by at most MaxAdjust
// either way and never below MinDifficulty. ancestor returns the header at a
// height on parent's own branch.
func NextDifficulty(p *chain.PoWParams, parent chain.Header, ancestor func(height uint64) (chain.Header, error)) (uint64, error) {
	if parent.Height == 0 {
		return p.InitialDifficulty, nil
	}
	if parent.Height%p.RetargetWindow != 0 {
		return parent.Difficulty, nil
	}
	start, err := ancestor(parent.Height - p.RetargetWindow + 1)
	if err != nil {
		return 0, fmt.Errorf("retarget at %d: %w", parent.Height+1, err)
	}
	return Retarget(p, parent.Difficulty, time.Duration(parent.Time-start.Time)), nil
}

// Retarget is the retarget rule: the difficulty that would have made the
// window's RetargetWindow-1 block intervals, which took took, last the
// target time each, bounded by MaxAdjust and MinDifficulty.
func Retarget(p *chain.PoWParams, d uint64, took time.Duration) uint64 {
	expected := uint64(p.RetargetWindow-1) * uint64(p.TargetBlockTime.Duration)
	actual := uint64(max(took, 1))
	hi, lo := bits.Mul64(d, expected)
	next := uint64(math.MaxUint64)
	if hi < actual {
		next, _ = bits.Div64(hi, lo, actual)
	}
	lower, upper := d/p.MaxAdjust, d*p.MaxAdjust // d is at most 2^48, so no overflow
	next = min(max(next, lower, p.MinDifficulty), upper, p.MaxDifficulty())
	return max(next, 1)
}

// CheckHeader checks what a block's header can be checked for without the
// state: chain id, height, difficulty, proof of work and time (after the
// parent's, at most MaxFutureDrift after now). difficulty is what
// NextDifficulty says the block must carry.
func CheckHeader(p *chain.PoWParams, chainID string, parent, h *chain.Header, difficulty uint64, now time.Time) error {
	hash := h.Hash()
	switch {
	case h.ChainID != chainID:
		return fmt.Errorf("%w: %q, this chain is %q", ErrWrongChain, h.ChainID, chainID)
	case h.Height != parent.Height+1:
		return fmt.Errorf("%w: height %d, parent %d", ErrBadHeight, h.Height, parent.Height)
	case h.Difficulty != difficulty:
		return fmt.Errorf("%w: block %d carries %d, want %d", ErrBadDifficulty, h.Height, h.Difficulty, difficulty)
	case !MeetsTarget(hash, h.Difficulty):
		return fmt.Errorf("%w: block %d hash %s at difficulty %d", ErrBadProofOfWork, h.Height, hash, h.Difficulty)
	case h.Time <= parent.Time:
		return fmt.Errorf("%w: block %d at %d, parent at %d", ErrBadTime, h.Height, h.Time, parent.Time)
	case h.Time > now.Add(p.MaxFutureDrift.Duration).UnixNano():
		return fmt.Errorf("%w: block %d is %s ahead of this node's clock (at most %s)", ErrFutureBlock, h.Height,
			time.Duration(h.Time-now.UnixNano()), p.MaxFutureDrift)
	}
	return nil
}

// CheckTxs checks a block's transactions against its header and for format:
// count, tx root, the block size limit, and each transaction canonical and
// well formed (signed where the chain requires it). The state transition is
// checked when the block is applied.
func CheckTxs(params *chain.Params, chainID string, b *chain.Block) error {
	if int(b.Header.TxCount) != len(b.Txs) {
		return fmt.Errorf("%w: header says %d txs, block holds %d", ErrBadTxs, b.Header.TxCount, len(b.Txs))
	}
	if len(b.Txs) > params.BlockMaxTxs {
		return fmt.Errorf("%w: %d txs, at most %d", ErrBadTxs, len(b.Txs), params.BlockMaxTxs)
	}
	if root := chain.TxRoot(b.Txs); root != b.Header.TxRoot {
		return fmt.Errorf("%w: tx root %s, the header says %s", ErrBadTxs, root, b.Header.TxRoot)
	}
	for i := range b.Txs {
		tx := b.Txs[i]
		if err := tx.CheckFormat(chainID, params.RequireSignatures); err != nil {
			return fmt.Errorf("%w: tx %d: %w", ErrBadTxs, i, err)
		}
		if tx.Hash() != b.Txs[i].Hash() {
			return fmt.Errorf("%w: tx %d is not in canonical form", ErrBadTxs, i)
		}
	}
	return nil
}

// sealOffset is where the nonce starts in a header encoding enc.
func sealOffset(enc []byte) int { return len(enc) - chain.NonceBytes }

// hashAt is the hash of enc with nonce written in place.
func hashAt(enc []byte, nonce uint64) [sha256.Size]byte {
	binary.BigEndian.PutUint64(enc[sealOffset(enc):], nonce)
	return sha256.Sum256(enc)
}
