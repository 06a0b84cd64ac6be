package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"
)

// Mode names.
const (
	modeSingle = "single" // one transaction per POST /tx
	modeBatch  = "batch"  // batch-size transactions per POST /txs
)

// config is what the flags ask for.
type config struct {
	targets      []string // API base URLs; empty with --spawn
	spawn        bool
	binary       string
	nodes        int
	modes        []string
	duration     time.Duration
	clients      int
	batchSize    int
	batchClients int
	from         []string
	to           string
	amount       uint64
	timeout      time.Duration
	healthWait   time.Duration
	keep         bool
	cpuProfile   string
	nodeProfiles string
	collector    string
	compare      bool
	rounds       int
	headSampling float64 // the nodes' head-sampling probability when exporting; 1 keeps every trace
}

const usageHead = `loadgen drives a chainotel cluster with transactions and prints the committed
tx/s and the p50/p99 commit latency of each mode:

  single  N concurrent clients, each posting one transaction at a time (POST /tx)
  batch   concurrent clients posting batches of --batch-size (POST /txs)

Either point it at running nodes with --targets, or let it start a fresh
three-node cluster from a built binary with --spawn --binary ./blockchain
(certs, init and three nodes on free loopback ports in a temporary folder,
exactly as the README's commands; stopped with SIGTERM at the end).

Examples:
  go run ./node/cmd/loadgen --spawn --binary ./blockchain
  go run ./node/cmd/loadgen --targets http://localhost:8080,http://localhost:8081 --modes single --clients 64
  go run ./node/cmd/loadgen --spawn --binary ./blockchain --collector build/otelcol-chain --compare-telemetry
  go run ./node/cmd/loadgen --spawn --binary ./blockchain --collector build/otelcol-chain --compare-telemetry --rounds 3

Flags:
`

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var (
		c                    config
		targets, modes, from string
		fs                   = flag.NewFlagSet("loadgen", flag.ContinueOnError)
	)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		_, _ = fmt.Fprint(stderr, usageHead)
		fs.PrintDefaults()
	}
	fs.StringVar(&targets, "targets", "", "comma-separated API base URLs of running nodes (e.g. http://localhost:8080,http://localhost:8081); clients are spread over them")
	fs.BoolVar(&c.spawn, "spawn", false, "start a fresh local cluster from --binary instead of using --targets")
	fs.StringVar(&c.binary, "binary", "./blockchain", "the built blockchain binary, for --spawn")
	fs.IntVar(&c.nodes, "nodes", 3, "number of nodes to spawn")
	fs.StringVar(&modes, "modes", modeSingle+","+modeBatch, "comma-separated modes to run, in order: single, batch, read (linearizable GET /accounts), read-local (?consistency=local)")
	fs.DurationVar(&c.duration, "duration", 15*time.Second, "how long each mode sends")
	fs.IntVar(&c.clients, "clients", 256, "concurrent clients in single mode")
	fs.IntVar(&c.batchSize, "batch-size", 500, "transactions per POST /txs in batch mode")
	fs.IntVar(&c.batchClients, "batch-clients", 16, "concurrent clients in batch mode")
	fs.StringVar(&from, "from", "0xabc", "comma-separated sender accounts (funded in the dev genesis); clients take them in turn")
	fs.StringVar(&c.to, "to", "0xdef", "receiving account")
	fs.Uint64Var(&c.amount, "amount", 1, "amount of each transfer")
	fs.DurationVar(&c.timeout, "timeout", 30*time.Second, "per-request timeout")
	fs.DurationVar(&c.healthWait, "health-wait", 90*time.Second, "how long to wait for spawned nodes to be healthy, or for --targets to answer")
	fs.BoolVar(&c.keep, "keep", false, "keep the spawned cluster's folder (certs, data, logs) instead of removing it")
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "write loadgen's own CPU profile to this file")
	fs.StringVar(&c.nodeProfiles, "node-profiles", "", "folder for CPU profiles of the nodes (from /debug/pprof on their health ports), one per node and mode, for `go tool pprof`")
	fs.StringVar(&c.collector, "collector", "", "an otelcol-chain binary: spawned nodes export their telemetry to it (else they run with OTEL_SDK_DISABLED=true)")
	fs.BoolVar(&c.compare, "compare-telemetry", false, "run everything twice, with telemetry exported to --collector and with OTEL_SDK_DISABLED=true, and print both, the tx/s ratio and the CPU per committed transaction")
	fs.Float64Var(&c.headSampling, "head-sampling", 1, "with --collector: the nodes sample at the head with this probability (OTEL_TRACES_SAMPLER=parentbased_traceidratio), so --compare-telemetry reads what the head-sampling valve buys; 1 (the default) exports every span")
	fs.IntVar(&c.rounds, "rounds", 1, "with --compare-telemetry: repeat the pair of runs this many times, each on fresh clusters, alternating which configuration goes first, and print the median ratios and their range")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q (flags start with --)", fs.Arg(0))
	}
	c.targets = splitList(targets)
	c.modes = splitList(modes)
	c.from = splitList(from)
	return c, c.validate()
}

func (c *config) validate() error {
	var errs []error
	switch {
	case c.spawn && len(c.targets) > 0:
		errs = append(errs, errors.New("--spawn and --targets exclude each other: spawn a cluster or name running nodes"))
	case !c.spawn && len(c.targets) == 0:
		errs = append(errs, errors.New("no cluster: give --targets http://host:port,... or --spawn --binary ./blockchain"))
	}
	for _, t := range c.targets {
		u, err := url.Parse(t)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("--targets: %q is not an http(s)://host:port URL", t))
		}
	}
	if c.spawn && c.nodes < 1 {
		errs = append(errs, fmt.Errorf("--nodes: must be >= 1, got %d", c.nodes))
	}
	if len(c.modes) == 0 {
		errs = append(errs, errors.New("--modes: empty; use single, batch, read, read-local"))
	}
	for _, m := range c.modes {
		if m != modeSingle && m != modeBatch && !isReadMode(m) {
			errs = append(errs, fmt.Errorf("--modes: unknown mode %q; use %s, %s, %s or %s", m, modeSingle, modeBatch, modeRead, modeReadLocal))
		}
	}
	if c.duration <= 0 {
		errs = append(errs, fmt.Errorf("--duration: must be > 0, got %v", c.duration))
	}
	if c.clients < 1 {
		errs = append(errs, fmt.Errorf("--clients: must be >= 1, got %d", c.clients))
	}
	if c.batchSize < 1 {
		errs = append(errs, fmt.Errorf("--batch-size: must be >= 1, got %d", c.batchSize))
	}
	if c.batchClients < 1 {
		errs = append(errs, fmt.Errorf("--batch-clients: must be >= 1, got %d", c.batchClients))
	}
	if len(c.from) == 0 {
		errs = append(errs, errors.New("--from: give at least one sender account"))
	}
	if !(c.headSampling > 0 && c.headSampling <= 1) {
		errs = append(errs, fmt.Errorf("--head-sampling: must be a probability in (0, 1], got %g", c.headSampling))
	}
	if c.amount == 0 {
		errs = append(errs, errors.New("--amount: must be > 0"))
	}
	if c.timeout <= 0 {
		errs = append(errs, fmt.Errorf("--timeout: must be > 0, got %v", c.timeout))
	}
	if c.compare && c.collector == "" {
		errs = append(errs, errors.New("--compare-telemetry needs --collector <otelcol-chain binary>"))
	}
	if c.rounds < 1 {
		errs = append(errs, fmt.Errorf("--rounds: must be >= 1, got %d", c.rounds))
	}
	if c.rounds > 1 && !c.compare {
		errs = append(errs, fmt.Errorf("--rounds %d works with --compare-telemetry only (it repeats the comparison)", c.rounds))
	}
	if (c.compare || c.collector != "") && !c.spawn {
		errs = append(errs, errors.New("--collector and --compare-telemetry work with --spawn only (loadgen must start the nodes to choose where they export)"))
	}
	return errors.Join(errs...)
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, strings.TrimRight(p, "/"))
		}
	}
	return out
}
