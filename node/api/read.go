package api

import (
	"context"
	"net/http"

	"github.com/chainotel/chainotel/node/consensus"
)

// Read consistency: the values of ?consistency= on the routes that read the
// chain (GET /blocks/..., /tx/{hash}, /accounts/{addr}).
const (
	// ConsistencyLinearizable reads see every write committed anywhere in
	// the cluster before the request arrived: the default under raft, where
	// the node first gets a read index from the leader (ReadIndex) and
	// waits until it applied that far. No quorum within the commit timeout
	// is a 503, as for POST /tx.
	ConsistencyLinearizable = "linearizable"
	// ConsistencyLocal reads answer from this node's applied state at once:
	// cheaper (no round to the leader), but a follower that lags, or a
	// leader cut off from its quorum, answers with older state. Under proof
	// of work every read is local: there is no leader to ask, and a block
	// may still be reorganised away.
	ConsistencyLocal = "local"
)

// HeaderConsistency says in every answer of a chain read which consistency
// it was served with.
const HeaderConsistency = "Chainotel-Read-Consistency"

// readBarrier does what the request's ?consistency= asks before the handler
// reads the local state, and says which it was in the answer's header.
func (a *API) readBarrier(w http.ResponseWriter, r *http.Request) error {
	lr, canLinear := a.cfg.Engine.(consensus.LinearReader)
	want := r.URL.Query().Get("consistency")
	switch want {
	case "", ConsistencyLinearizable:
		if !canLinear {
			if want != "" {
				return badRequest("consistency", "consistency=%s: this node runs %s, whose reads are local by nature; leave consistency out or ask for %s",
					want, a.cfg.Engine.Status().Consensus, ConsistencyLocal)
			}
			break
		}
		ctx, cancel := context.WithTimeout(r.Context(), a.CommitTimeout())
		defer cancel()
		if err := lr.ReadBarrier(ctx); err != nil {
			return err
		}
		w.Header().Set(HeaderConsistency, ConsistencyLinearizable)
		return nil
	case ConsistencyLocal:
	default:
		return badRequest("consistency", "consistency %q: want %q (the default under raft) or %q", want, ConsistencyLinearizable, ConsistencyLocal)
	}
	w.Header().Set(HeaderConsistency, ConsistencyLocal)
	return nil
}
