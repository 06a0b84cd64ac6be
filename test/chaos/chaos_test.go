//go:build integration

package chaos

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chainotel/chainotel/internal/testbin"
)

// Environment variables: CHAINOTEL_CHAOS=full runs every fault (make chaos);
// CHAINOTEL_CHAOS_REPORT names a file the table is also written to.
const (
	envMode   = "CHAINOTEL_CHAOS"
	envReport = "CHAINOTEL_CHAOS_REPORT"
	// envHistory names where the history is saved (by TestChaos) or read
	// from (by TestReplayHistory).
	envHistory = "CHAINOTEL_CHAOS_HISTORY"
	// diskNode runs on the small filesystem in the full suite.
	diskNode = "node2"
	workers  = 9
)

// TestChaos runs the suite: the short one by default, every fault with
// CHAINOTEL_CHAOS=full.
func TestChaos(t *testing.T) {
	full := os.Getenv(envMode) == "full"
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Minute)
	defer cancel()

	cfg := EnvConfig{Binary: testbin.Blockchain(t), Telemetry: true, DBPath: map[string]string{}}
	var disk *SmallDisk
	if full {
		disk = mountDisk(t)
		if disk != nil {
			cfg.DBPath[diskNode] = filepath.Join(disk.Dir, "badger")
		}
	}
	e := StartEnv(ctx, t, cfg)

	hist := NewHistory()
	load := NewLoad(e.Client, e.Cluster.Nodes(), hist, workers)
	load.Start(ctx)
	t.Cleanup(load.Stop)
	s := &Suite{Env: e, Load: load, Hist: hist, Hold: 4 * time.Second}
	faults := []Fault{KillLeader(), PartitionLeader(), PauseLeader(), KillCollector()}
	if full {
		s.Hold = 6 * time.Second
		faults = append(faults, KillFollower(), PartitionFollower(), SentryDown(),
			Combined(KillLeader(), KillCollector(), SentryDown()),
			noQuorum(Combined(PartitionFollower(), PauseLeader())))
		if disk != nil {
			// Last, so the final collector's loss counters cover it.
			faults = append(faults, DiskFull(diskNode, disk))
		}
	}

	require.NoError(t, s.Baseline(ctx))
	for _, f := range faults {
		t.Logf("fault: %s", f.Name)
		require.NoError(t, s.Run(ctx, f))
	}
	historyPath := os.Getenv(envHistory)
	if historyPath == "" {
		historyPath = filepath.Join(t.TempDir(), "history.json")
	}
	v, err := s.Finish(ctx, historyPath)
	require.NoError(t, err)

	acks := hist.Acks()
	require.NotEmpty(t, acks, "no transfer was acknowledged at all")
	split, err := s.judgeTraces(acks)
	require.NoError(t, err)

	var table bytes.Buffer
	require.NoError(t, WriteTable(&table, s.Rows, v))
	t.Logf("chaos results:\n%s", table.String())
	if p := os.Getenv(envReport); p != "" {
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, table.Bytes(), 0o644))
	}
	if disk != nil {
		t.Logf("small disk after the run: %s", disk.Usage())
	}

	assert.Empty(t, v.Rejected, "the nodes refused valid transfers")
	assert.Empty(t, v.Lost, "acknowledged transfers missing from a node's chain")
	assert.Empty(t, v.Twice, "transfers applied more than once")
	assert.Empty(t, v.Phantom, "transfers in the chain that no client sent")
	assert.True(t, v.Identical, "chains differ: %s", v.Diverged)
	assert.NoError(t, v.Linear)
	assert.Empty(t, v.LocalWrong, "local reads broke what ?consistency=local promises")
	assert.Positive(t, v.LocalReads, "no local read was made")
	assert.Empty(t, split, "kept traces missing the spans of a node they crossed")
	if full {
		// The combined fault kills a node while Sentry is down: the error
		// logs of its peers reach Sentry once it is back.
		assert.Positive(t, v.SentryEvents, "no error reached Sentry after its outage")
	}
	assert.Empty(t, v.SentryProblems, "the collector spoke the Sentry protocol wrongly")
	if e.Sink != nil && len(e.Sink.Spans()) == 0 {
		t.Logf("note: the nodes exported no spans to the collector, so traces were not judged")
	}
	for _, r := range s.Rows {
		assert.True(t, r.Identical, "%s: the nodes held different blocks at their common height", r.Fault)
		assert.NotEqual(t, "never", r.Resumed, "%s: no transfer sent after the fault ever committed", r.Fault)
		if r.NoQuorum {
			assert.Zero(t, r.AckedNoQuorum, "%s: transfers committed without a quorum", r.Fault)
		}
		if r.CollectorDown {
			assert.Positive(t, r.AckedWhileCollectorOff, "%s: the nodes stopped committing while the collector was down", r.Fault)
		}
	}
}

// noQuorum marks f as leaving no majority able to vote (one follower cut
// off, the leader paused: the other follower is one of three), so commits
// resume only when it is healed.
func noQuorum(f Fault) Fault {
	f.NoQuorum = true
	return f
}

// mountDisk mounts the full-disk fault's filesystem, or says why that case
// is skipped and returns nil.
func mountDisk(t *testing.T) *SmallDisk {
	t.Helper()
	d, err := MountSmallDisk(filepath.Join(t.TempDir(), "small-disk"))
	if errors.Is(err, os.ErrPermission) {
		t.Logf("skipping the full-disk fault: %v (it needs root or CAP_SYS_ADMIN to mount a tmpfs)", err)
		return nil
	}
	require.NoError(t, err)
	// Registered before the cluster's cleanup, so it runs after the nodes stopped.
	t.Cleanup(func() {
		if err := d.Unmount(); err != nil {
			t.Errorf("chaos: %v", err)
		}
	})
	return d
}
