package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func TestTelemetryFirstAlternates(t *testing.T) {
	var got []bool
	for n := 1; n <= 4; n++ {
		got = append(got, telemetryFirst(n))
	}
	assert.Equal(t, []bool{true, false, true, false}, got)
}

func TestSpreadOf(t *testing.T) {
	tests := []struct {
		name string
		in   []float64
		want spread
	}{
		{"one", []float64{0.7}, spread{0.7, 0.7, 0.7}},
		{"odd count takes the middle", []float64{0.87, 0.62, 0.74}, spread{0.74, 0.62, 0.87}},
		{"even count averages the middle two", []float64{4, 1, 3, 2}, spread{2.5, 1, 4}},
		{"NaN left out", []float64{math.NaN(), 3, 1}, spread{2, 1, 3}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, spreadOf(tc.in))
		})
	}
	for _, in := range [][]float64{nil, {math.NaN()}} {
		s := spreadOf(in)
		assert.True(t, math.IsNaN(s.median) && math.IsNaN(s.min) && math.IsNaN(s.max), "%v gives %v", in, s)
	}
}

func TestFiguresChargeTheNodesPerTxAndTheCollectorPerSpan(t *testing.T) {
	r := result{acked: 1000, elapsed: time.Second, spans: 5000, cpu: map[string]time.Duration{
		"loadgen": 5 * time.Second, "node0": time.Second, "node1": time.Second, "collector": 500 * time.Millisecond,
	}}
	f := figuresOf(r)
	assert.InDelta(t, 2000.0, f.nodes, 1e-9, "2 s of the nodes over 1000 tx, neither loadgen's nor the collector's")
	assert.InDelta(t, 100.0, f.colSpan, 1e-9, "0.5 s of the collector over 5000 spans")
	assert.InDelta(t, 5.0, f.spansTx, 1e-9)

	assert.True(t, math.IsNaN(figuresOf(result{acked: 0, cpu: map[string]time.Duration{"node0": time.Second}}).nodes), "nothing committed")
	assert.True(t, math.IsNaN(figuresOf(result{acked: 10, cpu: map[string]time.Duration{"loadgen": time.Second}}).nodes), "no node measured")
	noSpans := figuresOf(result{acked: 10, spans: math.NaN(), cpu: map[string]time.Duration{"collector": time.Second}})
	assert.True(t, math.IsNaN(noSpans.colSpan), "spans not counted")
	assert.True(t, math.IsNaN(figuresOf(result{acked: 10, spans: 50}).colSpan), "no collector measured")
}

func TestModeCostRatiosReadTheSameWay(t *testing.T) {
	c := modeCost{with: figures{rate: 750, nodes: 1100}, without: figures{rate: 1000, nodes: 1000}}
	assert.InDelta(t, 0.75, c.rateRatio(), 1e-9, "tx/s with ÷ without")
	assert.InDelta(t, 1.1, c.nodesRatio(), 1e-9, "the nodes' cpu per tx with ÷ without")
	assert.True(t, math.IsNaN(modeCost{}.rateRatio()), "no throughput without telemetry: no ratio")
	assert.True(t, math.IsNaN(modeCost{}.nodesRatio()), "no cpu without telemetry: no ratio")
}

// fakeRuns answers runComparison's runs with canned results: per call, the
// committed tx/s of single mode, the nodes' CPU seconds of each mode and the
// other load on the machine.
type fakeRuns struct {
	calls   []bool // the telemetry argument of each call
	answers [][3]float64
	failAt  int // 1-based call that fails; 0 for none
}

func (f *fakeRuns) run(d *display) runFunc {
	return func(_ context.Context, telemetry bool) ([]result, error) {
		f.calls = append(f.calls, telemetry)
		d.status("starting cluster")
		if len(f.calls) == f.failAt {
			return nil, errors.New("node0 exited")
		}
		a := f.answers[len(f.calls)-1]
		rs := []result{
			fakeResult(modeSingle, a[0], a[1], a[2]),
			fakeResult(modeBatch, 4*a[0], a[1], a[2]),
		}
		if telemetry { // the collector took a tenth of the nodes' CPU and accepted 5 spans a tx
			for i := range rs {
				rs[i].cpu["collector"] = (rs[i].cpu["node0"] + rs[i].cpu["node1"]) / 10
				rs[i].spans = 5 * float64(rs[i].acked)
			}
		}
		return rs, nil
	}
}

// fakeResult is a 10-second run at rate tx/s whose two nodes used cpu
// seconds between them while the rest of the machine kept rest cores busy.
func fakeResult(mode string, rate, cpu, rest float64) result {
	half := time.Duration(cpu / 2 * float64(time.Second))
	return result{
		mode: mode, clients: 16, elapsed: 10 * time.Second, sent: uint64(rate * 10), acked: uint64(rate * 10),
		cpu:  map[string]time.Duration{"loadgen": time.Second, "node0": half, "node1": half},
		rest: rest, spans: math.NaN(),
	}
}

func comparisonConfig(rounds int) config {
	return config{nodes: 2, collector: "/bin/otelcol-chain", compare: true, rounds: rounds}
}

func TestRunComparisonAlternatesAndSummarises(t *testing.T) {
	f := &fakeRuns{answers: [][3]float64{
		// round 1: with, without; round 2: without, with; round 3: with, without
		{700, 14, 0.05}, {1000, 12, 0.04}, {1100, 12, 0.05}, {900, 15, 0.05}, {600, 13.2, 0.61}, {1000, 12, 0.05},
	}}
	var out, progress bytes.Buffer
	d := newDisplay(&progress)
	require.NoError(t, runComparison(t.Context(), comparisonConfig(3), &out, d, f.run(d)))

	assert.Equal(t, []bool{true, false, false, true, true, false}, f.calls, "round 1 exports first, then the order alternates")
	assert.Contains(t, progress.String(), "loadgen: round 1/3: telemetry exported: starting cluster\n")
	assert.Contains(t, progress.String(), "loadgen: round 2/3: telemetry disabled: starting cluster\n")
	assert.Contains(t, progress.String(), "loadgen: round 3/3: telemetry disabled: starting cluster\n")
	d.status("done")
	assert.Contains(t, progress.String(), "\nloadgen: done\n", "the prefix ends with the comparison")
	assert.Contains(t, out.String(), "\nround 2/3: spawned 2-node cluster on loopback, telemetry disabled (OTEL_SDK_DISABLED=true)\n")
	golden(t, "comparison-3-rounds.golden", comparisonOnly(t, out.String()))
	assert.Contains(t, out.String(), "other processes kept up to 0.61 cores busy (round 3, with telemetry, single mode)")
}

func TestRunComparisonOneRoundKeepsTheOldShape(t *testing.T) {
	f := &fakeRuns{answers: [][3]float64{{700, 14, 0.05}, {1000, 12, math.NaN()}}}
	var out, progress bytes.Buffer
	d := newDisplay(&progress)
	require.NoError(t, runComparison(t.Context(), comparisonConfig(1), &out, d, f.run(d)))

	assert.Equal(t, []bool{true, false}, f.calls)
	assert.Contains(t, progress.String(), "loadgen: telemetry disabled: starting cluster\n")
	assert.Contains(t, out.String(), "\nspawned 2-node cluster on loopback, telemetry exported to /bin/otelcol-chain\n")
	golden(t, "comparison-1-round.golden", comparisonOnly(t, out.String()))
	assert.NotContains(t, out.String(), "WARNING", "a quiet machine")
}

func TestRunComparisonFailureKeepsCompletedRounds(t *testing.T) {
	f := &fakeRuns{answers: [][3]float64{{700, 14, 0.05}, {1000, 12, 0.05}}, failAt: 3}
	var out bytes.Buffer
	d := newDisplay(&bytes.Buffer{})
	err := runComparison(t.Context(), comparisonConfig(3), &out, d, f.run(d))
	require.EqualError(t, err, "round 2/3: telemetry disabled: node0 exited")
	got := comparisonOnly(t, out.String())
	assert.Contains(t, got, "single      1   with              2000                 1200        1.67x        700          1000       0.70x")
	assert.Contains(t, got, "over 1 round)", "one completed round")
}

// comparisonOnly cuts the comparison from loadgen's output, leaving out the
// per-run tables (whose CPU line names this machine's core count).
func comparisonOnly(t *testing.T, out string) string {
	t.Helper()
	i := bytes.LastIndex([]byte(out), []byte("\ntelemetry cost:"))
	require.GreaterOrEqual(t, i, 0, "no comparison in:\n%s", out)
	return out[i:]
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test -update to write it")
	assert.Equal(t, string(want), got)
}

func TestHeadSamplingIsNamedInTheComparison(t *testing.T) {
	cfg := config{nodes: 3, collector: "/bin/otelcol-chain", headSampling: 0.1}
	require.Equal(t, "spawned 3-node cluster on loopback, telemetry exported to /bin/otelcol-chain at head sampling 0.1 (parentbased_traceidratio)",
		spawnTitle(cfg, true))
	cfg.headSampling = 1
	require.Equal(t, "spawned 3-node cluster on loopback, telemetry exported to /bin/otelcol-chain", spawnTitle(cfg, true))
}
