//go:build integration

package chaos

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/chainotel/chainotel/internal/cluster"
	"github.com/chainotel/chainotel/internal/testproc"
)

// recoverWait bounds the wait for every node to be back, connected and at
// the cluster's height after a fault is healed.
const recoverWait = 90 * time.Second

// Row is one fault's outcome; times are offsets on the History's clock.
type Row struct {
	Fault                 string
	Inject, Heal, Settled time.Duration
	CaughtUp              time.Duration // from heal until every node is back at the cluster's height
	Identical             bool          // every node held the same block at the common height
	CollectorDown         bool
	NoQuorum              bool // nothing may commit while it is held
	// AckedNoQuorum counts transfers sent after a no-quorum fault's
	// injection and acknowledged before its heal: any is a split brain.
	AckedNoQuorum          int
	Note                   string
	Acked, Lost            int    // filled by the final checks
	Resumed                string // time from injection to the first commit of a transfer sent after it
	Traces                 string
	AckedWhileCollectorOff int
	// Died are the nodes that were down when the fault was healed: spans
	// they had made but not yet exported died with them.
	Died []string
	// Dropped are the nodes that counted spans dropped before export
	// from this row's start until the row after next starts (see attributeDrops).
	Dropped []string
	dropped map[string]map[string]float64 // the counters at injection
}

// Suite injects faults into an Env under a Load and records a Row for each.
type Suite struct {
	Env  *Env
	Load *Load
	Hist *History
	Hold time.Duration // how long each fault is held
	Rows []*Row
}

// Baseline records a period without faults, so the table shows the load's
// normal rate next to the faults.
func (s *Suite) Baseline(ctx context.Context) error {
	row := &Row{Fault: "none (baseline)", Inject: s.Hist.Now()}
	if err := s.snapshot(ctx, row); err != nil {
		return err
	}
	if err := hold(ctx, s.Hold); err != nil {
		return err
	}
	row.Heal = s.Hist.Now()
	return s.settle(ctx, row)
}

// Run injects f, holds it, heals it and waits until the cluster recovered.
func (s *Suite) Run(ctx context.Context, f Fault) error {
	before, _ := s.Env.Leader(ctx) // "" if none: the note then says so
	row := &Row{Fault: f.Name, CollectorDown: f.CollectorDown, NoQuorum: f.NoQuorum}
	if err := s.snapshot(ctx, row); err != nil {
		return err
	}
	if f.CollectorDown {
		// Killing the collector loses what it buffers: let the earlier
		// rows' traces arrive first, or they would count as lost there.
		s.waitEarlierTraces(ctx)
	}
	heal, err := f.Inject(ctx, s.Env)
	if err != nil {
		return fmt.Errorf("inject %s: %w", f.Name, err)
	}
	// The fault is in place only now (the node reaped, the links cut):
	// requests sent before belong to the previous row.
	row.Inject = s.Hist.Now()
	if err := hold(ctx, s.Hold); err != nil {
		return err
	}
	var notes []string
	for _, n := range s.Env.Cluster.Nodes() {
		if !n.Running() {
			row.Died = append(row.Died, n.ID)
			notes = append(notes, fmt.Sprintf("%s down (%v)%s", n.ID, n.ExitErr(), exitReason(n)))
		}
	}
	row.Heal = s.Hist.Now()
	if err := heal(ctx); err != nil {
		return fmt.Errorf("heal %s: %w", f.Name, err)
	}
	if err := s.settle(ctx, row); err != nil {
		return err
	}
	// Which leader the fault met and which one the cluster settled on shows
	// the fault took effect (a cut-off or paused leader is replaced).
	after, _ := s.Env.Leader(ctx)
	row.Note = strings.Join(append([]string{fmt.Sprintf("leader %s -> %s", orNone(before), orNone(after))}, notes...), "; ")
	return nil
}

func orNone(id string) string {
	if id == "" {
		return "none"
	}
	return id
}

// settle waits until every node runs, sees all members and has reached the
// height of every receipt given so far, then compares the nodes' blocks at
// their common height.
func (s *Suite) settle(ctx context.Context, row *Row) error {
	target := s.Load.Barrier()
	e := s.Env
	if err := e.Cluster.WaitHealthy(ctx, recoverWait); err != nil {
		return fmt.Errorf("after %s: %w", row.Fault, err)
	}
	wctx, cancel := context.WithTimeout(ctx, recoverWait)
	defer cancel()
	var heights []uint64
	err := testproc.Until(wctx, func() error {
		heights = heights[:0]
		for _, n := range e.Cluster.Nodes() {
			h, err := height(wctx, e.Client, n)
			if err != nil {
				return err
			}
			if h < target {
				return fmt.Errorf("%s at height %d, the cluster acknowledged height %d", n.ID, h, target)
			}
			heights = append(heights, h)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("after %s, waiting %v for every node to catch up: %w", row.Fault, recoverWait, err)
	}
	row.CaughtUp = s.Hist.Now() - row.Heal
	common := heights[0]
	for _, h := range heights {
		common = min(common, h)
	}
	row.Identical, err = sameBlock(ctx, e, common)
	if err != nil {
		return fmt.Errorf("after %s: %w", row.Fault, err)
	}
	row.Settled = s.Hist.Now()
	s.Rows = append(s.Rows, row)
	return nil
}

// sameBlock reports whether every node holds the same block at height h.
// Blocks are hash-linked, so the same block means the same chain below it.
func sameBlock(ctx context.Context, e *Env, h uint64) (bool, error) {
	var first string
	for i, n := range e.Cluster.Nodes() {
		hash, err := blockHash(ctx, e.Client, n, h)
		if err != nil {
			return false, fmt.Errorf("block %d at %s: %w", h, n.ID, err)
		}
		if i == 0 {
			first = hash
		} else if hash != first {
			return false, nil
		}
	}
	return true, nil
}

// hold waits d (the fault's deliberate duration), or until ctx ends.
func hold(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// exitReason is the first line of the node's last run that says why it died
// on its own (a runtime fault such as SIGBUS, a panic, a full disk), or "".
// currentRun is the part of a node's log written since its last start.
func currentRun(log string) string {
	if i := strings.LastIndex(log, "=== cluster: start"); i >= 0 {
		return log[i:]
	}
	return log
}

func exitReason(n *cluster.Node) string {
	log := currentRun(n.Log())
	var reason []string
	for _, l := range strings.Split(log, "\n") {
		for _, k := range []string{"disk full", "no space left", "panic:", "fatal error:", "unexpected fault address", "[signal "} {
			if strings.Contains(l, k) && len(reason) < 3 {
				if len(l) > 120 {
					l = l[:120] + "..."
				}
				reason = append(reason, strings.TrimSpace(l))
				break
			}
		}
	}
	if len(reason) == 0 {
		return ""
	}
	return ": " + strings.Join(reason, " ")
}

// snapshot keeps the nodes' dropped-span counters at a row's start.
func (s *Suite) snapshot(ctx context.Context, row *Row) error {
	if !s.Env.Telemetry {
		return nil
	}
	d, err := s.Env.droppedSpans(ctx)
	row.dropped = d
	return err
}

// attributeDrops says in each row's note how many spans each node dropped
// before export, and why, between the row's start and the next row's (end:
// the counters after the pipeline drained). A row's Dropped names the nodes
// that dropped any between its start and the start of the row after next: a
// span leaves its node seconds after the transfer is acknowledged, so the
// spans of a row's last transfers are lost to the next row's fault (a killed
// collector fills the nodes' queues). A counter that went down belongs to a
// restarted node, which Died covers.
func (s *Suite) attributeDrops(end map[string]map[string]float64) {
	at := func(i int) map[string]map[string]float64 {
		if i < len(s.Rows) {
			return s.Rows[i].dropped
		}
		return end
	}
	for i, r := range s.Rows {
		var notes []string
		for _, id := range slices.Sorted(maps.Keys(at(i + 1))) {
			for _, reason := range slices.Sorted(maps.Keys(at(i + 1)[id])) {
				if d := at(i + 1)[id][reason] - r.dropped[id][reason]; d > 0 {
					notes = append(notes, fmt.Sprintf("%s dropped %.0f spans (%s)", id, d, reason))
				}
			}
		}
		if len(notes) > 0 {
			r.Note = strings.TrimPrefix(r.Note+"; "+strings.Join(notes, ", "), "; ")
		}
		for id, after := range at(i + 2) {
			for reason, v := range after {
				if v > r.dropped[id][reason] && !contains(r.Dropped, id) {
					r.Dropped = append(r.Dropped, id)
				}
			}
		}
	}
}
