package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/chainotel/chainotel/internal/testproc"
)

// samplerConfig is a sampling collector: OTLP/gRPC in, chainsampling with
// the scenario's policy file, batch, OTLP out to the bench's sink; its own
// metrics on a loopback port. %s: the chainsampling settings beyond the
// policy file.
const samplerConfig = `receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:%d
        max_recv_msg_size_mib: 64
processors:
  chainsampling:
    policy_file: %s
    watch_policy_file: false
%s  batch:
    # Requests the sink's default 4 MiB message limit takes.
    send_batch_size: 1024
    send_batch_max_size: 1024
exporters:
  otlp:
    endpoint: %s
    tls: {insecure: true}
    sending_queue: {queue_size: 100000}
service:
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
      receivers: [otlp]
      processors: [chainsampling, batch]
      exporters: [otlp]
`

// sidecarConfig is a node's sidecar in the scale-out layout, as
// test/collector/testdata/sidecar_scaleout.yaml has it (and the deploy
// profile's sidecars): no sampling, every span routed by trace id with the
// load_balancing exporter to the sampling tier (static resolver).
const sidecarConfig = `receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:%d
exporters:
  load_balancing:
    routing_key: traceID
    sending_queue:
      enabled: false
    protocol:
      otlp:
        tls:
          insecure: true
    resolver:
      static:
        hostnames: [%s]
service:
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
      receivers: [otlp]
      exporters: [load_balancing]
`

// collector is a running otelcol-chain.
type collector struct {
	name           string
	proc           *testproc.Proc
	otlp, promPort int
}

func (c *collector) endpoint() string { return fmt.Sprintf("127.0.0.1:%d", c.otlp) }

// startSampler runs a sampling collector with policy (the policy file's
// text) and settings (indented chainsampling keys) exporting to sinkAddr.
func startSampler(ctx context.Context, bin, dir, name, policy, settings, sinkAddr string) (*collector, error) {
	ports, err := testproc.Ports(2)
	if err != nil {
		return nil, err
	}
	policyPath := filepath.Join(dir, name+"-policy.yaml")
	if err := os.WriteFile(policyPath, []byte(policy), 0o600); err != nil {
		return nil, err
	}
	cfg := fmt.Sprintf(samplerConfig, ports[0], policyPath, settings, sinkAddr, ports[1])
	return startCollector(ctx, bin, dir, name, cfg, ports)
}

// startSidecar runs a scale-out sidecar routing to the tier's endpoints.
func startSidecar(ctx context.Context, bin, dir, name string, tier []string) (*collector, error) {
	ports, err := testproc.Ports(2)
	if err != nil {
		return nil, err
	}
	cfg := fmt.Sprintf(sidecarConfig, ports[0], strings.Join(tier, ", "), ports[1])
	return startCollector(ctx, bin, dir, name, cfg, ports)
}

// startCollector writes cfg into dir and runs bin with it until its metrics
// endpoint answers.
func startCollector(ctx context.Context, bin, dir, name, cfg string, ports []int) (*collector, error) {
	cfgPath := filepath.Join(dir, name+".yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	c := &collector{name: name, otlp: ports[0], promPort: ports[1]}
	var err error
	c.proc, err = testproc.Spawn(name, bin, []string{"--config", cfgPath},
		testproc.Options{Dir: dir, LogPath: filepath.Join(dir, name+".log")})
	if err != nil {
		return nil, err
	}
	err = testproc.Poll(ctx, 2*time.Minute, func() error {
		if c.proc.Exited() {
			return testproc.GiveUp(fmt.Errorf("%s exited (%s):\n%s", name, testproc.DescribeExit(c.proc.ExitErr()), c.proc.Tail(20)))
		}
		_, err := c.metrics(ctx)
		return err
	})
	if err != nil {
		c.proc.Kill()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	return c, nil
}

// stop ends the collector gracefully: chainsampling decides what it still
// holds and the exporter sends it on.
func (c *collector) stop() error {
	if err := c.proc.Stop(time.Minute); err != nil {
		return fmt.Errorf("stop %s: %w:\n%s", c.name, err, c.proc.Tail(10))
	}
	return nil
}

// metrics reads the collector's own metrics: a name gives the sum over its
// label sets, name{k=v,...} one set's value.
func (c *collector) metrics(ctx context.Context) (metricSet, error) {
	body, err := get(ctx, fmt.Sprintf("http://127.0.0.1:%d/metrics", c.promPort))
	if err != nil {
		return nil, err
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		return nil, fmt.Errorf("parse the metrics of %s: %w", c.name, err)
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

type metricSet map[string]float64

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
