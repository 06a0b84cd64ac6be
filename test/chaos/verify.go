//go:build integration

package chaos

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/chainotel/chainotel/internal/testproc"
)

// checkers is how many requests the final checks keep in flight.
const checkers = 8

// droppedSpansMetric counts the spans a node dropped before export
// (node/telemetry's MetricDroppedSpans; that package is the node's insides,
// so the suite reads the name off the wire like any scraper).
const droppedSpansMetric = "chainotel_telemetry_dropped_spans_total"

// Verdict is what the final checks found over the whole run.
type Verdict struct {
	Acked     int
	Unknown   int // transfers whose outcome the client never learnt
	Applied   int // of which the chain holds
	Ops       int
	Twice     []string // transfers the chain holds more than once
	Phantom   []string // transfers in the chain that no client sent
	Rejected  []string
	Lost      map[string]string // tx hash -> what is wrong
	Height    uint64
	Identical bool
	Diverged  string // the first height where the chains differ, and how
	Linear    error
	// LocalReads counts the ?consistency=local reads; LocalWrong is what
	// CheckLocal found wrong with them.
	LocalReads int
	LocalWrong []string
	// DroppedSpans are the spans each node dropped before export since it
	// last started, by reason (queue_full, export_failed).
	DroppedSpans map[string]map[string]float64
	// SentryEvents and SentryProblems are what the Sentry endpoint accepted
	// and the protocol violations it saw, when telemetry runs.
	SentryEvents   int
	SentryProblems []string
	// CollectorLosses is what the last collector dropped, by stage.
	CollectorLosses string
}

// Finish stops the load, waits until every node holds the same head, reads
// every account at every node, and checks every acknowledged transfer in
// every node's chain, every block against the other nodes' and the history
// with porcupine. It saves the history as JSON at historyPath (porcupine's
// visualisation of a violation goes next to it) and fills the rows'
// per-fault counts.
func (s *Suite) Finish(ctx context.Context, historyPath string) (*Verdict, error) {
	s.Load.Stop()
	e := s.Env
	v := &Verdict{Lost: map[string]string{}}
	target := s.Load.Barrier()
	wctx, cancel := context.WithTimeout(ctx, recoverWait)
	defer cancel()
	err := testproc.Until(wctx, func() error {
		var first nodeStatus
		for i, n := range e.Cluster.Nodes() {
			st, err := status(wctx, e.Client, n)
			if err != nil {
				return err
			}
			if st.Height < target {
				return fmt.Errorf("%s at height %d, want at least %d", n.ID, st.Height, target)
			}
			if i == 0 {
				first = st
			} else if st.Height != first.Height {
				return fmt.Errorf("%s at height %d, %s at %d", first.NodeID, first.Height, n.ID, st.Height)
			}
		}
		v.Height = first.Height
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("waiting %v for the nodes to agree on a head after the load: %w", recoverWait, err)
	}
	if err := s.Load.ReadAll(ctx); err != nil {
		return nil, err
	}
	if e.Telemetry {
		if err := e.WaitDrained(ctx); err != nil {
			return nil, err
		}
		if v.DroppedSpans, err = e.droppedSpans(ctx); err != nil {
			return nil, err
		}
		s.attributeDrops(v.DroppedSpans)
		if v.CollectorLosses, err = e.collectorLosses(ctx); err != nil {
			return nil, err
		}
		v.SentryEvents, v.SentryProblems = len(e.Sentry.Events()), e.Sentry.Problems()
	}
	applied, err := s.scanTargets(ctx, v)
	if err != nil {
		return nil, err
	}
	s.Hist.Resolve(applied, s.Hist.Now())
	v.LocalReads, v.LocalWrong = s.Hist.LocalReads(), s.Hist.CheckLocal(applied, 10)
	acks := s.Hist.Acks()
	v.Acked = len(acks)
	v.Ops, v.Unknown, v.Applied, v.Rejected = s.Hist.Counts()
	for h, why := range checkAcks(ctx, e, acks) {
		v.Lost[h] = why
	}
	v.Identical, v.Diverged, err = compareChains(ctx, e, v.Height)
	if err != nil {
		return nil, err
	}
	if err := s.Hist.Save(historyPath); err != nil {
		return nil, err
	}
	v.Linear = s.Hist.CheckLinearizable(2*time.Minute, historyPath+".html")
	s.fillRows(acks, v)
	return v, nil
}

// scanTargets reads every block of the first node and returns, for every
// transfer into a target account, its amount (unique per transfer) and
// height. A transfer found twice, or one no client sent, goes in v.
func (s *Suite) scanTargets(ctx context.Context, v *Verdict) (map[uint64]uint64, error) {
	sent := s.Hist.Amounts()
	isTarget := map[string]bool{}
	for _, a := range targetAccounts() {
		isTarget[a] = true
	}
	n := s.Env.Cluster.Nodes()[0]
	var (
		mu      sync.Mutex
		applied = map[uint64]uint64{}
		errs    []error
	)
	parallel(int(v.Height), func(i int) {
		height := uint64(i + 1)
		var b struct {
			Txs []struct {
				To     string `json:"to"`
				Amount uint64 `json:"amount"`
			} `json:"txs"`
		}
		err := s.Env.Client.Do(ctx, http.MethodGet, n.API+"/blocks/"+strconv.FormatUint(height, 10), nil, &b)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			errs = append(errs, err)
			return
		}
		for _, tx := range b.Txs {
			if !isTarget[tx.To] {
				continue
			}
			if first, ok := applied[tx.Amount]; ok {
				v.Twice = append(v.Twice, fmt.Sprintf("transfer of %d to %s at heights %d and %d", tx.Amount, tx.To, first, height))
			}
			applied[tx.Amount] = height
			if !sent[tx.Amount] {
				v.Phantom = append(v.Phantom, fmt.Sprintf("transfer of %d to %s at height %d", tx.Amount, tx.To, height))
			}
		}
	})
	if len(errs) > 0 {
		return nil, fmt.Errorf("read %s's blocks: %w", n.ID, errors.Join(errs[:min(len(errs), 3)]...))
	}
	return applied, nil
}

// txLookup is the part of GET /tx/{hash} the check reads.
type txLookup struct {
	BlockHash string `json:"block_hash"`
	Height    uint64 `json:"height"`
}

// checkAcks looks every acknowledged transfer up at every node; the result
// maps the hash of each one missing or misplaced somewhere to what is wrong.
func checkAcks(ctx context.Context, e *Env, acks []Ack) map[string]string {
	var (
		mu   sync.Mutex
		lost = map[string]string{}
	)
	parallel(len(acks), func(i int) {
		a := acks[i]
		for _, n := range e.Cluster.Nodes() {
			var got txLookup
			err := e.Client.Do(ctx, http.MethodGet, n.API+"/tx/"+a.Hash, nil, &got)
			why := ""
			switch {
			case err != nil:
				why = fmt.Sprintf("%s: %v", n.ID, err)
			case got.BlockHash != a.BlockHash || got.Height != a.Height:
				why = fmt.Sprintf("%s has it in block %d %s, the receipt from %s said %d %s",
					n.ID, got.Height, got.BlockHash, a.Node, a.Height, a.BlockHash)
			}
			if why != "" {
				mu.Lock()
				lost[a.Hash] = why
				mu.Unlock()
				return
			}
		}
	})
	return lost
}

// compareChains compares every block of every node up to height h.
func compareChains(ctx context.Context, e *Env, h uint64) (bool, string, error) {
	nodes := e.Cluster.Nodes()
	var (
		mu       sync.Mutex
		diverged uint64
		how      string
		errs     []error
	)
	parallel(int(h), func(i int) {
		height := uint64(i + 1)
		var first string
		for j, n := range nodes {
			hash, err := blockHash(ctx, e.Client, n, height)
			mu.Lock()
			switch {
			case err != nil:
				errs = append(errs, err)
			case j == 0:
				first = hash
			case hash != first && (diverged == 0 || height < diverged):
				diverged = height
				how = fmt.Sprintf("%v at height %d: %s has %s, %s has %s", ErrDiverged, height, nodes[0].ID, first, n.ID, hash)
			}
			mu.Unlock()
		}
	})
	if len(errs) > 0 {
		return false, "", fmt.Errorf("compare chains: %w", errors.Join(errs[:min(len(errs), 3)]...))
	}
	return diverged == 0, how, nil
}

// parallel calls f(0..n-1) from a few goroutines.
func parallel(n int, f func(i int)) {
	next := make(chan int)
	var wg sync.WaitGroup
	for range checkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				f(i)
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}

// fillRows counts, per fault, the transfers acknowledged between its
// injection and the end of its recovery, how many of those were lost, and
// how soon the first transfer sent after the injection committed.
func (s *Suite) fillRows(acks []Ack, v *Verdict) {
	for _, r := range s.Rows {
		resumed := time.Duration(-1)
		for _, a := range acks {
			if a.Return >= r.Inject && a.Return <= r.Settled {
				r.Acked++
				if _, ok := v.Lost[a.Hash]; ok {
					r.Lost++
				}
			}
			if a.Call >= r.Inject && (resumed < 0 || a.Return-r.Inject < resumed) {
				resumed = a.Return - r.Inject
			}
			if r.CollectorDown && a.Call >= r.Inject && a.Return <= r.Heal {
				r.AckedWhileCollectorOff++
			}
			if r.NoQuorum && a.Call >= r.Inject && a.Return < r.Heal {
				r.AckedNoQuorum++
			}
		}
		r.Resumed = "never"
		if resumed >= 0 {
			r.Resumed = resumed.Round(10 * time.Millisecond).String()
		}
		if held := r.Heal - r.Inject; r.NoQuorum && resumed >= held {
			// Nothing can commit while a majority cannot vote: the time
			// that says something is the one from the heal.
			r.Resumed += fmt.Sprintf(" (%v after heal)", (resumed - held).Round(10*time.Millisecond))
		}
	}
}
