package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chainotel/chainotel/internal/cluster"
)

// counters are read by the progress display while the workers run.
type counters struct {
	sent, acked, errs atomic.Uint64
}

// result is what one mode measured.
type result struct {
	mode      string
	clients   int
	batchSize int
	elapsed   time.Duration
	sent      uint64
	acked     uint64
	errs      map[string]uint64        // error class → count of transactions
	latencies []time.Duration          // commit latency of each acknowledged transaction
	cpu       map[string]time.Duration // CPU time each process used meanwhile
	cores     map[string]float64       // cores each process kept busy meanwhile
	rest      float64                  // cores the rest of the machine kept busy meanwhile; NaN if unknown
	spans     float64                  // spans the collector accepted meanwhile; NaN if not counted
}

// worker is one client's private tally, merged into the result at the end
// so the hot path takes no lock.
type worker struct {
	latencies []time.Duration
	errs      map[string]uint64
}

func (w *worker) fail(class string, n uint64) {
	if w.errs == nil {
		w.errs = make(map[string]uint64)
	}
	w.errs[class] += n
}

// load runs one mode against targets for cfg.duration.
type load struct {
	cfg     config
	client  *cluster.Client
	targets []string
}

func (l *load) run(ctx context.Context, mode string, c *counters) result {
	clients := l.cfg.clients
	if mode == modeBatch {
		clients = l.cfg.batchClients
	}
	start := time.Now()
	deadline := start.Add(l.cfg.duration)
	workers := make([]worker, clients)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			w := &workers[i]
			target := l.targets[i%len(l.targets)]
			from := l.cfg.from[i%len(l.cfg.from)]
			for ctx.Err() == nil && time.Now().Before(deadline) {
				switch {
				case isReadMode(mode):
					l.readOne(ctx, w, c, target, from, mode)
				case mode == modeBatch:
					l.sendBatch(ctx, w, c, target, from)
				default:
					l.sendOne(ctx, w, c, target, from)
				}
			}
		}(i)
	}
	wg.Wait()

	r := result{mode: mode, clients: clients, elapsed: time.Since(start), errs: map[string]uint64{}}
	if mode == modeBatch {
		r.batchSize = l.cfg.batchSize
	}
	r.sent, r.acked = c.sent.Load(), c.acked.Load()
	for _, w := range workers {
		r.latencies = append(r.latencies, w.latencies...)
		for k, v := range w.errs {
			r.errs[k] += v
		}
	}
	slices.Sort(r.latencies)
	return r
}

func (l *load) tx(from string) cluster.Tx {
	return cluster.Tx{From: from, To: l.cfg.to, Amount: l.cfg.amount}
}

func (l *load) sendOne(ctx context.Context, w *worker, c *counters, target, from string) {
	c.sent.Add(1)
	t0 := time.Now()
	_, err := l.client.SubmitTx(ctx, target, l.tx(from))
	if err != nil {
		if ctx.Err() != nil {
			return // interrupted: neither acknowledged nor the cluster's fault
		}
		c.errs.Add(1)
		w.fail(classify(err), 1)
		return
	}
	w.latencies = append(w.latencies, time.Since(t0))
	c.acked.Add(1)
}

// batchRequest is the body of POST /txs.
type batchRequest struct {
	Txs []cluster.Tx `json:"txs"`
}

func (l *load) sendBatch(ctx context.Context, w *worker, c *counters, target, from string) {
	n := l.cfg.batchSize
	txs := make([]cluster.Tx, n)
	for i := range txs {
		txs[i] = l.tx(from)
	}
	c.sent.Add(uint64(n))
	t0 := time.Now()
	var answer json.RawMessage
	err := l.client.Do(ctx, http.MethodPost, target+"/txs", batchRequest{Txs: txs}, &answer)
	lat := time.Since(t0)
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		c.errs.Add(uint64(n))
		w.fail(classify(err), uint64(n))
		return
	}
	acked, failures, err := countBatch(answer, n)
	if err != nil {
		c.errs.Add(uint64(n))
		w.fail(err.Error(), uint64(n))
		return
	}
	for range acked {
		w.latencies = append(w.latencies, lat)
	}
	c.acked.Add(uint64(acked))
	for class, k := range failures {
		c.errs.Add(k)
		w.fail(class, k)
	}
}

// batchAnswer is the answer to POST /txs: one outcome per transaction, in
// order, each a receipt or the status and error it would have had alone.
type batchAnswer struct {
	Results []struct {
		TxHash    string `json:"tx_hash"`
		BlockHash string `json:"block_hash"`
		Status    int    `json:"status"`
		Error     string `json:"error"`
	} `json:"results"`
}

// countBatch counts the acknowledged transactions of a POST /txs answer and
// the failed ones by kind.
func countBatch(raw json.RawMessage, n int) (acked int, failures map[string]uint64, err error) {
	var a batchAnswer
	if err := json.Unmarshal(raw, &a); err != nil {
		return 0, nil, fmt.Errorf("POST /txs: unreadable answer: %v", err)
	}
	if len(a.Results) != n {
		return 0, nil, fmt.Errorf("POST /txs: %d outcomes for %d transactions", len(a.Results), n)
	}
	failures = map[string]uint64{}
	for _, it := range a.Results {
		switch {
		case it.Error != "" || (it.Status != 0 && it.Status != http.StatusOK):
			failures[fmt.Sprintf("%d %s (in a batch)", it.Status, shorten(it.Error, 80))]++
		case it.BlockHash == "":
			failures["batch outcome without block_hash"]++
		default:
			acked++
		}
	}
	return acked, failures, nil
}

// classify names an error's kind for the summary: the HTTP status and the
// node's message, or the transport failure.
func classify(err error) string {
	var he *cluster.HTTPError
	if errors.As(err, &he) {
		msg := he.Body
		var body struct {
			Error string `json:"error"`
		}
		if json.Unmarshal([]byte(he.Body), &body) == nil && body.Error != "" {
			msg = body.Error
		}
		return fmt.Sprintf("%d %s", he.Status, shorten(msg, 80))
	}
	msg := err.Error()
	// Keep the cause, not the URL, so equal failures group together.
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		msg = msg[i+2:]
	}
	return "transport: " + shorten(msg, 80)
}

func shorten(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
