package main

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// result is one run of one collector.
type result struct {
	name          string
	cpu           time.Duration
	peakRSS       int64
	accepted      float64 // spans the receiver accepted
	refused       float64 // spans the receiver refused
	dropped       float64 // spans the exporter failed to send or queue
	droppedTraces float64 // traces the sampler dropped undecided
	decidedEarly  float64 // traces decided before their wait (chainsampling)
	sent          float64 // spans the exporter sent
	keptSpans     int     // spans the sink received
	kept          map[string]int
}

// cpuPerSpan is CPU time per accepted span, in microseconds.
func (r result) cpuPerSpan() float64 {
	if r.accepted == 0 {
		return math.NaN()
	}
	return float64(r.cpu.Microseconds()) / r.accepted
}

func (r result) print(label string) {
	var kept []string
	for _, rule := range rules {
		kept = append(kept, fmt.Sprintf("%s %d", rule, r.kept[rule]))
	}
	fmt.Printf("  %s %-31s CPU/span %6.2f µs (CPU %5.1fs, %8.0f spans accepted)  peak RSS %4d MB  refused %.0f dropped %.0f spans, %.0f traces  early %.0f  kept traces: %s (%d spans)\n",
		label, r.name, r.cpuPerSpan(), r.cpu.Seconds(), r.accepted, r.peakRSS>>20,
		r.refused, r.dropped, r.droppedTraces, r.decidedEarly, strings.Join(kept, ", "), r.keptSpans)
}

// summarise prints the ratios over the rounds and checks what must hold:
// nothing refused or dropped, and the same traces kept per rule within
// sampling noise.
func summarise(subjects []subject, results [][2]result) error {
	var cpuRatios, rssRatios []float64
	var cpu, rss [2][]float64
	kept := [2]map[string]int{{}, {}}
	var problems []string
	for r, pair := range results {
		cpuRatios = append(cpuRatios, pair[0].cpuPerSpan()/pair[1].cpuPerSpan())
		rssRatios = append(rssRatios, float64(pair[0].peakRSS)/float64(pair[1].peakRSS))
		for i, res := range pair {
			cpu[i] = append(cpu[i], res.cpuPerSpan())
			rss[i] = append(rss[i], float64(res.peakRSS>>20))
			for rule, n := range res.kept {
				kept[i][rule] += n
			}
			if res.refused != 0 || res.dropped != 0 || res.droppedTraces != 0 {
				problems = append(problems, fmt.Sprintf("round %d, %s: %.0f spans refused, %.0f spans and %.0f traces dropped",
					r+1, res.name, res.refused, res.dropped, res.droppedTraces))
			}
		}
	}
	fmt.Printf("over %d rounds (median, range):\n", len(results))
	fmt.Printf("  %-31s %-22s %s\n", "collector", "CPU per accepted span", "peak RSS")
	for i, s := range subjects {
		fmt.Printf("  %-31s %-22s %s\n", s.name, spread(cpu[i], "%.2f µs"), spread(rss[i], "%.0f MB"))
	}
	fmt.Printf("  %-31s %-22s %s\n", "ratio chain/stock", spread(cpuRatios, "%.2fx"), spread(rssRatios, "%.2fx"))
	fmt.Printf("\nkept traces per rule, all rounds:\n  %-10s %8s %8s\n", "rule", "chain", "stock")
	for _, rule := range rules {
		a, b := kept[0][rule], kept[1][rule]
		verdict := "agree"
		if !agree(a, b) {
			verdict = "DISAGREE"
			problems = append(problems, fmt.Sprintf("rule %s: chain kept %d traces, stock %d", rule, a, b))
		}
		fmt.Printf("  %-10s %8d %8d  %s\n", rule, a, b, verdict)
	}
	if len(problems) > 0 {
		return errors.New("the bench's checks failed:\n  " + strings.Join(problems, "\n  "))
	}
	return nil
}

// agree says whether two kept counts differ by no more than sampling
// noise (four standard deviations of a binomial count) plus the load's own
// variation between runs (3%).
func agree(a, b int) bool {
	hi := float64(max(a, b))
	return math.Abs(float64(a-b)) <= 4*math.Sqrt(hi)+0.03*hi+2
}

// spread formats the median of xs and its range.
func spread(xs []float64, format string) string {
	s := slices.Clone(xs)
	slices.Sort(s)
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return fmt.Sprintf(format+" ("+format+"–"+format+")", med, s[0], s[len(s)-1])
}
