// Package benchproc runs an ocb-built collector as a process outside `go
// test`, for the standalone benchmark programs (fidelitybench,
// collectorbench): start a binary with a configuration on free loopback
// ports, wait until its own metrics answer, scrape them into a Metrics set,
// read what the kernel accounts to it, and stop it.
package benchproc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/chainotel/chainotel/internal/collectorproc"
	"github.com/chainotel/chainotel/internal/promtext"
	"github.com/chainotel/chainotel/internal/testproc"
)

// Ports returns n distinct free loopback ports.
func Ports(n int) ([]int, error) { return testproc.Ports(n) }

// Telemetry is a configuration's service.telemetry section (indented for
// under service:): warnings only in the log, the collector's own metrics
// pulled by Prometheus on 127.0.0.1:port (collectorproc.MetricsReader).
func Telemetry(port int) string {
	return "  telemetry:\n    logs: {level: warn}\n" + collectorproc.MetricsReader(port)
}

// Collector is a running collector process.
type Collector struct {
	Name        string
	Proc        *testproc.Proc
	MetricsPort int
}

// Start writes cfg to dir/file.yaml and runs bin with it (its log in
// dir/file.log) until its metrics endpoint, on metricsPort, answers or
// timeout has passed; it fails at once if the process exits.
func Start(ctx context.Context, name, bin, dir, file, cfg string, metricsPort int, timeout time.Duration) (*Collector, error) {
	cfgPath := filepath.Join(dir, file+".yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	c := &Collector{Name: name, MetricsPort: metricsPort}
	var err error
	c.Proc, err = testproc.Spawn(name, bin, []string{"--config", cfgPath},
		testproc.Options{Dir: dir, LogPath: filepath.Join(dir, file+".log")})
	if err != nil {
		return nil, err
	}
	err = testproc.Poll(ctx, timeout, func() error {
		if c.Proc.Exited() {
			return testproc.GiveUp(fmt.Errorf("%s exited (%s):\n%s", name, testproc.DescribeExit(c.Proc.ExitErr()), c.Proc.Tail(20)))
		}
		_, err := c.Metrics(ctx)
		return err
	})
	if err != nil {
		c.Proc.Kill()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	return c, nil
}

// Stop ends the collector with SIGTERM, killing it after timeout; a
// failure carries the end of its log.
func (c *Collector) Stop(timeout time.Duration) error {
	if err := c.Proc.Stop(timeout); err != nil {
		return fmt.Errorf("stop %s: %w:\n%s", c.Name, err, c.Proc.Tail(10))
	}
	return nil
}

// Kill ends the collector at once.
func (c *Collector) Kill() { c.Proc.Kill() }

// Usage reads what the kernel accounts to the collector's process.
func (c *Collector) Usage() (Usage, error) { return ReadUsage(c.Proc.Pid()) }

// Metrics is a scrape of a collector's own metrics: a metric's name gives
// its sum over label sets, name{k=v,...} (labels as exposed) the value of
// one set. Counters, gauges and untyped metrics only.
type Metrics map[string]float64

// Sum adds up the named metrics.
func (m Metrics) Sum(names ...string) float64 {
	var s float64
	for _, n := range names {
		s += m[n]
	}
	return s
}

// Metrics scrapes the collector's own metrics.
func (c *Collector) Metrics(ctx context.Context) (Metrics, error) {
	body, err := Get(ctx, fmt.Sprintf("http://127.0.0.1:%d/metrics", c.MetricsPort))
	if err != nil {
		return nil, err
	}
	m, err := ParseMetrics(body)
	if err != nil {
		return nil, fmt.Errorf("parse the metrics of %s: %w", c.Name, err)
	}
	return m, nil
}

// ParseMetrics reads the Prometheus text format into a Metrics set:
// counters, gauges and untyped samples (histograms and summaries are left
// out).
func ParseMetrics(text []byte) (Metrics, error) {
	families, err := promtext.Parse(string(text))
	if err != nil {
		return nil, err
	}
	out := Metrics{}
	for name, fam := range families {
		for _, m := range fam.GetMetric() {
			v, ok := promtext.Value(m)
			if !ok || m.Histogram != nil {
				continue
			}
			out[name] += v
			labels := make([]string, 0, len(m.GetLabel()))
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			out[name+"{"+strings.Join(labels, ",")+"}"] += v
		}
	}
	return out, nil
}

// Get fetches url; a status other than 200 is an error.
func Get(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return body, nil
}

// Usage is what the kernel accounts to one process.
type Usage struct {
	CPU     time.Duration // user + system
	PeakRSS int64         // VmHWM, bytes
	RSS     int64         // VmRSS, bytes
}

// clockTick is USER_HZ, the unit of /proc/<pid>/stat's times: 100 on every
// Linux architecture Go supports.
const clockTick = 100

// ReadUsage reads /proc/<pid>/stat (utime, stime) and /proc/<pid>/status
// (VmHWM, VmRSS).
func ReadUsage(pid int) (Usage, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return Usage{}, err
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return Usage{}, err
	}
	return parseUsage(pid, string(stat), string(status))
}

func parseUsage(pid int, stat, status string) (Usage, error) {
	var u Usage
	// The command name (field 2) may hold spaces; fields after it are
	// counted from its closing parenthesis.
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return u, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	fields := strings.Fields(stat[i+1:])
	if len(fields) < 13 {
		return u, fmt.Errorf("/proc/%d/stat: %d fields after the name", pid, len(fields))
	}
	// utime and stime are fields 14 and 15 of the whole line, 12 and 13 here.
	var ticks int64
	for _, f := range fields[11:13] {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return u, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
		ticks += n
	}
	u.CPU = time.Duration(ticks) * time.Second / clockTick
	for line := range strings.SplitSeq(status, "\n") {
		key, val, ok := strings.Cut(line, ":")
		if !ok || (key != "VmHWM" && key != "VmRSS") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(val), " kB"), 10, 64)
		if err != nil {
			return u, fmt.Errorf("/proc/%d/status %s: %w", pid, key, err)
		}
		if key == "VmHWM" {
			u.PeakRSS = kb << 10
		} else {
			u.RSS = kb << 10
		}
	}
	if u.PeakRSS == 0 {
		return u, errors.New("/proc/<pid>/status has no VmHWM")
	}
	return u, nil
}
