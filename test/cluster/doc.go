//go:build integration

// Package cluster holds the node's process tests: real `blockchain` processes
// on loopback, started as the README does (certs, init, one process per
// node) through internal/cluster. They check agreement, crash recovery and
// snapshots, peer authentication, the HTTP API, the metrics format, the
// command line itself, and the process harness they stand on.
package cluster
