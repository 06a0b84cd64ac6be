package pow

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the engine's Prometheus metrics.
type metrics struct {
	mined      prometheus.Counter
	received   *prometheus.CounterVec // by pow.fork_choice outcome
	invalid    *prometheus.CounterVec // by peer
	reorgDepth prometheus.Histogram
	difficulty prometheus.Gauge
	totalWork  prometheus.Gauge
	hashRate   prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer, e *Engine) (*metrics, error) {
	m := &metrics{
		mined: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "chainotel_pow_blocks_mined_total", Help: "Blocks this node's miner sealed."}),
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chainotel_pow_blocks_total", Help: "Blocks through fork choice, by outcome (extend, reorg, side, duplicate, orphan, invalid)."},
			[]string{"fork_choice"}),
		invalid: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chainotel_pow_invalid_blocks_total", Help: "Invalid blocks received, by the peer that sent them."}, []string{"peer"}),
		reorgDepth: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "chainotel_pow_reorg_depth_blocks", Help: "Blocks rolled back by each reorganisation.",
			Buckets: []float64{1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 256}}),
		difficulty: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "chainotel_pow_difficulty", Help: "Difficulty of the next block (expected hashes per block)."}),
		totalWork: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "chainotel_pow_total_work", Help: "Cumulative work of the best chain."}),
		hashRate: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "chainotel_pow_hash_rate", Help: "Header hashes per second over the last second."}),
	}
	if reg == nil {
		return m, nil
	}
	hashes := prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "chainotel_pow_hashes_total", Help: "Header hashes the miner tried."}, func() float64 { return float64(e.miner.Hashes()) })
	for _, c := range []prometheus.Collector{m.mined, m.received, m.invalid, m.reorgDepth, m.difficulty, m.totalWork, m.hashRate, hashes} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register pow metrics: %w", err)
		}
	}
	return m, nil
}

func (m *metrics) observeHead(work, difficulty uint64, rate float64) {
	m.totalWork.Set(float64(work))
	m.difficulty.Set(float64(difficulty))
	m.hashRate.Set(rate)
}
