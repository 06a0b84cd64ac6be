package engine

import (
	"testing"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/chainotel/chainotel/processors/chainsamplingprocessor/internal/gen"
)

const benchPolicy = `
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
`

// BenchmarkIngestOTLPAndDecide is BenchmarkIngestAndDecide on the wire
// path: the same batches as encoded requests (as an SDK encodes them), what
// a receiver's decode and the engine's re-encode no longer cost.
func BenchmarkIngestOTLPAndDecide(b *testing.B) {
	g := gen.New(gen.Default(1))
	batches := make([][]byte, 200)
	spans := 0
	for i := range batches {
		td := g.Batch(25)
		spans += td.SpanCount()
		data, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
		if err != nil {
			b.Fatal(err)
		}
		batches[i] = protobufGo(b, data)
	}
	t := &testing.T{}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		e := newEngine(t, Config{}, benchPolicy)
		for _, data := range batches {
			if _, _, err := e.IngestOTLP(data, t0); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := e.Flush(t0); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(spans*b.N)/b.Elapsed().Seconds(), "spans/s")
}

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
		e := newEngine(t, Config{}, benchPolicy)
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
