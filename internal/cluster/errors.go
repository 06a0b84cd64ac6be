package cluster

import "errors"

// Sentinel errors, matched with errors.Is.
var (
	// ErrUnknownNode means a node id that is not part of the cluster.
	ErrUnknownNode = errors.New("unknown node")
	// ErrNotRunning means an operation needs a running node process.
	ErrNotRunning = errors.New("node not running")
	// ErrAlreadyRunning means Start was called for a node that runs.
	ErrAlreadyRunning = errors.New("node already running")
	// ErrExited means a node process exited while it was being waited for.
	ErrExited = errors.New("node process exited")
	// ErrNoLeader means no running node reports a leader.
	ErrNoLeader = errors.New("no leader")
	// ErrHTTPStatus means the node answered an HTTP request with an unexpected status.
	ErrHTTPStatus = errors.New("unexpected HTTP status")
)
