package pow

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"sync"
	"sync/atomic"

	"golang.org/x/time/rate"

	"github.com/chainotel/chainotel/node/chain"
	"github.com/chainotel/chainotel/node/guard"
)

// batch is how many nonces a mining goroutine tries between looks at its
// context (and the hash-rate limiter): small enough to stop within a
// millisecond or so, large enough that the looks cost nothing.
const batch = 4096

// Miner searches for nonces on a bounded number of goroutines. It is safe
// for concurrent use; each Mine call runs its own search.
type Miner struct {
	// Go starts the search goroutines; the engine sets it to the node's
	// panic guard. Nil starts plain goroutines.
	Go      guard.Go
	threads int
	limit   *rate.Limiter // nil: as fast as the cores go
	hashes  atomic.Uint64 // header hashes tried, ever
}

// NewMiner makes a miner that uses threads goroutines per search and, when
// maxRate > 0, tries at most maxRate hashes per second in all (a dev cluster
// on a shared machine need not burn every core).
func NewMiner(threads int, maxRate float64) *Miner {
	m := &Miner{threads: max(threads, 1)}
	if maxRate > 0 {
		m.limit = rate.NewLimiter(rate.Limit(maxRate), batch)
	}
	return m
}

// Hashes is how many header hashes the miner has tried.
func (m *Miner) Hashes() uint64 { return m.hashes.Load() }

// Mine searches for a nonce that makes h's hash meet h.Difficulty, from a
// random start so two miners do not repeat each other's work. It returns the
// sealed header, how many hashes it tried, and false when ctx ended first.
func (m *Miner) Mine(ctx context.Context, h chain.Header) (chain.Header, uint64, bool) {
	enc, _ := h.AppendBinary(nil)
	target := Target(h.Difficulty)
	start := rand.Uint64()
	var (
		wg       sync.WaitGroup
		found    atomic.Bool
		nonce    uint64
		attempts atomic.Uint64
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for t := range m.threads {
		buf := append([]byte(nil), enc...)
		m.Go.Start(ctx, &wg, "pow.search", func(ctx context.Context) {
			n, tried, ok := m.search(ctx, buf, start+uint64(t), uint64(m.threads), target, &found)
			attempts.Add(tried)
			if ok {
				nonce = n // found's CompareAndSwap let only this goroutine in
				cancel()
			}
		})
	}
	wg.Wait()
	if !found.Load() {
		return h, attempts.Load(), false
	}
	h.Nonce = nonce
	return h, attempts.Load(), true
}

// search tries nonce, nonce+step, ... over buf (a header encoding) until one
// meets target, another goroutine found one, or ctx ends.
func (m *Miner) search(ctx context.Context, buf []byte, nonce, step, target uint64, found *atomic.Bool) (uint64, uint64, bool) {
	var tried uint64
	for ctx.Err() == nil {
		if m.limit != nil && m.limit.WaitN(ctx, batch) != nil {
			break
		}
		for i := range uint64(batch) {
			sum := hashAt(buf, nonce)
			if binary.BigEndian.Uint64(sum[:8]) <= target {
				m.hashes.Add(i + 1)
				return nonce, tried + i + 1, found.CompareAndSwap(false, true)
			}
			nonce += step
		}
		tried += batch
		m.hashes.Add(batch)
	}
	return 0, tried, false
}
