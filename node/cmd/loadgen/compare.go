package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
)

// On a shared machine the load generator, the nodes and the collector
// compete for the same cores, and one pair of runs of --compare-telemetry
// can swing by a quarter between invocations. So --rounds repeats the pair,
// each configuration on a fresh cluster, alternating which goes first so that
// warm-up and drift do not all fall on one side, and the comparison reports
// the median and the range over the rounds. What it compares is where
// telemetry's cost is paid: the nodes' CPU per committed transaction, which
// the competition for cores moves far less than throughput, and, separately,
// the collector's CPU per span it received (in production the collector runs
// on its own machine).

// compareRound is one round of --compare-telemetry: the modes measured with
// telemetry exported and with it disabled.
type compareRound struct {
	telemetryFirst bool
	with, without  []result
}

// telemetryFirst reports whether round n (counted from 1) runs with
// telemetry first: odd rounds do, even rounds run it second.
func telemetryFirst(n int) bool { return n%2 == 1 }

// runFunc runs every mode once on a fresh cluster, with telemetry exported
// to the collector or disabled.
type runFunc func(ctx context.Context, telemetry bool) ([]result, error)

// runComparison runs cfg.rounds rounds of both configurations and prints each
// run's results as it ends and the comparison at the end. If a run fails, the
// rounds completed before it are still compared.
func runComparison(ctx context.Context, cfg config, out io.Writer, d *display, run runFunc) error {
	defer d.setPrefix("")
	var rounds []compareRound
	for n := 1; n <= cfg.rounds; n++ {
		rd := compareRound{telemetryFirst: telemetryFirst(n)}
		for _, telemetry := range []bool{rd.telemetryFirst, !rd.telemetryFirst} {
			label := runLabel(n, cfg.rounds, telemetry)
			d.setPrefix(label + ": ")
			rs, err := run(ctx, telemetry)
			if err != nil {
				if len(rounds) > 0 {
					printComparison(out, rounds, "exporting to otelcol-chain"+headSamplingNote(cfg))
				}
				return fmt.Errorf("%s: %w", label, err)
			}
			title := spawnTitle(cfg, telemetry)
			if cfg.rounds > 1 {
				title = fmt.Sprintf("round %d/%d: %s", n, cfg.rounds, title)
			}
			printResults(out, title, rs)
			if telemetry {
				rd.with = rs
			} else {
				rd.without = rs
			}
		}
		rounds = append(rounds, rd)
	}
	printComparison(out, rounds, "exporting to otelcol-chain"+headSamplingNote(cfg))
	return nil
}

// runLabel names a run in the progress display: "round 2/3: telemetry
// disabled", without the round when there is only one.
func runLabel(n, of int, telemetry bool) string {
	what := "telemetry disabled"
	if telemetry {
		what = "telemetry exported"
	}
	if of == 1 {
		return what
	}
	return fmt.Sprintf("round %d/%d: %s", n, of, what)
}

// nodesCPU is the CPU time the nodes (every measured process but loadgen
// and the collector) used during r, in seconds; NaN when none was measured.
func nodesCPU(r result) float64 {
	var sum float64
	measured := false
	for name, d := range r.cpu {
		if name != "loadgen" && name != "collector" {
			sum += d.Seconds()
			measured = true
		}
	}
	if !measured {
		return math.NaN()
	}
	return sum
}

// microsPer is seconds of CPU spread over n things, in microseconds each;
// NaN when there were none.
func microsPer(seconds, n float64) float64 {
	if !(n > 0) {
		return math.NaN()
	}
	return seconds / n * 1e6
}

// ratio is a ÷ b, NaN when b is not a positive number.
func ratio(a, b float64) float64 {
	if !(b > 0) {
		return math.NaN()
	}
	return a / b
}

// figures are one run's measurements of one mode.
type figures struct {
	rate    float64 // committed tx/s
	nodes   float64 // the nodes' CPU µs per committed transaction
	colSpan float64 // the collector's CPU µs per span it accepted; NaN when not measured
	spansTx float64 // spans the collector accepted per committed transaction; NaN when not counted
	rest    float64 // cores the rest of the machine kept busy meanwhile
}

func figuresOf(r result) figures {
	acked := float64(r.acked)
	f := figures{rate: r.rate(), nodes: microsPer(nodesCPU(r), acked), colSpan: math.NaN(), spansTx: ratio(r.spans, acked), rest: r.rest}
	if d, ok := r.cpu["collector"]; ok {
		f.colSpan = microsPer(d.Seconds(), r.spans)
	}
	return f
}

// targets are the bounds on the nodes' ratio, per mode.
var targets = map[string]float64{modeSingle: 1.05, modeBatch: 1.02}

// quietLimit is how many cores the rest of the machine may keep busy during
// a run before the comparison warns that it was not quiet: on an otherwise
// idle machine the rest is a few hundredths of a core (kernel threads).
const quietLimit = 0.25

// modeCost is what one round measured for one mode in both configurations.
type modeCost struct {
	round          int
	telemetryFirst bool
	with, without  figures
}

// nodesRatio is the nodes' CPU per transaction with ÷ without: above 1, what
// telemetry costs the nodes.
func (c modeCost) nodesRatio() float64 { return ratio(c.with.nodes, c.without.nodes) }

// rateRatio is tx/s with ÷ without: below 1, telemetry costs throughput.
func (c modeCost) rateRatio() float64 { return ratio(c.with.rate, c.without.rate) }

// modeCosts pairs the results of each round by mode, in the order the modes ran.
func modeCosts(rounds []compareRound) (modes []string, costs map[string][]modeCost) {
	costs = map[string][]modeCost{}
	for i, rd := range rounds {
		for j := range min(len(rd.with), len(rd.without)) {
			a, b := rd.with[j], rd.without[j]
			if !slices.Contains(modes, a.mode) {
				modes = append(modes, a.mode)
			}
			costs[a.mode] = append(costs[a.mode], modeCost{
				round: i + 1, telemetryFirst: rd.telemetryFirst,
				with: figuresOf(a), without: figuresOf(b),
			})
		}
	}
	return modes, costs
}

// spread is the median, minimum and maximum of some figures; NaN for all
// three when there are none.
type spread struct{ median, min, max float64 }

// spreadOf leaves out NaNs (figures that could not be computed).
func spreadOf(xs []float64) spread {
	var v []float64
	for _, x := range xs {
		if !math.IsNaN(x) {
			v = append(v, x)
		}
	}
	if len(v) == 0 {
		return spread{math.NaN(), math.NaN(), math.NaN()}
	}
	slices.Sort(v)
	m := v[len(v)/2]
	if len(v)%2 == 0 {
		m = (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	return spread{median: m, min: v[0], max: v[len(v)-1]}
}

// of applies f to each cost.
func of(cs []modeCost, f func(modeCost) float64) []float64 {
	out := make([]float64, len(cs))
	for i, c := range cs {
		out[i] = f(c)
	}
	return out
}

// printComparison writes a row per mode and round comparing the nodes' CPU
// per transaction in the two configurations, then per mode the median and
// range of the ratio over the rounds, then the collector's CPU per span.
func printComparison(w io.Writer, rounds []compareRound, exporting string) {
	n := len(rounds)
	_, _ = fmt.Fprintf(w, "\ntelemetry cost: %s vs OTEL_SDK_DISABLED=true", exporting)
	if n > 1 {
		_, _ = fmt.Fprintf(w, ", %d rounds, each run on a fresh cluster, round 1 exporting first, then alternating", n)
	}
	_, _ = fmt.Fprintln(w)
	_, _ = fmt.Fprintln(w, "  nodes µs/tx = the nodes' CPU time (not the collector's, not loadgen's) per committed transaction")
	_, _ = fmt.Fprintln(w, "  nodes ratio = nodes µs/tx with ÷ without: above 1x is what telemetry costs the nodes")
	_, _ = fmt.Fprintln(w, "  tx/s ratio = committed tx/s with ÷ without; other load = cores busy outside loadgen, the nodes and the collector, with / without")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	_, _ = fmt.Fprintln(tw, "mode\tround\tfirst\tnodes µs/tx with\tnodes µs/tx without\tnodes ratio\ttx/s with\ttx/s without\ttx/s ratio\tother load\t")
	modes, costs := modeCosts(rounds)
	for _, mode := range modes {
		for _, c := range costs[mode] {
			first := "without"
			if c.telemetryFirst {
				first = "with"
			}
			_, _ = fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%.0f\t%.0f\t%s\t%s / %s\t\n", mode, c.round, first,
				micros(c.with.nodes), micros(c.without.nodes), times(c.nodesRatio()),
				c.with.rate, c.without.rate, times(c.rateRatio()),
				coresOrDash(c.with.rest), coresOrDash(c.without.rest))
		}
	}
	_ = tw.Flush()
	for _, mode := range modes {
		cs := costs[mode]
		over := func(f func(modeCost) float64) spread { return spreadOf(of(cs, f)) }
		nr := over(modeCost.nodesRatio)
		target := ""
		if t, ok := targets[mode]; ok {
			met := "met"
			if !(nr.median <= t) {
				met = "not met"
			}
			target = fmt.Sprintf("; target at most %.2fx: %s", t, met)
		}
		_, _ = fmt.Fprintf(w, "  %s: nodes ratio median %s (min–max %s–%s over %s), median %s µs/tx with, %s without%s\n",
			mode, times(nr.median), times(nr.min), times(nr.max), plural(len(cs), "round"),
			micros(over(func(c modeCost) float64 { return c.with.nodes }).median),
			micros(over(func(c modeCost) float64 { return c.without.nodes }).median), target)
	}
	printCollector(w, modes, costs)
	if load, run := busiest(modes, costs); load > quietLimit {
		_, _ = fmt.Fprintf(w, "  WARNING: the machine was not quiet: other processes kept up to %.2f cores busy (%s); "+
			"ratios from such runs measure the competition as much as telemetry\n", load, run)
	}
}

// printCollector writes, on a line of its own, the collector's CPU per span
// it accepted in each mode: the median and range over the rounds, and the
// spans per committed transaction. It prints nothing when the collector's
// CPU or spans were not measured.
func printCollector(w io.Writer, modes []string, costs map[string][]modeCost) {
	var parts []string
	for _, mode := range modes {
		cs := costs[mode]
		per := spreadOf(of(cs, func(c modeCost) float64 { return c.with.colSpan }))
		if math.IsNaN(per.median) {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %.2f µs/span (min–max %.2f–%.2f, %.3g spans/tx)", mode, per.median, per.min, per.max,
			spreadOf(of(cs, func(c modeCost) float64 { return c.with.spansTx })).median))
	}
	if len(parts) > 0 {
		_, _ = fmt.Fprintf(w, "  collector CPU per span accepted (medians): %s\n", strings.Join(parts, "; "))
	}
}

// plural is "1 round" or "3 rounds".
func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// busiest finds the run during which the rest of the machine was busiest.
func busiest(modes []string, costs map[string][]modeCost) (load float64, run string) {
	for _, mode := range modes {
		for _, c := range costs[mode] {
			for _, f := range []struct {
				rest float64
				what string
			}{{c.with.rest, "with"}, {c.without.rest, "without"}} {
				if f.rest > load {
					load, run = f.rest, fmt.Sprintf("round %d, %s telemetry, %s mode", c.round, f.what, mode)
				}
			}
		}
	}
	return load, run
}

// times formats a ratio, "-" when it could not be computed.
func times(x float64) string {
	if math.IsNaN(x) {
		return "-"
	}
	return fmt.Sprintf("%.2fx", x)
}

// micros formats CPU µs per transaction, "-" when unknown.
func micros(x float64) string {
	if math.IsNaN(x) {
		return "-"
	}
	return fmt.Sprintf("%.0f", x)
}
