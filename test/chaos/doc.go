//go:build integration

// Package chaos is the fault-injection suite: it runs a real three-node
// cluster (and, in the full suite, the ocb-built collector with a local Sentry
// endpoint) on loopback, drives a load of transfers and reads while it injects
// faults one at a time and then combined, and checks what a user relies on:
//
//   - the history of acknowledged transfers and reads is linearizable
//     (github.com/anishathalye/porcupine, accounts with balances; a 503 or a
//     timeout is an unknown outcome, an operation that may take effect at any
//     time after it was sent);
//   - after recovery every acknowledged transaction is in every node's chain
//     and the chains are identical;
//   - how long the cluster took to commit again after each fault, and to bring
//     every node back to the same head;
//   - the nodes kept committing while the collector was down, and kept traces
//     hold the spans of every node they crossed.
//
// Peer traffic runs through loopback TCP proxies (internal/netproxy; each node's
// --peers names its proxies), so a partition is the proxies of one node
// refusing and dropping connections; mTLS passes through untouched. A full
// disk is a small tmpfs mounted for one node's --db-path (skipped, with the
// reason, where mounting is not permitted).
//
// `go test -tags integration ./test/chaos/` runs the short suite;
// CHAINOTEL_CHAOS=full (what `make chaos` sets) runs every fault: the
// variable sets the size of the run, the integration tag switches it on.
// Both print the table of results.
package chaos
