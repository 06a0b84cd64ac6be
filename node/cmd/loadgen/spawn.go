package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/chainotel/chainotel/internal/cluster"
	"github.com/chainotel/chainotel/node/cmd/loadgen/countcol"
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
	var spans spanCounter
	if telemetry {
		col, err := countcol.Start(ctx, cfg.collector, dir, d.status)
		if err != nil {
			return nil, err
		}
		defer func() {
			if serr := col.Stop(stopTimeout); serr != nil {
				d.status("collector: " + serr.Error())
			}
			spans, logs := col.Received()
			d.status(fmt.Sprintf("the collector received %d spans and %d log records", spans, logs))
			if spans+logs == 0 {
				d.status("WARNING: no telemetry reached the collector, so this run measured no export cost; " +
					"check that the node exports (--otlp-endpoint) and see " + col.LogPath)
			}
		}()
		ccfg.Args = append(ccfg.Args, "--otlp-endpoint=http://"+col.Addr)
		if sampledAtHead(cfg) {
			ccfg.Env = append(ccfg.Env, "OTEL_TRACES_SAMPLER=parentbased_traceidratio",
				fmt.Sprintf("OTEL_TRACES_SAMPLER_ARG=%g", cfg.headSampling))
		}
		// The collector shares the machine's cores with the nodes, so its CPU
		// is part of what telemetry costs and is reported with the nodes'.
		others = map[string]int{"collector": col.Pid()}
		profiled = map[string]string{"collector": "http://" + col.PprofAddr}
		spans = col.AcceptedSpans
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
	return runModes(ctx, l, d, c.Nodes(), others, profiled, profiles, spans)
}

func nodeIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = "node" + strconv.Itoa(i)
	}
	return ids
}
