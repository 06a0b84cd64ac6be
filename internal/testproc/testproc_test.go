package testproc

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The process runner itself is exercised with real processes in
// test/cluster (harness_test.go); these tests start none.

func TestPortsAreDistinct(t *testing.T) {
	ports, err := Ports(6)
	require.NoError(t, err)
	seen := map[int]bool{}
	for _, p := range ports {
		require.False(t, seen[p], "port %d twice", p)
		seen[p] = true
	}
}

func TestSpawnNeedsALogPath(t *testing.T) {
	_, err := Spawn("x", "/bin/true", nil, Options{})
	require.ErrorContains(t, err, "spawn x: no log path given")
	_, err = Spawn("x", "/bin/true", nil, Options{LogPath: filepath.Join(t.TempDir(), "no", "such", "dir", "x.log")})
	require.ErrorContains(t, err, "spawn x: open log")
}

func TestUntilGivesUpAtOnce(t *testing.T) {
	calls := 0
	stopped := errors.New("it died")
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	err := Until(ctx, func() error {
		calls++
		return GiveUp(stopped)
	})
	require.ErrorIs(t, err, stopped)
	assert.Equal(t, 1, calls)
}

func TestUntilNamesTheContextAndTheLastError(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := Until(ctx, func() error { return errors.New("never") })
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorContains(t, err, "last: never")
}

func TestPollReturnsTheLastErrorAtTheDeadline(t *testing.T) {
	n := 0
	err := Poll(t.Context(), 120*time.Millisecond, func() error {
		n++
		return errors.New("not yet")
	})
	require.EqualError(t, err, "not yet")
	assert.GreaterOrEqual(t, n, 2)

	n = 0
	require.NoError(t, Poll(t.Context(), time.Minute, func() error {
		if n++; n < 3 {
			return errors.New("not yet")
		}
		return nil
	}))
}

func TestTailFile(t *testing.T) {
	assert.Empty(t, TailFile(filepath.Join(t.TempDir(), "none"), 3))
}

func TestDescribeExit(t *testing.T) {
	assert.Equal(t, "exit status 0", DescribeExit(nil))
	assert.Equal(t, "boom", DescribeExit(errors.New("boom")))
}
