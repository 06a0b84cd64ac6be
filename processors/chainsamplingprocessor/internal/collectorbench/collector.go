package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/chainotel/chainotel/processors/chainsamplingprocessor/internal/benchproc"
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
// collector's own metrics on loopback ports (the telemetry section is
// benchproc.Telemetry). The sampler is a processor behind the otlp receiver,
// or the chainotlp receiver itself.
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
%s  pipelines:
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
	*benchproc.Collector
	otlp, pprofPort int
}

// startCollector writes the subject's configuration into dir and runs it
// until its metrics endpoint answers and its OTLP port accepts.
// decisionWait is the same for both samplers, so that they hold the same
// traces for the same time; the chain sampler's earlier decision after a
// root span is off for the same reason.
func startCollector(ctx context.Context, s subject, dir, sinkAddr string, decisionWait time.Duration) (*collector, error) {
	ports, err := benchproc.Ports(3)
	if err != nil {
		return nil, err
	}
	otlp, pprofPort, promPort := ports[0], ports[1], ports[2]
	receivers, receiver := fmt.Sprintf(otlpReceiver, otlp), "otlp"
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
		receivers, receiver = fmt.Sprintf(chainOTLPReceiver, otlp, indent(fmt.Sprintf(chainSamplingKeys, policyPath, decisionWait), 6)), "chainotlp"
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
	cfg := fmt.Sprintf(collectorConfig, receivers, processors, sinkAddr, pprofPort, benchproc.Telemetry(promPort), receiver, pipeline)
	c, err := benchproc.Start(ctx, s.name, s.bin, dir, s.sampler, cfg, promPort, time.Minute)
	if err != nil {
		return nil, err
	}
	return &collector{Collector: c, otlp: otlp, pprofPort: pprofPort}, nil
}

// stop ends the collector; it has done its work, so its exit status is
// not part of the measurement.
func (c *collector) stop() { _ = c.Stop(30 * time.Second) }

// profile fetches a CPU profile of the collector over seconds.
func (c *collector) profile(ctx context.Context, seconds int, path string) error {
	body, err := benchproc.Get(ctx, fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/profile?seconds=%d", c.pprofPort, seconds))
	if err != nil {
		return fmt.Errorf("CPU profile: %w", err)
	}
	return os.WriteFile(path, body, 0o644)
}
