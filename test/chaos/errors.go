//go:build integration

package chaos

import "errors"

// Sentinel errors, matched with errors.Is.
var (
	// ErrProxyClosed means the proxy was closed.
	ErrProxyClosed = errors.New("proxy closed")
	// ErrNotLinearizable means porcupine found no linearization of the history.
	ErrNotLinearizable = errors.New("history is not linearizable")
	// ErrCheckTimeout means porcupine did not finish within its time bound.
	ErrCheckTimeout = errors.New("linearizability check timed out")
	// ErrLost means an acknowledged transaction is missing from a node's chain.
	ErrLost = errors.New("acknowledged transaction lost")
	// ErrDiverged means two nodes hold different blocks at the same height.
	ErrDiverged = errors.New("chains diverged")
	// ErrNoLeader means no node reports a leader.
	ErrNoLeader = errors.New("no leader")
)
