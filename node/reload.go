package node

import (
	"net/http"
	"time"

	"github.com/chainotel/chainotel/node/api"
	"github.com/chainotel/chainotel/node/mempool"
	"github.com/chainotel/chainotel/node/store"
)

// Limits are the node's settings that change while it runs: the config
// reloader (node/config) drives them on SIGHUP. Each setter applies at once
// and is safe to call concurrently with the node's work; a value <= 0 means
// the default (for MinFreeDisk, 0 turns the check off).
type Limits struct {
	api   *api.API
	pool  *mempool.Pool
	store *store.Store
}

// Limits returns the node's live limits. Call it after New; the setters stay
// harmless after Run has returned.
func (n *Node) Limits() Limits { return Limits{api: n.api, pool: n.pool, store: n.store} }

// MaxClientRequests is the --max-client-requests in force.
func (l Limits) MaxClientRequests() int { return l.api.MaxClientRequests() }

// SetMaxClientRequests changes --max-client-requests.
func (l Limits) SetMaxClientRequests(v int) { l.api.SetMaxClientRequests(v) }

// CommitTimeout is the --commit-timeout in force.
func (l Limits) CommitTimeout() time.Duration { return l.api.CommitTimeout() }

// SetCommitTimeout changes --commit-timeout for the requests that start
// after it.
func (l Limits) SetCommitTimeout(d time.Duration) { l.api.SetCommitTimeout(d) }

// MempoolSize is the --mempool-size in force.
func (l Limits) MempoolSize() int { return l.pool.Max() }

// SetMempoolSize changes --mempool-size.
func (l Limits) SetMempoolSize(v int) {
	if v <= 0 {
		v = DefaultConfig().MempoolSize
	}
	l.pool.SetMax(v)
}

// MinFreeDisk is the --min-free-disk in force.
func (l Limits) MinFreeDisk() uint64 { return l.store.MinFreeBytes() }

// SetMinFreeDisk changes --min-free-disk; the next write batch is checked
// against it.
func (l Limits) SetMinFreeDisk(v uint64) { l.store.SetMinFreeBytes(v) }

// withCommitReadDeadline sizes each client request's read deadline by the
// commit timeout in force, not the one the server's ReadTimeout was built
// from: net/http cancels a request whose read deadline passes while its
// handler waits, so a raised --commit-timeout would otherwise end POST /tx
// early.
func (n *Node) withCommitReadDeadline(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if d := n.api.CommitTimeout(); d > n.cfg.CommitTimeout {
			_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(readBodyTimeout + d))
		}
		next.ServeHTTP(w, r)
	})
}
