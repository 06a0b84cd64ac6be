package main

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

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/chainotel/chainotel/internal/testproc"
)

// The policies are equivalent: errors and slow traces always, transfers 1%,
// the rest 0.1%, the first matching rule deciding.
const chainPolicy = `rules:
  - name: errors
    match: {error: true}
    keep: 1
  - name: slow
    match: {min_duration: 2s}
    keep: 1
  - name: transfers
    match: {tx_type: transfer}
    keep: 0.01
  - name: default
    keep: 0.001
`

// chainSamplingKeys are chainsampling's keys, for the processor and for the
// chainotlp receiver's sampling section alike (indented by the caller).
const chainSamplingKeys = `policy_file: %s
decision_wait: %s
decision_wait_after_root: 0s
max_traces: 500000
max_bytes: 2147483648
watch_policy_file: false
`

// indent puts n spaces before every line of s.
func indent(s string, n int) string {
	pad := strings.Repeat(" ", n)
	return pad + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n"+pad) + "\n"
}

// otlpReceiver is the core otlp receiver, in front of either processor.
const otlpReceiver = `  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:%d
`

// chainOTLPReceiver is otelcol-chain's wire path: the chainotlp receiver
// samples the requests' bytes and sends only kept traces on.
const chainOTLPReceiver = `  chainotlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:%d
    sampling:
%s`

const stockSampler = `  tail_sampling:
    decision_wait: %s
    num_traces: 500000
    sample_on_first_match: true
    policies:
      - name: errors
        type: status_code
        status_code: {status_codes: [ERROR]}
      - name: slow
        type: latency
        latency: {threshold_ms: 2000}
      - name: transfers
        type: and
        and:
          and_sub_policy:
            - name: is-transfer
              type: string_attribute
              string_attribute: {key: chain.tx.type, values: [transfer]}
            - name: one-percent
              type: probabilistic
              probabilistic: {sampling_percentage: 1}
      - name: default
        type: probabilistic
        probabilistic: {sampling_percentage: 0.1}
`

// collectorConfig is the whole configuration of either collector: OTLP/gRPC
// in, the sampler, batch, OTLP out to the bench's sink; pprof and the
// collector's own metrics on loopback ports. The sampler is a processor
// behind the otlp receiver, or the chainotlp receiver itself.
const collectorConfig = `receivers:
%sprocessors:
%s  batch: {}
exporters:
  otlp:
    endpoint: %s
    tls: {insecure: true}
extensions:
  pprof:
    endpoint: 127.0.0.1:%d
service:
  extensions: [pprof]
  telemetry:
    logs: {level: warn}
    metrics:
      readers:
        - pull:
            exporter:
              prometheus:
                host: 127.0.0.1
                port: %d
                without_scope_info: true
                without_units: true
                without_type_suffix: true
  pipelines:
    traces:
      receivers: [%s]
      processors: [%s]
      exporters: [otlp]
`

// subject is one of the two collectors.
type subject struct {
	name    string // for the table
	bin     string
	sampler string // the sampler's component id: chainotlp, chainsampling or tail_sampling
}

// collector is a running subject.
type collector struct {
	proc                      *testproc.Proc
	otlp, pprofPort, promPort int
}

// startCollector writes the subject's configuration into dir and runs it
// until its metrics endpoint answers and its OTLP port accepts.
// decisionWait is the same for both samplers, so that they hold the same
// traces for the same time; the chain sampler's earlier decision after a
// root span is off for the same reason.
func startCollector(ctx context.Context, s subject, dir, sinkAddr string, decisionWait time.Duration) (*collector, error) {
	ports, err := testproc.Ports(3)
	if err != nil {
		return nil, err
	}
	c := &collector{otlp: ports[0], pprofPort: ports[1], promPort: ports[2]}
	receivers, receiver := fmt.Sprintf(otlpReceiver, c.otlp), "otlp"
	var processors, pipeline string
	policyPath := filepath.Join(dir, "policy.yaml")
	switch s.sampler {
	case "chainsampling", "chainotlp":
		if err := os.WriteFile(policyPath, []byte(chainPolicy), 0o600); err != nil {
			return nil, err
		}
	}
	switch s.sampler {
	case "chainotlp":
		receivers, receiver = fmt.Sprintf(chainOTLPReceiver, c.otlp, indent(fmt.Sprintf(chainSamplingKeys, policyPath, decisionWait), 6)), "chainotlp"
		pipeline = "batch"
	case "chainsampling":
		processors = "  chainsampling:\n" + indent(fmt.Sprintf(chainSamplingKeys, policyPath, decisionWait), 4)
		pipeline = "chainsampling, batch"
	case "tail_sampling":
		processors = fmt.Sprintf(stockSampler, decisionWait)
		pipeline = "tail_sampling, batch"
	default:
		return nil, fmt.Errorf("unknown sampler %q", s.sampler)
	}
	cfgPath := filepath.Join(dir, s.sampler+".yaml")
	cfg := fmt.Sprintf(collectorConfig, receivers, processors, sinkAddr, c.pprofPort, c.promPort, receiver, pipeline)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	c.proc, err = testproc.Spawn(s.name, s.bin, []string{"--config", cfgPath},
		testproc.Options{Dir: dir, LogPath: filepath.Join(dir, s.sampler+".log")})
	if err != nil {
		return nil, err
	}
	err = testproc.Poll(ctx, time.Minute, func() error {
		if c.proc.Exited() {
			return testproc.GiveUp(fmt.Errorf("%s exited (%s):\n%s", s.name, testproc.DescribeExit(c.proc.ExitErr()), c.proc.Tail(20)))
		}
		if _, err := c.metrics(ctx); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		c.proc.Kill()
		return nil, fmt.Errorf("start %s: %w", s.name, err)
	}
	return c, nil
}

// stop ends the collector; it has done its work, so its exit status is
// not part of the measurement.
func (c *collector) stop() { _ = c.proc.Stop(30 * time.Second) }

// metrics reads the collector's own metrics: name -> sum over label sets,
// and the sums by each label set's text for the per-rule counts.
func (c *collector) metrics(ctx context.Context) (metricSet, error) {
	body, err := get(ctx, fmt.Sprintf("http://127.0.0.1:%d/metrics", c.promPort))
	if err != nil {
		return nil, err
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		return nil, fmt.Errorf("parse the collector's metrics: %w", err)
	}
	out := metricSet{}
	for name, fam := range families {
		for _, m := range fam.GetMetric() {
			var v float64
			switch {
			case m.Counter != nil:
				v = m.GetCounter().GetValue()
			case m.Gauge != nil:
				v = m.GetGauge().GetValue()
			case m.Untyped != nil:
				v = m.GetUntyped().GetValue()
			default:
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

// metricSet is a scrape: a metric's name gives its sum over label sets,
// name{k=v,...} (labels as exposed) the value of one set.
type metricSet map[string]float64

// sum adds up the named metrics.
func (m metricSet) sum(names ...string) float64 {
	var s float64
	for _, n := range names {
		s += m[n]
	}
	return s
}

// profile fetches a CPU profile of the collector over seconds.
func (c *collector) profile(ctx context.Context, seconds int, path string) error {
	body, err := get(ctx, fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/profile?seconds=%d", c.pprofPort, seconds))
	if err != nil {
		return fmt.Errorf("CPU profile: %w", err)
	}
	return os.WriteFile(path, body, 0o644)
}

func get(ctx context.Context, url string) ([]byte, error) {
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

// procUsage is what the kernel accounts to one process.
type procUsage struct {
	cpu     time.Duration // user + system
	peakRSS int64         // VmHWM, bytes
	rss     int64         // VmRSS, bytes
}

// clockTick is USER_HZ, the unit of /proc/<pid>/stat's times: 100 on every
// Linux architecture Go supports.
const clockTick = 100

// readUsage reads /proc/<pid>/stat (utime, stime) and /proc/<pid>/status
// (VmHWM, VmRSS).
func readUsage(pid int) (procUsage, error) {
	var u procUsage
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return u, err
	}
	// The command name (field 2) may hold spaces; fields after it are
	// counted from its closing parenthesis.
	i := strings.LastIndexByte(string(stat), ')')
	if i < 0 {
		return u, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	fields := strings.Fields(string(stat[i+1:]))
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
	u.cpu = time.Duration(ticks) * time.Second / clockTick
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return u, err
	}
	for line := range strings.SplitSeq(string(status), "\n") {
		key, val, ok := strings.Cut(line, ":")
		if !ok || (key != "VmHWM" && key != "VmRSS") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(val), " kB"), 10, 64)
		if err != nil {
			return u, fmt.Errorf("/proc/%d/status %s: %w", pid, key, err)
		}
		if key == "VmHWM" {
			u.peakRSS = kb << 10
		} else {
			u.rss = kb << 10
		}
	}
	if u.peakRSS == 0 {
		return u, errors.New("/proc/<pid>/status has no VmHWM")
	}
	return u, nil
}
