// Command bench compares the chainsampling processor with the contrib
// tailsamplingprocessor v0.161.0 in one run: the same generated chain
// traffic, equivalent policies, and for each the spans per second per core
// (ingest through to every trace decided) and the heap bytes held per
// buffered span. It prints both and their ratios. Run it with
// `make bench-sampling`.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"syscall"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.yaml.in/yaml/v3"

	"github.com/open-telemetry/opentelemetry-collector-contrib/processor/tailsamplingprocessor"

	"github.com/chainotel/chainotel/processors/chainsamplingprocessor"
	"github.com/chainotel/chainotel/processors/chainsamplingprocessor/internal/gen"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type options struct {
	traces      int // traces per throughput round
	rounds      int
	memTraces   int // traces buffered for the memory measurement
	tracesBatch int // traces per OTLP batch
}

func run() error {
	var o options
	flag.IntVar(&o.traces, "traces", 20_000, "traces per throughput round")
	flag.IntVar(&o.rounds, "rounds", 5, "throughput rounds per processor (the median is reported)")
	flag.IntVar(&o.memTraces, "mem-traces", 10_000, "traces buffered for the memory measurement")
	flag.IntVar(&o.tracesBatch, "batch", 25, "traces per OTLP batch (about 500 spans)")
	commitTxs := flag.Int("commit-tx-rate", 500, "transactions per second of the second decide-at-commit replay (the first runs at 200, under raft's 64 span links a block)")
	commitOnly := flag.Bool("commit-only", false, "run only the decide-at-commit replay")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the throughput rounds to this file")
	flag.Parse()

	if *commitOnly {
		return commitBenches(*commitTxs)
	}
	dir, err := os.MkdirTemp("", "chainsampling-bench")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(dir) }() // a leftover temporary folder is harmless

	// The height below which blocks count as old is set so that about the
	// newest tenth of the traffic matches the recent-blocks rule.
	g := gen.New(gen.Default(1))
	batches := make([]ptrace.Traces, 0, o.traces/o.tracesBatch)
	spans := 0
	for range o.traces / o.tracesBatch {
		td := g.Batch(o.tracesBatch)
		spans += td.SpanCount()
		batches = append(batches, td)
	}
	recent := 1000 + int64(o.traces)*9/20
	subjects, err := newSubjects(dir, recent, o.traces+o.memTraces)
	if err != nil {
		return err
	}

	fmt.Printf("chain-shaped traffic: %d traces, %d spans (10-30 spans a trace, 1%% errors), batches of %d traces, GOMAXPROCS=%d\n\n",
		o.traces, spans, o.tracesBatch, runtime.GOMAXPROCS(0))

	results := make([]result, len(subjects))
	for i, s := range subjects {
		results[i].name = s.name
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			_ = f.Close() // nothing was written
			return err
		}
		defer func() {
			pprof.StopCPUProfile()
			if err := f.Close(); err != nil {
				fmt.Fprintf(os.Stderr, "bench: cpu profile %s: %v\n", *cpuProfile, err)
			}
		}()
	}
	// Alternate the processors round by round, so that neither always runs
	// on a warmer or busier machine.
	for r := range o.rounds {
		for i, s := range subjects {
			m, err := throughput(s, batches, spans)
			if err != nil {
				return fmt.Errorf("%s round %d: %w", s.name, r+1, err)
			}
			results[i].rates = append(results[i].rates, m)
		}
	}
	// batches is not used below, so the memory runs measure without it.
	for i, s := range subjects {
		b, err := memory(s, o)
		if err != nil {
			return fmt.Errorf("%s memory: %w", s.name, err)
		}
		results[i].bytesPerSpan = b
	}
	report(results)
	return commitBenches(*commitTxs)
}

// subject is one processor under test.
type subject struct {
	name    string
	factory processor.Factory
	config  component.Config
}

// contribPolicies mirrors benchPolicy: ordered rules with the first match
// deciding, which the contrib processor does with sample_on_first_match and
// a drop policy for the 0% rule.
const contribPolicies = `
decision_wait: 1h
sample_on_first_match: true
policies:
  - name: scrapes
    type: drop
    drop:
      drop_sub_policy:
        - name: health-route
          type: string_attribute
          string_attribute: {key: http.route, values: [/health, /ready, /metrics]}
  - name: errors
    type: status_code
    status_code: {status_codes: [ERROR]}
  - name: slow
    type: latency
    latency: {threshold_ms: 2000}
  - name: recent-blocks
    type: numeric_attribute
    numeric_attribute: {key: chain.block.height, min_value: %d, max_value: 9223372036854775807}
  - name: transfers
    type: and
    and:
      and_sub_policy:
        - name: is-transfer
          type: string_attribute
          string_attribute: {key: chain.tx.type, values: [transfer]}
        - name: one-percent
          type: probabilistic
          probabilistic: {sampling_percentage: 1}
  - name: default
    type: probabilistic
    probabilistic: {sampling_percentage: 0.1}
`

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
  - name: recent-blocks
    match: {block_height: {min: %d}}
    keep: 1
  - name: transfers
    match: {tx_type: transfer}
    keep: 0.01
  - name: default
    keep: 0.001
`

func newSubjects(dir string, recent int64, maxTraces int) ([]subject, error) {
	path := filepath.Join(dir, "policies.yaml")
	if err := os.WriteFile(path, fmt.Appendf(nil, benchPolicy, recent), 0o600); err != nil {
		return nil, err
	}
	ours := chainsamplingprocessor.NewFactory()
	ourCfg := ours.CreateDefaultConfig()
	if err := unmarshal(ourCfg, fmt.Sprintf("policy_file: %s\ndecision_wait: 1h\ndecision_wait_after_root: 0s\nmax_traces: %d\nmax_bytes: %d\nwatch_policy_file: false\n",
		path, maxTraces, int64(8)<<30)); err != nil {
		return nil, fmt.Errorf("chainsampling config: %w", err)
	}
	contrib := tailsamplingprocessor.NewFactory()
	contribCfg := contrib.CreateDefaultConfig()
	if err := unmarshal(contribCfg, fmt.Sprintf(contribPolicies, recent)+fmt.Sprintf("num_traces: %d\n", maxTraces)); err != nil {
		return nil, fmt.Errorf("tail_sampling config: %w", err)
	}
	ourS2Cfg := ours.CreateDefaultConfig()
	if err := unmarshal(ourS2Cfg, fmt.Sprintf("policy_file: %s\ndecision_wait: 1h\ndecision_wait_after_root: 0s\nmax_traces: %d\nmax_bytes: %d\nwatch_policy_file: false\ncompression: s2\n",
		path, maxTraces, int64(8)<<30)); err != nil {
		return nil, fmt.Errorf("chainsampling config: %w", err)
	}
	return []subject{
		{name: "chainsampling (default: auto)", factory: ours, config: ourCfg},
		{name: "chainsampling (compression: s2)", factory: ours, config: ourS2Cfg},
		{name: "tail_sampling (contrib v0.161.0)", factory: contrib, config: contribCfg},
	}, nil
}

func unmarshal(cfg component.Config, text string) error {
	var raw map[string]any
	if err := yaml.Unmarshal([]byte(text), &raw); err != nil {
		return err
	}
	if err := confmap.NewFromStringMap(raw).Unmarshal(cfg); err != nil {
		return err
	}
	if v, ok := cfg.(interface{ Validate() error }); ok {
		return v.Validate()
	}
	return nil
}

func start(s subject) (processor.Traces, error) {
	set := processortest.NewNopSettings(s.factory.Type())
	p, err := s.factory.CreateTraces(context.Background(), set, s.config, consumertest.NewNop())
	if err != nil {
		return nil, err
	}
	return p, p.Start(context.Background(), componenttest.NewNopHost())
}

// rate is one throughput measurement.
type rate struct {
	perCore float64 // spans per CPU second
	wall    float64 // spans per wall-clock second
}

// throughput feeds every batch and shuts the processor down, which decides
// every buffered trace: the CPU time covers ingest and decision, garbage
// collection included.
func throughput(s subject, batches []ptrace.Traces, spans int) (rate, error) {
	runtime.GC()
	p, err := start(s)
	if err != nil {
		return rate{}, err
	}
	cpu0, wall0 := cpuTime(), time.Now()
	for _, td := range batches {
		if err := p.ConsumeTraces(context.Background(), td); err != nil {
			return rate{}, err
		}
	}
	if err := p.Shutdown(context.Background()); err != nil {
		return rate{}, err
	}
	cpu, wall := cpuTime()-cpu0, time.Since(wall0)
	return rate{perCore: float64(spans) / cpu.Seconds(), wall: float64(spans) / wall.Seconds()}, nil
}

// memory buffers fresh traffic (nothing is decided: the wait is an hour)
// and measures the live heap it holds, per buffered span.
func memory(s subject, o options) (float64, error) {
	g := gen.New(gen.Default(2))
	runtime.GC()
	debug.FreeOSMemory()
	before := heap()
	p, err := start(s)
	if err != nil {
		return 0, err
	}
	spans := 0
	for range o.memTraces / o.tracesBatch {
		td := g.Batch(o.tracesBatch)
		spans += td.SpanCount()
		if err := p.ConsumeTraces(context.Background(), td); err != nil {
			return 0, err
		}
	}
	after := heap()
	runtime.KeepAlive(p)
	if err := p.Shutdown(context.Background()); err != nil {
		return 0, err
	}
	return float64(after-before) / float64(spans), nil
}

func heap() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type result struct {
	name         string
	rates        []rate
	bytesPerSpan float64
}

func (r result) median() rate {
	perCore := make([]float64, len(r.rates))
	wall := make([]float64, len(r.rates))
	for i, x := range r.rates {
		perCore[i], wall[i] = x.perCore, x.wall
	}
	slices.Sort(perCore)
	slices.Sort(wall)
	return rate{perCore: perCore[len(perCore)/2], wall: wall[len(wall)/2]}
}

func report(rs []result) {
	fmt.Printf("%-34s %18s %18s %22s\n", "processor", "spans/s per core", "spans/s (wall)", "heap bytes/buffered span")
	for _, r := range rs {
		m := r.median()
		fmt.Printf("%-34s %18.0f %18.0f %22.0f\n", r.name, m.perCore, m.wall, r.bytesPerSpan)
	}
	base := rs[len(rs)-1]
	for _, ours := range rs[:len(rs)-1] {
		fmt.Printf("\n%s / contrib:\n", ours.name)
		fmt.Printf("  throughput %.2fx per core, %.2fx wall   (target >= 3x per core)\n",
			ours.median().perCore/base.median().perCore, ours.median().wall/base.median().wall)
		fmt.Printf("  memory     %.2f of contrib's bytes per buffered span, %.0f bytes   (target <= 200 bytes)\n",
			ours.bytesPerSpan/base.bytesPerSpan, ours.bytesPerSpan)
	}
}
