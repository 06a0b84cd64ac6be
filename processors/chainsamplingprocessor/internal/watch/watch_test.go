package watch

import (
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestCallsBackWhenTheFileChanges(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "policies.yaml")
	require.NoError(t, os.WriteFile(path, []byte("a"), 0o600))

	var calls atomic.Int32
	ctx, cancel := context.WithCancel(t.Context())
	done, err := File(ctx, path, 10*time.Millisecond, func() { calls.Add(1) }, func(err error) { t.Error(err) })
	require.NoError(t, err)

	// Written in place. (Other files in the directory also change; a
	// spurious call would only make the caller re-read an unchanged file.)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "other.yaml"), []byte("x"), 0o600))
	require.NoError(t, os.WriteFile(path, []byte("b"), 0o600))
	require.Eventually(t, func() bool { return calls.Load() >= 1 }, 5*time.Second, time.Millisecond)

	// Replaced by a rename, as editors do.
	before := calls.Load()
	tmp := filepath.Join(dir, ".policies.yaml.tmp")
	require.NoError(t, os.WriteFile(tmp, []byte("c"), 0o600))
	require.NoError(t, os.Rename(tmp, path))
	require.Eventually(t, func() bool { return calls.Load() > before }, 5*time.Second, time.Millisecond)

	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the watcher did not stop with its context")
	}
}

func TestMissingDirectory(t *testing.T) {
	_, err := File(t.Context(), filepath.Join(t.TempDir(), "nope", "p.yaml"), time.Millisecond, func() {}, func(error) {})
	require.ErrorContains(t, err, "nope")
}
