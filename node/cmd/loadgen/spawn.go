package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"time"

	"github.com/chainotel/chainotel/internal/cluster"
	"github.com/chainotel/chainotel/internal/testproc"
)

// runSpawned starts a fresh cluster in a temporary folder (with a collector
// for its telemetry, or with telemetry disabled), runs the modes against all
// its nodes and stops it.
func runSpawned(ctx context.Context, cfg config, d *display, telemetry bool) (rs []result, err error) {
	bin, err := filepath.Abs(cfg.binary)
	if err != nil {
		return nil, fmt.Errorf("--binary: %w", err)
	}
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("--binary: %w (build it with `make build`)", err)
	}
	dir, err := os.MkdirTemp("", "chainotel-loadgen-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if cfg.keep || err != nil {
			d.status("the cluster's folder (certs, data, logs) is kept in " + dir)
			return
		}
		_ = os.RemoveAll(dir)
	}()

	ccfg := cluster.Config{
		Binary:   bin,
		Dir:      dir,
		NodeIDs:  nodeIDs(cfg.nodes),
		Progress: d.status,
	}
	var others map[string]int
	var profiled map[string]string
	if telemetry {
		col, err := startCollector(ctx, cfg.collector, dir, d)
		if err != nil {
			return nil, err
		}
		defer func() {
			if serr := col.stop(); serr != nil {
				d.status("collector: " + serr.Error())
			}
			spans, logs := col.received()
			d.status(fmt.Sprintf("the collector received %d spans and %d log records", spans, logs))
			if spans+logs == 0 {
				d.status("WARNING: no telemetry reached the collector, so this run measured no export cost; " +
					"check that the node exports (--otlp-endpoint) and see " + col.logPath)
			}
		}()
		ccfg.Args = append(ccfg.Args, "--otlp-endpoint=http://"+col.addr)
		// The collector shares the machine's cores with the nodes, so its CPU
		// is part of what telemetry costs and is reported with the nodes'.
		others = map[string]int{"collector": col.cmd.Process.Pid}
		profiled = map[string]string{"collector": "http://" + col.pprofAddr}
	} else {
		ccfg.Env = append(ccfg.Env, "OTEL_SDK_DISABLED=true")
	}

	c, err := cluster.New(ctx, ccfg)
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := c.Close(stopTimeout); cerr != nil {
			err = errors.Join(err, fmt.Errorf("stopping the cluster: %w", cerr))
		}
	}()
	if err := c.StartAll(); err != nil {
		return nil, err
	}
	if err := c.WaitHealthy(ctx, cfg.healthWait); err != nil {
		return nil, err
	}
	var targets []string
	for _, n := range c.Nodes() {
		targets = append(targets, n.API)
	}
	l := &load{cfg: cfg, client: cluster.NewClient(cfg.clients+cfg.batchClients, cfg.timeout), targets: targets}
	profiles := cfg.nodeProfiles
	if profiles != "" && cfg.compare {
		// Both configurations of --compare-telemetry profile the same modes
		// and nodes: one folder each, so one does not overwrite the other.
		// With --rounds, each round overwrites the last: the folders keep
		// the last round's profiles.
		sub := "disabled"
		if telemetry {
			sub = "telemetry"
		}
		profiles = filepath.Join(profiles, sub)
	}
	return runModes(ctx, l, d, c.Nodes(), others, profiled, profiles)
}

func nodeIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = "node" + strconv.Itoa(i)
	}
	return ids
}

// collector is an otelcol-chain process receiving the nodes' OTLP.
type collector struct {
	cmd       *exec.Cmd
	logPath   string
	addr      string // host:port of its OTLP gRPC receiver
	pprofAddr string // host:port of its pprof extension
	done      chan error
}

// collectorConfig receives OTLP and only counts it after batching (the debug
// exporter logs one line per batch with its span and log record counts): the
// run measures what exporting every span costs the node, not a particular
// pipeline. The collector still receives and decodes every span and log
// record on the same cores as the nodes (its CPU is reported beside theirs),
// so its receiving cost is charged to telemetry; the tail sampler, enrichment
// and Sentry stages of a production otelcol-chain are left out, as in
// production they would run on the collector's own machine. Its pprof
// extension lets --node-profiles profile it beside the nodes.
const collectorConfig = `receivers:
  otlp:
    protocols:
      grpc:
        endpoint: %s
extensions:
  pprof:
    endpoint: %s
processors:
  batch:
exporters:
  debug:
    verbosity: basic
service:
  extensions: [pprof]
  telemetry:
    # Every debug line counts: the logger must not sample them away.
    logs:
      sampling:
        enabled: false
    metrics:
      level: none
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [debug]
    logs:
      receivers: [otlp]
      processors: [batch]
      exporters: [debug]
    metrics:
      receivers: [otlp]
      processors: [batch]
      exporters: [debug]
`

func startCollector(ctx context.Context, bin, dir string, d *display) (*collector, error) {
	ports, err := testproc.Ports(2)
	if err != nil {
		return nil, err
	}
	addr, pprofAddr := "127.0.0.1:"+strconv.Itoa(ports[0]), "127.0.0.1:"+strconv.Itoa(ports[1])
	cfgPath := filepath.Join(dir, "otelcol.yaml")
	if err := os.WriteFile(cfgPath, fmt.Appendf(nil, collectorConfig, addr, pprofAddr), 0o644); err != nil {
		return nil, fmt.Errorf("collector config: %w", err)
	}
	logPath := filepath.Join(dir, "otelcol.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("collector log: %w", err)
	}
	cmd := exec.Command(bin, "--config", cfgPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		return nil, fmt.Errorf("--collector: start %s: %w", bin, err)
	}
	col := &collector{cmd: cmd, logPath: logPath, addr: addr, pprofAddr: pprofAddr, done: make(chan error, 1)}
	go func() {
		col.done <- cmd.Wait()
		_ = logf.Close()
	}()
	d.status("waiting for the collector to listen on " + addr)
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	err = testproc.Until(wctx, func() error {
		select {
		case werr := <-col.done:
			col.done <- werr
			return testproc.GiveUp(fmt.Errorf("collector exited (%v); see %s", werr, logPath))
		default:
		}
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return err
		}
		return conn.Close()
	})
	if err != nil {
		_ = col.stop()
		return nil, fmt.Errorf("--collector: %w", err)
	}
	return col, nil
}

func (c *collector) stop() error {
	_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case err := <-c.done:
		c.done <- err
		return err
	case <-time.After(stopTimeout):
		_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
		return fmt.Errorf("did not stop within %v of SIGTERM; killed", stopTimeout)
	}
}

var (
	spanCount = regexp.MustCompile(`"spans": (\d+)`)
	logCount  = regexp.MustCompile(`"log records": (\d+)`)
)

// received sums the counts the debug exporter logged, so the comparison
// shows that telemetry really flowed.
func (c *collector) received() (spans, logs int) {
	b, err := os.ReadFile(c.logPath)
	if err != nil {
		return 0, 0
	}
	sum := func(re *regexp.Regexp) int {
		n := 0
		for _, m := range re.FindAllSubmatch(b, -1) {
			v, _ := strconv.Atoi(string(m[1]))
			n += v
		}
		return n
	}
	return sum(spanCount), sum(logCount)
}
