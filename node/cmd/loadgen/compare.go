package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"text/tabwriter"
)

// On a shared machine the load generator, the nodes and the collector
// compete for the same cores, and one pair of runs of --compare-telemetry
// can swing by a quarter between invocations. So --rounds repeats the pair,
// each configuration on a fresh cluster, alternating which goes first so that
// warm-up and drift do not all fall on one side, and the comparison reports
// the median and the range over the rounds. Beside throughput it reports the
// CPU the nodes and the collector spend per committed transaction, which the
// competition for cores moves far less.

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

// cpuPerTx is the CPU time the nodes and the collector (every measured
// process but loadgen) used during r per committed transaction, in
// microseconds; NaN when nothing was committed or nothing measured.
func cpuPerTx(r result) float64 {
	var sum float64
	measured := false
	for name, d := range r.cpu {
		if name != "loadgen" {
			sum += d.Seconds()
			measured = true
		}
	}
	if !measured {
		return math.NaN()
	}
	return microsPerTx(sum, r.acked)
}

// microsPerTx is seconds of CPU spread over acked transactions, in
// microseconds each; NaN when nothing was committed.
func microsPerTx(seconds float64, acked uint64) float64 {
	if acked == 0 {
		return math.NaN()
	}
	return seconds / float64(acked) * 1e6
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
	rate      float64 // committed tx/s
	cpu       float64 // CPU µs per committed transaction, see cpuPerTx
	collector float64 // the collector's share of cpu; NaN when no collector ran
	rest      float64 // cores the rest of the machine kept busy meanwhile
}

func figuresOf(r result) figures {
	f := figures{rate: r.rate(), cpu: cpuPerTx(r), collector: math.NaN(), rest: r.rest}
	if d, ok := r.cpu["collector"]; ok {
		f.collector = microsPerTx(d.Seconds(), r.acked)
	}
	return f
}

// costBudget is the target: telemetry may cost at most this share of the
// CPU per transaction (and so of the throughput, on busy cores).
const costBudget = 0.05

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

// rateRatio is tx/s with ÷ without: below 1, telemetry costs throughput.
func (c modeCost) rateRatio() float64 { return ratio(c.with.rate, c.without.rate) }

// cpuRatio is CPU per transaction without ÷ with, the same way round as
// rateRatio: below 1, telemetry costs CPU.
func (c modeCost) cpuRatio() float64 { return ratio(c.without.cpu, c.with.cpu) }

// added is the CPU per transaction telemetry adds, in µs.
func (c modeCost) added() float64 { return c.with.cpu - c.without.cpu }

// nodesAdded is the part of added spent in the nodes (not the collector).
func (c modeCost) nodesAdded() float64 { return c.added() - c.with.collector }

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

// printComparison writes a row per mode and round comparing the two
// configurations, then, over several rounds, the medians and ranges.
func printComparison(w io.Writer, rounds []compareRound, exporting string) {
	n := len(rounds)
	_, _ = fmt.Fprintf(w, "\ntelemetry cost: %s vs OTEL_SDK_DISABLED=true", exporting)
	if n > 1 {
		_, _ = fmt.Fprintf(w, ", %d rounds, each run on a fresh cluster, round 1 exporting first, then alternating", n)
	}
	_, _ = fmt.Fprintln(w)
	_, _ = fmt.Fprintln(w, "  cpu µs/tx = CPU time of the nodes and the collector (not loadgen) per committed transaction")
	_, _ = fmt.Fprintln(w, "  tx/s ratio = with ÷ without, cpu ratio = without ÷ with: for both, below 1x is what telemetry costs")
	_, _ = fmt.Fprintln(w, "  other load = cores busy outside loadgen, the nodes and the collector, with / without")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	_, _ = fmt.Fprintln(tw, "mode\tround\tfirst\ttx/s with\ttx/s without\ttx/s ratio\tcpu µs/tx with\tcpu µs/tx without\tcpu ratio\tother load\t")
	modes, costs := modeCosts(rounds)
	for _, mode := range modes {
		for _, c := range costs[mode] {
			first := "without"
			if c.telemetryFirst {
				first = "with"
			}
			_, _ = fmt.Fprintf(tw, "%s\t%d\t%s\t%.0f\t%.0f\t%s\t%s\t%s\t%s\t%s / %s\t\n", mode, c.round, first,
				c.with.rate, c.without.rate, times(c.rateRatio()), micros(c.with.cpu), micros(c.without.cpu), times(c.cpuRatio()),
				coresOrDash(c.with.rest), coresOrDash(c.without.rest))
		}
	}
	_ = tw.Flush()
	if n > 1 {
		for _, mode := range modes {
			cs := costs[mode]
			over := func(f func(modeCost) float64) spread { return spreadOf(of(cs, f)) }
			rr, cr := over(modeCost.rateRatio), over(modeCost.cpuRatio)
			_, _ = fmt.Fprintf(w, "  %s: tx/s ratio %s (range %s–%s over %d rounds), median %.0f tx/s with, %.0f without\n",
				mode, times(rr.median), times(rr.min), times(rr.max), len(cs),
				over(func(c modeCost) float64 { return c.with.rate }).median,
				over(func(c modeCost) float64 { return c.without.rate }).median)
			_, _ = fmt.Fprintf(w, "  %s: cpu ratio %s (range %s–%s over %d rounds), median %s µs/tx with, %s without\n",
				mode, times(cr.median), times(cr.min), times(cr.max), len(cs),
				micros(over(func(c modeCost) float64 { return c.with.cpu }).median),
				micros(over(func(c modeCost) float64 { return c.without.cpu }).median))
		}
	}
	for _, mode := range modes {
		printWhere(w, mode, costs[mode])
	}
	if load, run := busiest(modes, costs); load > quietLimit {
		_, _ = fmt.Fprintf(w, "  WARNING: the machine was not quiet: other processes kept up to %.2f cores busy (%s); "+
			"ratios from such runs measure the competition as much as telemetry\n", load, run)
	}
}

// printWhere splits the CPU per transaction telemetry adds between the nodes
// and the collector, beside what the cost budget would allow, as medians over
// the rounds. It prints nothing when the collector's CPU was not measured.
func printWhere(w io.Writer, mode string, cs []modeCost) {
	med := func(f func(modeCost) float64) float64 { return spreadOf(of(cs, f)).median }
	col := med(func(c modeCost) float64 { return c.with.collector })
	if math.IsNaN(col) {
		return
	}
	over := ""
	if len(cs) > 1 {
		over = fmt.Sprintf(" (medians of %d rounds)", len(cs))
	}
	_, _ = fmt.Fprintf(w, "  %s: telemetry adds %s µs/tx%s: %s in the nodes, %s in the collector; costing %.0f%% would be %s µs/tx\n",
		mode, micros(med(modeCost.added)), over, micros(med(modeCost.nodesAdded)), micros(col), costBudget*100,
		micros(costBudget*med(func(c modeCost) float64 { return c.without.cpu })))
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
