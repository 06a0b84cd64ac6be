package cluster

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFreePortsAreDistinct(t *testing.T) {
	ports, err := FreePorts(6)
	require.NoError(t, err)
	seen := map[int]bool{}
	for _, p := range ports {
		require.False(t, seen[p], "port %d twice", p)
		seen[p] = true
	}
}

func TestNewRefusesMissingBinary(t *testing.T) {
	_, err := New(t.Context(), Config{Binary: filepath.Join(t.TempDir(), "nope"), Dir: t.TempDir()})
	require.ErrorContains(t, err, "blockchain binary")
	_, err = New(t.Context(), Config{Dir: t.TempDir()})
	require.ErrorContains(t, err, "no blockchain binary given")
}

// TestArgsAreTheREADMEs checks the command line of each node against the
// README's: its id, its port, the others as host-less peers, raft, and an
// explicit health port. /bin/true stands in for certs and init.
func TestArgsAreTheREADMEs(t *testing.T) {
	c, err := New(t.Context(), Config{Binary: "/bin/true", Dir: t.TempDir()})
	require.NoError(t, err)
	n0, n1, n2 := c.Node("node0"), c.Node("node1"), c.Node("node2")
	args, err := c.Args("node1")
	require.NoError(t, err)
	assert.Equal(t, []string{
		"--node-id=node1",
		"--port=" + strconv.Itoa(n1.Port),
		"--peers=:" + strconv.Itoa(n0.Port) + ",:" + strconv.Itoa(n2.Port),
		"--consensus=raft",
		"--health-port=" + strconv.Itoa(n1.HealthPort),
	}, args)
	assert.Equal(t, "http://127.0.0.1:"+strconv.Itoa(n1.Port), n1.API)

	_, err = c.Args("node9")
	require.ErrorIs(t, err, ErrUnknownNode)
	require.ErrorIs(t, c.Kill("node0"), ErrNotRunning)
}

// TestProcessLifecycle runs a real process through start, SIGTERM and
// SIGKILL, with `sleep` standing in for a node.
func TestProcessLifecycle(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "p.log")
	p, err := startProc("/bin/sh", []string{"-c", "echo started; exec sleep 60"}, dir, nil, log)
	require.NoError(t, err)
	require.NoError(t, Poll(ctxWithin(t, 10*time.Second), func() error {
		b, _ := os.ReadFile(log)
		if string(b) != "started\n" {
			return errors.New("not started yet")
		}
		return nil
	}))
	err = p.stop(10 * time.Second)
	require.Error(t, err) // sleep dies of SIGTERM: not a clean exit
	assert.Equal(t, "signal: terminated", describeExit(err))

	p, err = startProc("/bin/sleep", []string{"60"}, dir, nil, log)
	require.NoError(t, err)
	p.kill()
	assert.True(t, p.exited())
}

func TestPollStopsEarly(t *testing.T) {
	calls := 0
	err := Poll(ctxWithin(t, time.Minute), func() error {
		calls++
		return Stop(ErrExited)
	})
	require.ErrorIs(t, err, ErrExited)
	assert.Equal(t, 1, calls)

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err = Poll(ctx, func() error { return errors.New("never") })
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorContains(t, err, "last: never")
}

func ctxWithin(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}
