package pow

import (
	"fmt"
	"sync"

	"github.com/chainotel/chainotel/node/chain"
)

// node is one known block in the tree of branches.
type node struct {
	hdr    chain.Header
	hash   chain.Hash
	parent *node
	work   uint64 // cumulative: the sum of the difficulties from block 1 to this one
}

// tree holds the headers of every block the engine accepted, on the best
// chain or a side branch, linked to their parents. The engine's loop changes
// it; the sync goroutine reads it, hence the lock.
type tree struct {
	mu     sync.RWMutex
	byHash map[chain.Hash]*node
	best   *node
}

func newTree(genesis chain.Header, hash chain.Hash) *tree {
	g := &node{hdr: genesis, hash: hash}
	return &tree{byHash: map[chain.Hash]*node{hash: g}, best: g}
}

func (t *tree) get(h chain.Hash) *node {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.byHash[h]
}

func (t *tree) head() *node {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.best
}

// add links a block under its parent (which must be known) and returns it.
func (t *tree) add(hdr chain.Header, hash chain.Hash) (*node, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if n, ok := t.byHash[hash]; ok {
		return n, nil
	}
	p, ok := t.byHash[hdr.Parent]
	if !ok {
		return nil, fmt.Errorf("%w: %s at %d", ErrUnknownParent, hdr.Parent, hdr.Height-1)
	}
	n := &node{hdr: hdr, hash: hash, parent: p, work: p.work + hdr.Difficulty}
	t.byHash[hash] = n
	return n, nil
}

func (t *tree) setBest(n *node) {
	t.mu.Lock()
	t.best = n
	t.mu.Unlock()
}

// heavier is the fork-choice rule: the chain with the most cumulative work
// wins; on a tie the one already chosen stays, so a node does not flap
// between two equal branches.
func heavier(candidate, best *node) bool { return candidate.work > best.work }

// ancestor is n's ancestor at height h (n itself when h is its height).
func (n *node) ancestor(h uint64) (*node, error) {
	for ; n != nil && n.hdr.Height > h; n = n.parent {
	}
	if n == nil || n.hdr.Height != h {
		return nil, fmt.Errorf("no block at height %d on this branch", h)
	}
	return n, nil
}

// forkPoint is the last block a and b have in common.
func forkPoint(a, b *node) *node {
	for a != b {
		if a.hdr.Height >= b.hdr.Height {
			a = a.parent
		} else {
			b = b.parent
		}
		if a == nil || b == nil {
			return nil
		}
	}
	return a
}

// branch is the blocks after fork up to and including tip, lowest first.
func branch(fork, tip *node) []*node {
	out := make([]*node, 0, tip.hdr.Height-fork.hdr.Height)
	for n := tip; n != fork; n = n.parent {
		out = append(out, n)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// nextDifficulty is the difficulty a child of n must carry.
func nextDifficulty(p *chain.PoWParams, n *node) (uint64, error) {
	return NextDifficulty(p, n.hdr, func(h uint64) (chain.Header, error) {
		a, err := n.ancestor(h)
		if err != nil {
			return chain.Header{}, err
		}
		return a.hdr, nil
	})
}
