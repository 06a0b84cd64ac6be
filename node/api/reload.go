package api

import "time"

// The limits below change while the node runs (SIGHUP, see node/config);
// each setter applies at once to the requests that start after it.

// CommitTimeout is how long POST /tx waits for its block now.
func (a *API) CommitTimeout() time.Duration { return time.Duration(a.commitTimeout.Load()) }

// SetCommitTimeout changes how long POST /tx waits for its block; d <= 0
// means DefaultCommitTimeout. Requests already waiting keep their deadline.
func (a *API) SetCommitTimeout(d time.Duration) {
	if d <= 0 {
		d = DefaultCommitTimeout
	}
	a.commitTimeout.Store(int64(d))
}

// MaxClientRequests is the limit of requests in flight per client now.
func (a *API) MaxClientRequests() int {
	a.limiter.mu.Lock()
	defer a.limiter.mu.Unlock()
	return a.limiter.max
}

// SetMaxClientRequests changes the requests one client may have in flight;
// n <= 0 means DefaultMaxClientRequests.
func (a *API) SetMaxClientRequests(n int) {
	if n <= 0 {
		n = DefaultMaxClientRequests
	}
	a.limiter.setMax(n)
}
