package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/chainotel/chainotel/node/consensus"
	"github.com/chainotel/chainotel/node/store"
)

// MaxConfirmations bounds POST /tx?confirmations=N.
const MaxConfirmations = 100

// headWatch wakes the requests waiting for confirmations each time a block
// is applied. Safe for concurrent use.
type headWatch struct {
	mu sync.Mutex
	ch chan struct{}
}

func newHeadWatch() *headWatch { return &headWatch{ch: make(chan struct{})} }

// changed is closed at the next applied block.
func (h *headWatch) changed() <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.ch
}

func (h *headWatch) bump() {
	h.mu.Lock()
	close(h.ch)
	h.ch = make(chan struct{})
	h.mu.Unlock()
}

// confirmations reads the optional ?confirmations=N of POST /tx: how many
// blocks of the node's best chain must hold the transaction (its own and
// those after it) before the answer. 1, the default, answers at inclusion.
func confirmations(r *http.Request) (uint64, error) {
	q := r.URL.Query().Get("confirmations")
	if q == "" {
		return 1, nil
	}
	n, err := strconv.ParseUint(q, 10, 64)
	if err != nil || n < 1 || n > MaxConfirmations {
		return 0, badRequest("confirmations", "must be a whole number from 1 to %d, got %q", MaxConfirmations, q)
	}
	return n, nil
}

// awaitConfirmations waits until the transaction of rcpt is n blocks deep in
// the best chain and answers where it is then: under proof of work a
// reorganisation may have moved it to another block, or taken it out until
// a miner includes it again. It gives up after n commit timeouts.
func (a *API) awaitConfirmations(ctx context.Context, rcpt *Receipt, n uint64) (*Receipt, error) {
	ctx, cancel := context.WithTimeout(ctx, a.CommitTimeout()*time.Duration(n))
	defer cancel()
	for {
		changed := a.heads.changed()
		_, loc, err := a.cfg.Chain.Tx(rcpt.TxHash)
		switch {
		case errors.Is(err, store.ErrNotFound): // reorganised out: wait for it to come back
		case err != nil:
			return rcpt, err
		default:
			head, _ := a.cfg.Chain.Head()
			if head.Height+1 >= loc.Height+n {
				b, err := a.cfg.Chain.BlockByHeight(loc.Height)
				if err != nil {
					return rcpt, err
				}
				return &Receipt{TxHash: rcpt.TxHash, BlockHash: b.Hash(), Height: loc.Height}, nil
			}
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return rcpt, fmt.Errorf("%w: transaction %s not %d blocks deep in time", consensus.ErrNoQuorum, rcpt.TxHash, n)
		}
	}
}
