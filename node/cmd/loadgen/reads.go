package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Read modes: what a linearizable read (ReadIndex through the leader, the
// API's default under raft) costs against a local one (?consistency=local).
// Each client reads the balance of a funded account at its node in a loop.
const (
	modeRead      = "read"       // GET /accounts/{addr}: linearizable
	modeReadLocal = "read-local" // GET /accounts/{addr}?consistency=local
)

func isReadMode(mode string) bool { return mode == modeRead || mode == modeReadLocal }

// readOne reads one balance at target and counts it as acked when answered.
func (l *load) readOne(ctx context.Context, w *worker, c *counters, target, addr, mode string) {
	url := target + "/accounts/" + addr
	if mode == modeReadLocal {
		url += "?consistency=local"
	}
	c.sent.Add(1)
	t0 := time.Now()
	if err := l.client.Do(ctx, http.MethodGet, url, nil, nil); err != nil {
		if ctx.Err() != nil {
			return
		}
		c.errs.Add(1)
		w.fail(classify(err), 1)
		return
	}
	w.latencies = append(w.latencies, time.Since(t0))
	c.acked.Add(1)
}

// printReadRatio says how many local reads per linearizable one the node
// served, when both read modes ran.
func printReadRatio(w io.Writer, rs []result) {
	var linear, local float64
	for _, r := range rs {
		switch r.mode {
		case modeRead:
			linear = r.rate()
		case modeReadLocal:
			local = r.rate()
		}
	}
	if linear == 0 || local == 0 {
		return
	}
	_, _ = fmt.Fprintf(w, "reads: %.0f linearizable/s, %.0f local/s: local/linearizable = %.2f\n", linear, local, local/linear)
}
