package match

import "math"

// BlockHeight matches traces with a span whose chain.block.height lies in
// [Min, Max] and, when WithinHead > 0, no more than WithinHead blocks below
// the highest height the processor has seen (`block_height: {within_head: 50}`).
type BlockHeight struct {
	Slot       int
	Min, Max   float64
	WithinHead int64
}

var _ Matcher = (*BlockHeight)(nil)

// NewBlockHeight returns a matcher for slot that accepts every height until
// its bounds are set.
func NewBlockHeight(slot int) *BlockHeight {
	return &BlockHeight{Slot: slot, Min: math.Inf(-1), Max: math.Inf(1)}
}

// Match implements Matcher.
func (m *BlockHeight) Match(s *Summary, env Env) bool {
	if m.Slot >= len(s.Span) {
		return false
	}
	for _, v := range s.Span[m.Slot] {
		if v.Kind != KindNum || v.Num < m.Min || v.Num > m.Max {
			continue
		}
		if m.WithinHead > 0 && v.Num < float64(env.Head-m.WithinHead) {
			continue
		}
		return true
	}
	return false
}
