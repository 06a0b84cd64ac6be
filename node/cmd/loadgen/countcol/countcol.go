// Package countcol runs loadgen's collector: an otelcol-chain process that
// receives the nodes' OTLP and only counts it after batching (the debug
// exporter logs one line per batch with its span and log record counts), so
// the telemetry comparison measures what exporting every span costs the node,
// not a particular pipeline.
//
// The collector still receives and decodes every span and log record on the
// same cores as the nodes (loadgen reports its CPU beside theirs), so its
// receiving cost is charged to telemetry; the tail sampler, enrichment and
// Sentry stages of a production otelcol-chain are left out, as in production
// they would run on the collector's own machine. Its pprof extension lets
// --node-profiles profile it beside the nodes, and its own metrics (the
// Prometheus endpoint at MetricsAddr) say how many spans its receiver
// accepted, so loadgen can charge its CPU per span. The configuration is
// otelcol.yaml, embedded.
package countcol

import (
	"context"
	_ "embed"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	"github.com/chainotel/chainotel/internal/promtext"
	"github.com/chainotel/chainotel/internal/testproc"
)

//go:embed otelcol.yaml
var config []byte

// listenWithin bounds the wait for the OTLP receiver to listen.
const listenWithin = 30 * time.Second

// Collector is a running counting collector.
type Collector struct {
	*testproc.Proc
	// Addr is the host:port of its OTLP gRPC receiver.
	Addr string
	// PprofAddr is the host:port of its pprof extension.
	PprofAddr string
	// MetricsAddr is the host:port of its own metrics, /metrics in the
	// Prometheus text format.
	MetricsAddr string
}

// Start runs the collector bin with its configuration written to dir and its
// log at dir/otelcol.log, and waits until its OTLP receiver listens. status,
// if set, is told what it waits for.
func Start(ctx context.Context, bin, dir string, status func(string)) (*Collector, error) {
	ports, err := testproc.Ports(3)
	if err != nil {
		return nil, fmt.Errorf("--collector: %w", err)
	}
	c := &Collector{
		Addr:        "127.0.0.1:" + strconv.Itoa(ports[0]),
		PprofAddr:   "127.0.0.1:" + strconv.Itoa(ports[1]),
		MetricsAddr: "127.0.0.1:" + strconv.Itoa(ports[2]),
	}
	cfgPath := filepath.Join(dir, "otelcol.yaml")
	if err := os.WriteFile(cfgPath, config, 0o644); err != nil {
		return nil, fmt.Errorf("--collector: config: %w", err)
	}
	c.Proc, err = testproc.Spawn("otelcol-chain", bin, []string{"--config", cfgPath}, testproc.Options{
		Dir:     dir,
		Env:     []string{"OTLP_ENDPOINT=" + c.Addr, "PPROF_ENDPOINT=" + c.PprofAddr, "METRICS_PORT=" + strconv.Itoa(ports[2])},
		LogPath: filepath.Join(dir, "otelcol.log"),
	})
	if err != nil {
		return nil, fmt.Errorf("--collector: %w", err)
	}
	if status != nil {
		status("waiting for the collector to listen on " + c.Addr)
	}
	err = testproc.Poll(ctx, listenWithin, func() error {
		if c.Exited() {
			return testproc.GiveUp(fmt.Errorf("collector exited (%s); see %s", testproc.DescribeExit(c.ExitErr()), c.LogPath))
		}
		conn, err := net.DialTimeout("tcp", c.Addr, time.Second)
		if err != nil {
			return err
		}
		return conn.Close()
	})
	if err != nil {
		c.Kill()
		return nil, fmt.Errorf("--collector: %w", err)
	}
	return c, nil
}

var (
	spanCount = regexp.MustCompile(`"spans": (\d+)`)
	logCount  = regexp.MustCompile(`"log records": (\d+)`)
)

// Received sums the counts the debug exporter logged, so a comparison shows
// that telemetry really flowed. Stop the collector first: SIGTERM makes it
// flush its batches.
func (c *Collector) Received() (spans, logs int) {
	b, err := os.ReadFile(c.LogPath)
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

// acceptedSpans is the collector's count of the spans its receivers accepted.
const acceptedSpans = "otelcol_receiver_accepted_spans"

// AcceptedSpans reads from the collector's own metrics how many spans its
// receivers have accepted so far. Before the first span the metric is not
// exposed yet, which counts as 0.
func (c *Collector) AcceptedSpans(ctx context.Context) (uint64, error) {
	url := "http://" + c.MetricsAddr + "/metrics"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("the collector's metrics: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, fmt.Errorf("GET %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return parseAcceptedSpans(string(body))
}

// parseAcceptedSpans sums acceptedSpans over its label sets (receiver,
// transport) in a Prometheus text exposition.
func parseAcceptedSpans(text string) (uint64, error) {
	families, err := promtext.Parse(text)
	if err != nil {
		return 0, fmt.Errorf("the collector's metrics: %w", err)
	}
	sum, _ := families.Sum(acceptedSpans, nil)
	return uint64(sum), nil
}
