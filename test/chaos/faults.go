//go:build integration

package chaos

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"time"

	"github.com/chainotel/chainotel/internal/sentrytest"
)

// leaderWait bounds the wait for a leader before a fault that needs one.
const leaderWait = 30 * time.Second

// HealFunc undoes a fault.
type HealFunc func(ctx context.Context) error

// Fault is one injected failure: Inject breaks something and says how to heal it.
type Fault struct {
	Name string
	// CollectorDown marks faults that stop the collector: spans made while
	// it is down may be lost by design, so their traces are not judged.
	CollectorDown bool
	// NoQuorum marks faults that leave fewer than a majority of the
	// nodes able to vote: nothing can commit until they are healed.
	NoQuorum bool
	Inject   func(ctx context.Context, e *Env) (HealFunc, error)
}

// KillLeader sends SIGKILL to the leader; healing restarts it.
func KillLeader() Fault {
	return Fault{Name: "SIGKILL leader", Inject: func(ctx context.Context, e *Env) (HealFunc, error) {
		id, err := e.WaitLeader(ctx, leaderWait)
		if err != nil {
			return nil, err
		}
		return killNode(e, id)
	}}
}

// KillFollower sends SIGKILL to a follower; healing restarts it.
func KillFollower() Fault {
	return Fault{Name: "SIGKILL follower", Inject: func(ctx context.Context, e *Env) (HealFunc, error) {
		id, err := e.WaitLeader(ctx, leaderWait)
		if err != nil {
			return nil, err
		}
		return killNode(e, e.Follower(id))
	}}
}

func killNode(e *Env, id string) (HealFunc, error) {
	if err := e.Cluster.Kill(id); err != nil {
		return nil, err
	}
	return func(context.Context) error { return e.Start(id) }, nil
}

// PartitionLeader cuts the leader off from both peers (its clients still
// reach it); healing lets its links through again.
func PartitionLeader() Fault {
	return Fault{Name: "partition leader", Inject: func(ctx context.Context, e *Env) (HealFunc, error) {
		id, err := e.WaitLeader(ctx, leaderWait)
		if err != nil {
			return nil, err
		}
		return isolate(e, id), nil
	}}
}

// PartitionFollower cuts a follower off from both peers.
func PartitionFollower() Fault {
	return Fault{Name: "partition follower", Inject: func(ctx context.Context, e *Env) (HealFunc, error) {
		id, err := e.WaitLeader(ctx, leaderWait)
		if err != nil {
			return nil, err
		}
		return isolate(e, e.Follower(id)), nil
	}}
}

func isolate(e *Env, id string) HealFunc {
	e.Mesh.Isolate(id)
	return func(context.Context) error { e.Mesh.HealAll(); return nil }
}

// PauseLeader stops the leader with SIGSTOP; healing sends SIGCONT. A paused
// process holds its connections open and answers nothing, unlike a dead one.
func PauseLeader() Fault {
	return Fault{Name: "SIGSTOP leader", Inject: func(ctx context.Context, e *Env) (HealFunc, error) {
		id, err := e.WaitLeader(ctx, leaderWait)
		if err != nil {
			return nil, err
		}
		return pause(e, id)
	}}
}

func pause(e *Env, id string) (HealFunc, error) {
	pid := e.Cluster.Node(id).Pid()
	if pid == 0 {
		return nil, fmt.Errorf("pause %s: not running", id)
	}
	if err := syscall.Kill(-pid, syscall.SIGSTOP); err != nil {
		return nil, fmt.Errorf("pause %s: %w", id, err)
	}
	// Should the test fail before healing, a stopped node would ignore the
	// cleanup's SIGTERM; SIGCONT first.
	e.tb.Cleanup(func() { _ = syscall.Kill(-pid, syscall.SIGCONT) })
	return func(context.Context) error {
		if err := syscall.Kill(-pid, syscall.SIGCONT); err != nil {
			return fmt.Errorf("resume %s: %w", id, err)
		}
		return nil
	}, nil
}

// DiskFull fills the small filesystem under node id's --db-path. Healing
// frees the space and restarts the node if the full disk ended it.
func DiskFull(id string, disk *SmallDisk) Fault {
	return Fault{Name: "full disk " + id, Inject: func(_ context.Context, e *Env) (HealFunc, error) {
		if err := disk.Fill(); err != nil {
			return nil, err
		}
		return func(_ context.Context) error {
			if err := disk.Free(); err != nil {
				return err
			}
			if n := e.Cluster.Node(id); !n.Running() {
				e.tb.Logf("%s ended on the full disk (%v)%s; restarting it", id, n.ExitErr(), exitReason(n))
				// The node must stop on its own disk-space guard (a storage
				// error it logs), not die inside Badger's mmap with a SIGBUS.
				if log := currentRun(n.Log()); strings.Contains(log, "[signal ") || !strings.Contains(log, "disk full") {
					return fmt.Errorf("%s did not stop on its disk-space guard:%s", id, exitReason(n))
				}
				return e.Start(id)
			}
			return nil
		}, nil
	}}
}

// KillCollector kills the collector with SIGKILL; healing starts a new one
// behind the same proxy address, with the same persistent queue folder.
func KillCollector() Fault {
	return Fault{Name: "SIGKILL collector", CollectorDown: true, Inject: func(_ context.Context, e *Env) (HealFunc, error) {
		e.KillCollector()
		return func(context.Context) error { e.RestartCollector(); return nil }, nil
	}}
}

// SentryDown makes the Sentry endpoint answer 503 to everything; healing
// makes it accept again.
func SentryDown() Fault {
	return Fault{Name: "Sentry down", Inject: func(_ context.Context, e *Env) (HealFunc, error) {
		e.Sentry.Respond(func(int) sentrytest.Response { return sentrytest.Response{Status: 503} })
		return func(context.Context) error { e.Sentry.Respond(nil); return nil }, nil
	}}
}

// Combined injects faults in order and heals them in reverse order.
func Combined(faults ...Fault) Fault {
	f := Fault{}
	for i, g := range faults {
		if i > 0 {
			f.Name += " + "
		}
		f.Name += g.Name
		f.CollectorDown = f.CollectorDown || g.CollectorDown
	}
	f.Inject = func(ctx context.Context, e *Env) (HealFunc, error) {
		var heals []HealFunc
		healAll := func(ctx context.Context) error {
			for i := len(heals) - 1; i >= 0; i-- {
				if err := heals[i](ctx); err != nil {
					return err
				}
			}
			return nil
		}
		for _, g := range faults {
			h, err := g.Inject(ctx, e)
			if err != nil {
				_ = healAll(ctx)
				return nil, fmt.Errorf("%s: %w", g.Name, err)
			}
			heals = append(heals, h)
		}
		return healAll, nil
	}
	return f
}
