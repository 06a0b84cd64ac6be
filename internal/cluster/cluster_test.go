package cluster

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestNewRefusesMissingBinary checks New's input before it runs anything.
// The command lines and process lifecycle are checked with real processes
// in test/cluster (harness_test.go).
func TestNewRefusesMissingBinary(t *testing.T) {
	_, err := New(t.Context(), Config{Binary: filepath.Join(t.TempDir(), "nope"), Dir: t.TempDir()})
	require.ErrorContains(t, err, "blockchain binary")
	_, err = New(t.Context(), Config{Dir: t.TempDir()})
	require.ErrorContains(t, err, "no blockchain binary given")
	_, err = New(t.Context(), Config{Binary: "/bin/true"})
	require.ErrorContains(t, err, "no working folder given")
}
