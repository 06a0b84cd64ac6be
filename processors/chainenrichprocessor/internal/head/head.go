// Package head tracks the chain head (height, block hash, state root) per
// chain and node.
package head

import (
	"strconv"
	"sync"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

// Key names one node of one chain.
type Key struct {
	Chain string // chain.id
	Node  string // service.instance.id
}

// Head is the latest block a node reported.
type Head struct {
	Height    int64
	Hash      string
	StateRoot string
}

// Tracker holds the head of each (chain, node), the least recently updated
// evicted beyond its capacity. Safe for concurrent use.
type Tracker struct {
	mu    sync.Mutex
	heads *simplelru.LRU[Key, Head]
}

// New returns a Tracker that holds at most capacity heads (capacity > 0).
func New(capacity int) (*Tracker, error) {
	l, err := simplelru.NewLRU[Key, Head](capacity, nil)
	if err != nil {
		return nil, err
	}
	return &Tracker{heads: l}, nil
}

// Observe records that k reported block h. A lower height never moves the
// head back (spans arrive out of order); the same height fills in what an
// earlier report lacked (consensus.commit has no state root, block.apply has).
func (t *Tracker) Observe(k Key, h Head) {
	t.mu.Lock()
	defer t.mu.Unlock()
	cur, ok := t.heads.Peek(k)
	switch {
	case !ok || h.Height > cur.Height:
		t.heads.Add(k, h)
	case h.Height == cur.Height:
		if cur.Hash == "" {
			cur.Hash = h.Hash
		}
		if cur.StateRoot == "" {
			cur.StateRoot = h.StateRoot
		}
		t.heads.Add(k, cur)
	}
}

// Get returns k's head, if any was observed.
func (t *Tracker) Get(k Key) (Head, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.heads.Peek(k)
}

// Len is the number of heads tracked.
func (t *Tracker) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.heads.Len()
}

// FromAttributes reads a head from attrs (chain.block.height and friends,
// keys given by the caller). The height may be an int, a double or a decimal
// string; without a usable height there is no head.
func FromAttributes(attrs pcommon.Map, heightKey, hashKey, stateRootKey string) (Head, bool) {
	v, ok := attrs.Get(heightKey)
	if !ok {
		return Head{}, false
	}
	var h Head
	switch v.Type() {
	case pcommon.ValueTypeInt:
		h.Height = v.Int()
	case pcommon.ValueTypeDouble:
		h.Height = int64(v.Double())
	case pcommon.ValueTypeStr:
		n, err := strconv.ParseInt(v.Str(), 10, 64)
		if err != nil {
			return Head{}, false
		}
		h.Height = n
	default:
		return Head{}, false
	}
	if h.Height < 0 {
		return Head{}, false
	}
	if s, ok := attrs.Get(hashKey); ok {
		h.Hash = s.AsString()
	}
	if s, ok := attrs.Get(stateRootKey); ok {
		h.StateRoot = s.AsString()
	}
	return h, true
}
