//go:build integration

package cluster

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	harness "github.com/chainotel/chainotel/internal/cluster"
	"github.com/chainotel/chainotel/internal/testproc"
)

// TestHarnessArgsAreTheREADMEs checks the command line of each node against
// the README's: its id, its port, the others as host-less peers, raft, and an
// explicit health port. /bin/true stands in for certs and init.
func TestHarnessArgsAreTheREADMEs(t *testing.T) {
	c, err := harness.New(t.Context(), harness.Config{Binary: "/bin/true", Dir: t.TempDir()})
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
	require.ErrorIs(t, err, harness.ErrUnknownNode)
	require.ErrorIs(t, c.Kill("node0"), harness.ErrNotRunning)
}

// TestProcessLifecycle runs a real process through start, SIGTERM and
// SIGKILL with testproc.Spawn, `sleep` standing in for a node; a second
// process appends to the first one's log.
func TestProcessLifecycle(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "p.log")
	p, err := testproc.Spawn("sh", "/bin/sh", []string{"-c", "echo started; exec sleep 60"}, testproc.Options{Dir: dir, LogPath: log})
	require.NoError(t, err)
	t.Cleanup(p.Kill)
	testproc.WaitFor(t, 10*time.Second, "the process to start", func() error {
		if p.Log() != "started\n" {
			return errors.New("not started yet")
		}
		return nil
	})
	err = p.Stop(10 * time.Second)
	require.Error(t, err) // sleep dies of SIGTERM: not a clean exit
	assert.Equal(t, "signal: terminated", testproc.DescribeExit(err))
	assert.True(t, p.Exited())

	p, err = testproc.Spawn("sh", "/bin/sh", []string{"-c", "echo again; exec sleep 60"}, testproc.Options{Dir: dir, LogPath: log})
	require.NoError(t, err)
	testproc.WaitFor(t, 10*time.Second, "the second process to start", func() error {
		if testproc.TailFile(log, 1) != "again" {
			return errors.New("not started yet")
		}
		return nil
	})
	p.Kill()
	assert.True(t, p.Exited())
	assert.Equal(t, "signal: killed", testproc.DescribeExit(p.ExitErr()))
	b, err := os.ReadFile(log)
	require.NoError(t, err)
	assert.Equal(t, "started\nagain\n", string(b))
}
