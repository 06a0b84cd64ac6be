package engine

import (
	"testing"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/chainotel/chainotel/processors/chainsamplingprocessor/internal/gen"
)

// BenchmarkIngestAndDecide is the engine's share of `make bench-sampling`,
// for profiling: ingest chain traffic, then decide it all.
func BenchmarkIngestAndDecide(b *testing.B) {
	g := gen.New(gen.Default(1))
	batches := make([]ptrace.Traces, 200)
	spans := 0
	for i := range batches {
		batches[i] = g.Batch(25)
		spans += batches[i].SpanCount()
	}
	t := &testing.T{}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		e := newEngine(t, Config{}, `
rules:
  - name: scrapes
    match: {http_route: [/health, /ready, /metrics]}
    keep: 0
  - name: errors
    match: {error: true}
    keep: 1
  - name: slow
    match: {min_duration: 2s}
    keep: 1
  - name: recent
    match: {block_height: {min: 5000}}
    keep: 1
  - name: transfers
    match: {tx_type: transfer}
    keep: 0.01
  - name: default
    keep: 0.001
`)
		for _, td := range batches {
			if _, err := e.Ingest(td, t0); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := e.Flush(t0); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(spans*b.N)/b.Elapsed().Seconds(), "spans/s")
}
