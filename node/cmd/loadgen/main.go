// Command loadgen is chainotel's load generator: it drives a cluster of
// nodes with transactions (single POST /tx from many clients, and POST /txs
// batches) and prints committed tx/s and p50/p99 commit latency per mode,
// with a progress display on stderr. Run it with --help for the flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/chainotel/chainotel/internal/cluster"
	"github.com/chainotel/chainotel/internal/testproc"
)

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "loadgen: %v\nrun `loadgen --help` for the flags\n", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, os.Stdout, newDisplay(os.Stderr)); err != nil {
		fmt.Fprintf(os.Stderr, "loadgen: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg config, out io.Writer, d *display) (err error) {
	if cfg.cpuProfile != "" {
		f, err := os.Create(cfg.cpuProfile)
		if err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			_ = f.Close()
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		defer func() {
			pprof.StopCPUProfile()
			if cerr := f.Close(); err == nil && cerr != nil {
				err = fmt.Errorf("--cpuprofile: %w", cerr)
			}
			d.status("wrote loadgen's CPU profile to " + cfg.cpuProfile + " (go tool pprof " + cfg.cpuProfile + ")")
		}()
	}

	if !cfg.spawn {
		l := &load{cfg: cfg, client: cluster.NewClient(cfg.clients+cfg.batchClients, cfg.timeout), targets: cfg.targets}
		if err := waitTargets(ctx, l.client, cfg, d); err != nil {
			return err
		}
		rs, err := runModes(ctx, l, d, nil, nil, nil, "", nil)
		if err != nil {
			return err
		}
		printResults(out, fmt.Sprintf("%d target node(s): %v", len(cfg.targets), cfg.targets), rs)
		return nil
	}

	if !cfg.compare {
		rs, err := runSpawned(ctx, cfg, d, cfg.collector != "")
		if err != nil {
			return err
		}
		printResults(out, spawnTitle(cfg, cfg.collector != ""), rs)
		return nil
	}
	return runComparison(ctx, cfg, out, d, func(ctx context.Context, telemetry bool) ([]result, error) {
		return runSpawned(ctx, cfg, d, telemetry)
	})
}

func spawnTitle(cfg config, telemetry bool) string {
	how := "telemetry disabled (OTEL_SDK_DISABLED=true)"
	if telemetry {
		how = "telemetry exported to " + cfg.collector + headSamplingNote(cfg)
	}
	return fmt.Sprintf("spawned %d-node cluster on loopback, %s", cfg.nodes, how)
}

// sampledAtHead reports whether the nodes sample at the head (0 < p < 1;
// 1, and 0 in a config not made by the flags, export every span).
func sampledAtHead(cfg config) bool { return cfg.headSampling > 0 && cfg.headSampling < 1 }

// headSamplingNote says how the nodes sample at the head, "" for every span.
func headSamplingNote(cfg config) string {
	if !sampledAtHead(cfg) {
		return ""
	}
	return fmt.Sprintf(" at head sampling %g (parentbased_traceidratio)", cfg.headSampling)
}

// runModes runs each configured mode in turn, showing progress; with a
// profileDir, the nodes and the profiled processes (name → base URL of their
// /debug/pprof) are profiled during each mode into it. The CPU of nodes and
// of others (name → pid) is reported with each result, and with a spans
// counter (nil for none) the spans the collector accepted meanwhile.
func runModes(ctx context.Context, l *load, d *display, nodes []*cluster.Node, others map[string]int, profiled map[string]string, profileDir string,
	spans spanCounter) ([]result, error) {
	targets := maps.Clone(profiled)
	if targets == nil {
		targets = map[string]string{}
	}
	for _, n := range nodes {
		targets[n.ID] = n.Health
	}
	var rs []result
	for _, mode := range l.cfg.modes {
		if err := ctx.Err(); err != nil {
			return rs, fmt.Errorf("interrupted before mode %s: %w", mode, err)
		}
		d.status(fmt.Sprintf("running %s for %v (%s)", mode, l.cfg.duration, describeMode(l.cfg, mode)))
		var prof *profiler
		if profileDir != "" {
			prof = startProfiles(ctx, l.client, targets, profileDir, mode, l.cfg.duration, d)
		}
		meter := newCPUMeter(nodes, others)
		spansBefore, spansErr := spans.count(ctx)
		var c counters
		stop := make(chan struct{})
		shown := make(chan struct{})
		go func() {
			d.follow(mode, l.cfg.duration, &c, stop)
			close(shown)
		}()
		r := l.run(ctx, mode, &c)
		close(stop)
		<-shown
		r.cpu, r.cores, r.rest = meter.usage()
		r.spans = math.NaN()
		if spans != nil {
			spansAfter, err := spans.count(ctx)
			if err = errors.Join(spansErr, err); err != nil {
				d.status(fmt.Sprintf("%s: spans accepted by the collector unknown: %v", mode, err))
			} else {
				r.spans = float64(spansAfter - spansBefore)
			}
		}
		prof.wait()
		rs = append(rs, r)
	}
	if err := ctx.Err(); err != nil {
		return rs, fmt.Errorf("interrupted: %w", err)
	}
	return rs, nil
}

func describeMode(cfg config, mode string) string {
	if isReadMode(mode) {
		return fmt.Sprintf("%d clients each reading one balance at a time with GET /accounts (%s)", cfg.clients, mode)
	}
	if mode == modeBatch {
		return fmt.Sprintf("%d clients posting %d transactions per POST /txs", cfg.batchClients, cfg.batchSize)
	}
	return fmt.Sprintf("%d clients each posting one transaction at a time to POST /tx", cfg.clients)
}

// waitTargets waits until every target answers GET /status.
func waitTargets(ctx context.Context, client *cluster.Client, cfg config, d *display) error {
	d.status(fmt.Sprintf("waiting for %d target(s) to answer GET /status", len(cfg.targets)))
	wctx, cancel := context.WithTimeout(ctx, cfg.healthWait)
	defer cancel()
	err := testproc.Until(wctx, func() error {
		for _, t := range cfg.targets {
			if err := client.Do(wctx, http.MethodGet, t+"/status", nil, nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("targets not answering after %v: %w", cfg.healthWait, err)
	}
	return nil
}

// stopTimeout bounds a node's graceful shutdown at the end of a run.
const stopTimeout = 30 * time.Second

func numCPU() int { return runtime.NumCPU() }

// spanCounter reads how many spans the collector has accepted so far.
type spanCounter func(context.Context) (uint64, error)

// count is 0 for a nil counter.
func (f spanCounter) count(ctx context.Context) (uint64, error) {
	if f == nil {
		return 0, nil
	}
	return f(ctx)
}
