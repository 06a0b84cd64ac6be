// Package clustertest holds the multi-process cluster test of the node: it
// starts three real `blockchain` processes on loopback exactly as the README
// does and checks agreement, crash recovery, peer authentication and the
// metrics format. The reusable starter lives in the cluster sub-package.
package clustertest
