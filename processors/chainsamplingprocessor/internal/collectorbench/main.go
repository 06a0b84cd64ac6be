// Command collectorbench measures otelcol-chain (with chainsampling) against
// a stock build of the same collector release with the contrib tail_sampling
// processor, process against process: the same telemetrygen load (10-span
// traces with chain attributes, plus streams of error and slow traces),
// equivalent policies (errors and slow always, transfers 1%, the rest 0.1%),
// runs alternating. For each run it reads, for the collector process only,
// the CPU time (/proc/<pid>/stat) per accepted span and the peak RSS
// (VmHWM), the refused and dropped spans from the collector's own metrics
// (they must be 0), and the kept traces per rule from a local OTLP sink
// (they must agree within sampling noise). It prints each run and the
// ratios. Run it with `make bench-collector`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/chainotel/chainotel/internal/otlpsink"
	"github.com/chainotel/chainotel/processors/chainsamplingprocessor/internal/benchproc"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "collectorbench:", err)
		os.Exit(1)
	}
}

type options struct {
	chain, stock, telemetrygen string
	rounds                     int
	duration, decisionWait     time.Duration
	spansPerSec                float64
	batchSize                  int
	profiles                   string
	chainPath                  string // wire or pdata
}

func run() error {
	var o options
	flag.StringVar(&o.chain, "chain", "build/otelcol-chain", "the otelcol-chain binary")
	flag.StringVar(&o.stock, "stock", "build/stock/otelcol-stock", "the stock collector with tail_sampling")
	flag.StringVar(&o.telemetrygen, "telemetrygen", "bin/telemetrygen", "the telemetrygen binary")
	flag.IntVar(&o.rounds, "rounds", 3, "rounds; each runs both collectors, the order alternating")
	flag.DurationVar(&o.duration, "duration", 20*time.Second, "load per run")
	flag.DurationVar(&o.decisionWait, "decision-wait", 5*time.Second, "decision_wait of both samplers (what they buffer grows with it)")
	flag.Float64Var(&o.spansPerSec, "rate", 20000, "spans per second offered, over all streams")
	flag.IntVar(&o.batchSize, "batch-size", 512, "spans per OTLP request from telemetrygen (the SDK's default batch)")
	flag.StringVar(&o.profiles, "profiles", "", "write CPU profiles of both collectors in the last round to this folder")
	flag.StringVar(&o.chainPath, "chain-path", "wire", "otelcol-chain's path: wire (the chainotlp receiver samples the OTLP bytes) or pdata (the otlp receiver, then the chainsampling processor)")
	flag.Parse()

	for _, bin := range []*string{&o.chain, &o.stock, &o.telemetrygen} {
		abs, err := benchproc.Binary(*bin)
		if err != nil {
			return fmt.Errorf("binary: %w", err)
		}
		*bin = abs
	}
	ctx, dir, cleanup, err := benchproc.Setup("collectorbench")
	if err != nil {
		return err
	}
	defer cleanup()
	if o.profiles != "" {
		if err := os.MkdirAll(o.profiles, 0o755); err != nil {
			return err
		}
	}
	sink, err := benchproc.Sink()
	if err != nil {
		return err
	}
	defer sink.Close()

	chain := subject{name: "otelcol-chain (chainotlp, wire)", bin: o.chain, sampler: "chainotlp"}
	switch o.chainPath {
	case "wire":
	case "pdata":
		chain = subject{name: "otelcol-chain (chainsampling)", bin: o.chain, sampler: "chainsampling"}
	default:
		return fmt.Errorf("-chain-path: want wire or pdata, got %q", o.chainPath)
	}
	subjects := []subject{
		chain,
		{name: "stock (contrib tail_sampling)", bin: o.stock, sampler: "tail_sampling"},
	}
	fmt.Printf("load: %.0f spans/s for %v per run (10-span traces: transfers 40%%, other txs 58%%, errors 1%%, slow 1%%), %d-span requests; decision_wait %v for both\n\n",
		o.spansPerSec, o.duration, o.batchSize, o.decisionWait)

	var results [][2]result
	for r := range o.rounds {
		order := []int{0, 1}
		if r%2 == 1 {
			order = []int{1, 0}
		}
		var pair [2]result
		for _, i := range order {
			s := subjects[i]
			profile := ""
			if o.profiles != "" && r == o.rounds-1 {
				profile = filepath.Join(o.profiles, s.sampler+".pprof")
			}
			res, err := measure(ctx, s, o, filepath.Join(dir, fmt.Sprintf("r%d-%s", r+1, s.sampler)), sink, profile)
			if err != nil {
				return fmt.Errorf("round %d, %s: %w", r+1, s.name, err)
			}
			res.print(fmt.Sprintf("round %d", r+1))
			pair[i] = res
		}
		results = append(results, pair)
		fmt.Printf("  round %d ratio chain/stock: CPU per span %.2fx, peak RSS %.2fx\n\n", r+1,
			pair[0].cpuPerSpan()/pair[1].cpuPerSpan(), float64(pair[0].peakRSS)/float64(pair[1].peakRSS))
	}
	return summarise(subjects, results)
}

// measure runs one collector under the load and reads what it cost.
func measure(ctx context.Context, s subject, o options, dir string, sink *otlpsink.Sink, profile string) (result, error) {
	res := result{name: s.name, kept: map[string]int{}}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return res, err
	}
	sink.Reset()
	c, err := startCollector(ctx, s, dir, sink.Addr(), o.decisionWait)
	if err != nil {
		return res, err
	}
	defer c.stop()
	before, err := c.Metrics(ctx)
	if err != nil {
		return res, err
	}
	u0, err := c.Usage()
	if err != nil {
		return res, err
	}

	stopProgress := progress(ctx, c, s.name, u0)
	profErr := make(chan error, 1)
	if profile != "" {
		// The middle of the load, clear of its start and end.
		go func() {
			secs := max(1, int(o.duration.Seconds())-4)
			select {
			case <-time.After(2 * time.Second): // into the steady state
			case <-ctx.Done():
				profErr <- ctx.Err()
				return
			}
			profErr <- c.profile(ctx, secs, profile)
		}()
	} else {
		profErr <- nil
	}
	l := load{bin: o.telemetrygen, spansPerSec: o.spansPerSec, duration: o.duration, batchSize: o.batchSize,
		childSpans: 9, dir: dir, endpoint: fmt.Sprintf("127.0.0.1:%d", c.otlp)}
	loadErr := l.run(ctx)
	if loadErr == nil {
		loadErr = drain(ctx, c, o.decisionWait)
	}
	stopProgress()
	if loadErr != nil {
		return res, fmt.Errorf("%w\n%s log:\n%s", loadErr, s.name, c.Proc.Tail(20))
	}
	if err := <-profErr; err != nil {
		return res, err
	}
	u1, err := c.Usage()
	if err != nil {
		return res, err
	}
	after, err := c.Metrics(ctx)
	if err != nil {
		return res, err
	}
	res.cpu = u1.CPU - u0.CPU
	res.peakRSS = u1.PeakRSS
	delta := func(names ...string) float64 { return after.Sum(names...) - before.Sum(names...) }
	res.accepted = delta("otelcol_receiver_accepted_spans")
	res.refused = delta("otelcol_receiver_refused_spans")
	res.dropped = delta(droppedSpans...)
	res.droppedTraces = delta(droppedTraces...)
	res.decidedEarly = delta("otelcol_processor_chainsampling_traces_decided_early")
	res.sent = delta("otelcol_exporter_sent_spans")
	streamOf := map[[16]byte]string{}
	for _, sp := range sink.Spans() {
		rule, _ := sp.Attr(streamAttr)
		streamOf[sp.TraceID()] = rule
		res.keptSpans++
	}
	for _, rule := range streamOf {
		res.kept[rule]++
	}
	return res, nil
}

// Metrics of lost data: spans the exporter could not send or queue, and
// traces the contrib sampler dropped before deciding them.
var (
	droppedSpans  = []string{"otelcol_exporter_send_failed_spans", "otelcol_exporter_enqueue_failed_spans"}
	droppedTraces = []string{"otelcol_processor_tail_sampling_sampling_trace_dropped_too_early"}
)

// drain waits, after the load, until every trace has been decided and sent:
// the decision wait has passed and the exporter's sent spans have not moved
// for two seconds.
func drain(ctx context.Context, c *collector, decisionWait time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, decisionWait+2*time.Minute)
	defer cancel()
	earliest := time.Now().Add(decisionWait + time.Second)
	last, lastChange := -1.0, time.Now()
	tick := time.NewTicker(time.Second) // each scrape costs the collector CPU
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return errors.New("the collector was still sending two minutes after the load")
		case now := <-tick.C:
			m, err := c.Metrics(ctx)
			if err != nil {
				continue
			}
			if sent := m["otelcol_exporter_sent_spans"]; sent != last {
				last, lastChange = sent, now
			}
			if now.After(earliest) && now.Sub(lastChange) >= 2*time.Second {
				return nil
			}
		}
	}
}

// progress prints, every five seconds of a run, what the collector has
// accepted and used so far, until the returned stop is called.
func progress(ctx context.Context, c *collector, name string, u0 benchproc.Usage) (stop func()) {
	start := time.Now()
	return benchproc.Every(ctx, 5*time.Second, func(now time.Time) bool {
		u, err := c.Usage()
		if err != nil {
			return false
		}
		m, _ := c.Metrics(ctx)
		fmt.Printf("    %s %3.0fs: %9.0f spans accepted, %7.0f sent; CPU %5.1fs, RSS %4d MB\n", name,
			now.Sub(start).Seconds(), m["otelcol_receiver_accepted_spans"], m["otelcol_exporter_sent_spans"],
			(u.CPU - u0.CPU).Seconds(), u.RSS>>20)
		return true
	})
}
