package api

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the node's Prometheus metrics, registered on the configured
// registry (never the global one).
type metrics struct {
	committed prometheus.Counter
	blocks    prometheus.Counter
	latency   *prometheus.HistogramVec
	throttled prometheus.Counter
}

func newMetrics(a *API) (*metrics, error) {
	m := &metrics{
		committed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "chainotel_committed_transactions_total", Help: "Transactions in blocks applied by this node."}),
		blocks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "chainotel_applied_blocks_total", Help: "Blocks applied by this node."}),
		latency: newLatency(),
		throttled: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "chainotel_http_throttled_requests_total",
			Help: "Client API requests refused with 429 because their client had too many in flight."}),
	}
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
	}
	status := a.cfg.Engine.Status
	collectors := []prometheus.Collector{
		m.committed, m.blocks, m.latency, m.throttled,
		gauge("chainotel_block_height", "Height of the latest applied block.", func() float64 {
			h, _ := a.cfg.Chain.Head()
			return float64(h.Height)
		}),
		gauge("chainotel_mempool_transactions", "Transactions in the mempool.", func() float64 { return float64(a.cfg.MempoolLen()) }),
		gauge("chainotel_raft_term", "Current raft term.", func() float64 { return float64(status().Term) }),
		gauge("chainotel_raft_leader", "1 when this node is the raft leader, else 0.", func() float64 {
			if status().IsLeader {
				return 1
			}
			return 0
		}),
		gauge("chainotel_raft_applied_index", "Raft index applied to the state.", func() float64 { return float64(status().Applied) }),
		gauge("chainotel_peers_up", "Live cluster members, this node included.", func() float64 { return float64(status().PeersUp) }),
		gauge("chainotel_badger_lsm_size_bytes", "Size of Badger's LSM tree on disk.", func() float64 {
			lsm, _ := a.cfg.Chain.Sizes()
			return float64(lsm)
		}),
		gauge("chainotel_badger_vlog_size_bytes", "Size of Badger's value log on disk.", func() float64 {
			_, vlog := a.cfg.Chain.Sizes()
			return float64(vlog)
		}),
	}
	var errs []error
	for _, c := range collectors {
		errs = append(errs, a.cfg.Registerer.Register(c))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("register metrics: %w", err)
	}
	return m, nil
}

// latencyBuckets are the latency histogram's upper bounds, in seconds.
var latencyBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// newLatency is the client API's latency histogram, observed by each route.
func newLatency() *prometheus.HistogramVec {
	return prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "chainotel_http_request_duration_seconds",
		Help:    "Client API request latency by route, method and status code.",
		Buckets: latencyBuckets,
	}, []string{"route", "method", "code"})
}
