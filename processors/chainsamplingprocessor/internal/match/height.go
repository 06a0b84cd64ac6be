package match

import "math"

// BlockHeight matches traces with a span whose chain.block.height lies in
// [Min, Max] and, when WithinHead > 0, no more than WithinHead blocks below
// the chain head (`block_height: {within_head: 50}`): the highest
// chain.head.height the trace's own spans carry (the nodes report it), so
// that the answer depends on the trace alone and every collector of a tier
// gives the same one; only a trace without one is compared with env.Head,
// the highest chain.block.height the processor has seen.
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
	head := env.Head
	if s.Head > 0 {
		head = s.Head
	}
	for _, v := range s.Span[m.Slot] {
		if v.Kind != KindNum || v.Num < m.Min || v.Num > m.Max {
			continue
		}
		if m.WithinHead > 0 && v.Num < float64(head-m.WithinHead) {
			continue
		}
		return true
	}
	return false
}
