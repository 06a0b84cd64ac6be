package chain

import (
	"fmt"
	"time"
)

// PoWParams are the proof-of-work rules of a PoW chain, part of its genesis
// (and so of its hash): a genesis with them is a PoW chain, one without them
// a raft chain.
type PoWParams struct {
	// TargetBlockTime is the block time retargeting steers toward.
	TargetBlockTime Duration `json:"target_block_time"`
	// InitialDifficulty is the difficulty of block 1: the expected number of
	// header hashes it takes to find a block.
	InitialDifficulty uint64 `json:"initial_difficulty"`
	// MinDifficulty is the floor retargeting never goes below.
	MinDifficulty uint64 `json:"min_difficulty"`
	// RetargetWindow is how many blocks one difficulty holds; the first block
	// of each window gets a new one.
	RetargetWindow uint64 `json:"retarget_window"`
	// MaxAdjust bounds one retarget: the difficulty changes by at most this
	// factor, up or down.
	MaxAdjust uint64 `json:"max_adjust"`
	// MaxFutureDrift is how far ahead of a node's clock a block's time may be.
	MaxFutureDrift Duration `json:"max_future_drift"`
}

// maxDifficulty keeps cumulative work (a sum of difficulties) far from
// overflowing 64 bits.
const maxDifficulty = 1 << 48

// DevPoWParams are the dev chain's proof-of-work rules: one-second blocks,
// a difficulty a single core meets in a few milliseconds at first, so
// retargeting climbs to the cluster's hash rate within a few windows.
func DevPoWParams() PoWParams {
	return PoWParams{
		TargetBlockTime:   Duration{time.Second},
		InitialDifficulty: 1 << 16,
		MinDifficulty:     1 << 10,
		RetargetWindow:    10,
		MaxAdjust:         4,
		MaxFutureDrift:    Duration{2 * time.Second},
	}
}

// Validate says what is wrong with p, naming the genesis key.
func (p *PoWParams) Validate() error {
	switch {
	case p.TargetBlockTime.Duration <= 0:
		return fmt.Errorf("%w: pow.target_block_time must be > 0, got %s", ErrBadGenesis, p.TargetBlockTime)
	case p.MinDifficulty == 0 || p.MinDifficulty > maxDifficulty:
		return fmt.Errorf("%w: pow.min_difficulty must be 1 to %d, got %d", ErrBadGenesis, uint64(maxDifficulty), p.MinDifficulty)
	case p.InitialDifficulty < p.MinDifficulty || p.InitialDifficulty > maxDifficulty:
		return fmt.Errorf("%w: pow.initial_difficulty must be %d (min_difficulty) to %d, got %d",
			ErrBadGenesis, p.MinDifficulty, uint64(maxDifficulty), p.InitialDifficulty)
	case p.RetargetWindow < 2:
		return fmt.Errorf("%w: pow.retarget_window must be >= 2, got %d", ErrBadGenesis, p.RetargetWindow)
	case p.MaxAdjust < 2 || p.MaxAdjust > 16:
		return fmt.Errorf("%w: pow.max_adjust must be 2 to 16, got %d", ErrBadGenesis, p.MaxAdjust)
	case p.MaxFutureDrift.Duration < 0:
		return fmt.Errorf("%w: pow.max_future_drift must be >= 0, got %s", ErrBadGenesis, p.MaxFutureDrift)
	}
	return nil
}

// MaxDifficulty is the highest difficulty a block may carry.
func (p *PoWParams) MaxDifficulty() uint64 { return maxDifficulty }

// UnmarshalBinary decodes what AppendBinary wrote.
func (h *Header) UnmarshalBinary(b []byte) error {
	d := decoder{b: b}
	*h = Header{}
	h.decode(&d)
	if err := d.done(); err != nil {
		return fmt.Errorf("decode header: %w", err)
	}
	return nil
}
