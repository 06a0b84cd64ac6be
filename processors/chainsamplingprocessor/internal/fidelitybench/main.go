// Command fidelitybench measures what chainsampling's kept output says about
// the traffic it sampled, through the ocb-built otelcol-chain: the bench
// generates small chain traces (1-3 spans over three nodes) whose class, and
// so the rule that must decide them, it knows, sends them over OTLP/gRPC and
// reads the kept spans at a local OTLP sink. Three scenarios, each with a
// table and checks (a failed check makes the exit status 1):
//
//   - estimates: every rule keeps 1%; per rule, the trace and span counts
//     estimated from the adjusted counts of the kept spans (the ot=th
//     threshold in tracestate) must lie within ±5% of the truth.
//   - budget: max_spans_per_second set and ten times that offered; every
//     error trace (an always rule) and every trace sent while a trigger
//     window was open must be kept.
//   - scale-out: three node sidecars route by trace id with load_balancing
//     to two sampling collectors (the layout of the scale-out test and the
//     deploy profile); every kept trace must arrive whole, with the spans of
//     every node it crossed, at exactly one sampler's sink.
//
// Run it with `make bench-fidelity`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/chainotel/chainotel/internal/testproc"
	"github.com/chainotel/chainotel/processors/chainsamplingprocessor/internal/benchproc"
)

type options struct {
	bin                    string
	traces, scaleoutTraces int
	batch, workers         int
	budget                 int
	budgetDuration         time.Duration
	scenarios              string
	seed                   uint64
}

func main() {
	start := time.Now()
	err := run()
	fmt.Printf("\nelapsed %v\n", time.Since(start).Round(time.Second))
	if err != nil {
		fmt.Fprintln(os.Stderr, "fidelitybench:", err)
		os.Exit(1)
	}
}

func run() error {
	var o options
	flag.StringVar(&o.bin, "otelcol", "build/otelcol-chain", "the ocb-built otelcol-chain binary")
	flag.IntVar(&o.traces, "traces", 1_000_000, "traces of the estimates scenario")
	flag.IntVar(&o.scaleoutTraces, "scaleout-traces", 100_000, "traces of the scale-out scenario")
	flag.IntVar(&o.batch, "batch", 1000, "traces per OTLP request")
	flag.IntVar(&o.workers, "workers", 4, "concurrent senders")
	flag.IntVar(&o.budget, "budget", 1000, "max_spans_per_second of the budget scenario (ten times that is offered)")
	flag.DurationVar(&o.budgetDuration, "budget-duration", 30*time.Second, "how long the budget scenario offers its load")
	flag.StringVar(&o.scenarios, "scenarios", "estimates,budget,scaleout", "which scenarios to run, comma-separated")
	flag.Uint64Var(&o.seed, "seed", 1, "seed of the generated traffic (trace ids, classes, shapes)")
	flag.Parse()
	bin, err := benchproc.Binary(o.bin)
	if err != nil {
		return fmt.Errorf("otelcol-chain: %w (make collector builds it)", err)
	}
	o.bin = bin
	if o.traces < 1 || o.scaleoutTraces < 1 || o.batch < 1 || o.workers < 1 || o.budget < 1 {
		return errors.New("-traces, -scaleout-traces, -batch, -workers and -budget must be at least 1")
	}
	ctx, dir, cleanup, err := benchproc.Setup("fidelitybench")
	if err != nil {
		return err
	}
	defer cleanup()

	fmt.Println("fidelitybench: otelcol-chain's chainsampling, its kept output against the truth of the traffic it was sent")
	fmt.Println("(the machine may be shared: elapsed times and rates vary with its load; the checks do not)")
	var failed []string
	for _, s := range strings.Split(o.scenarios, ",") {
		var ok bool
		var err error
		switch s {
		case "estimates":
			ok, err = estimates(ctx, o, dir)
		case "budget":
			ok, err = budget(ctx, o, dir)
		case "scaleout":
			ok, err = scaleOut(ctx, o, dir)
		default:
			return fmt.Errorf("-scenarios: unknown scenario %q (estimates, budget, scaleout)", s)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
		if !ok {
			failed = append(failed, s)
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("checks failed in: %s", strings.Join(failed, ", "))
	}
	fmt.Println("\nall checks passed")
	return nil
}

// settle waits until the samplers hold no trace (every one sent is decided),
// then stops every collector, samplers last, so that what they still hold
// or queue reaches the sinks; it returns the samplers' last metrics.
func settle(ctx context.Context, samplers, others []*collector) ([]benchproc.Metrics, error) {
	err := testproc.Poll(ctx, 5*time.Minute, func() error {
		for _, c := range samplers {
			m, err := c.Metrics(ctx)
			if err != nil {
				return err
			}
			if n := m["otelcol_processor_chainsampling_buffered_traces"]; n > 0 {
				return fmt.Errorf("%s still holds %.0f traces", c.Name, n)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("waiting for the decisions: %w", err)
	}
	var out []benchproc.Metrics
	for _, c := range samplers {
		m, err := c.Metrics(ctx)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	for _, c := range slices.Concat(others, samplers) {
		if err := c.stop(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// lossMetrics count spans a collector refused or failed to send.
var lossMetrics = []string{"otelcol_receiver_refused_spans", "otelcol_exporter_send_failed_spans",
	"otelcol_exporter_enqueue_failed_spans", "otelcol_processor_chainsampling_spans_refused"}

// refused sums what the collectors refused or failed to send (it must be
// 0), naming the metrics that counted some.
func refused(ms []benchproc.Metrics) float64 {
	var n float64
	for i, m := range ms {
		for _, name := range lossMetrics {
			if v := m[name]; v > 0 {
				fmt.Printf("  collector %d: %s %.0f\n", i, name, v)
				n += v
			}
		}
	}
	return n
}

func pass(ok bool) string {
	if ok {
		return "pass"
	}
	return "FAIL"
}
