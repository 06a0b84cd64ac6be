package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/chainotel/chainotel/internal/otlpsink"
	"github.com/chainotel/chainotel/processors/chainsamplingprocessor/internal/benchproc"
)

// samplerConfig is a sampling collector: OTLP/gRPC in, chainsampling with
// the scenario's policy file, batch, OTLP out to the bench's sink; its own
// metrics on a loopback port. The first %s: the chainsampling settings
// beyond the policy file; the last, benchproc.Telemetry.
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
%s  pipelines:
    traces:
      receivers: [otlp]
      processors: [chainsampling, batch]
      exporters: [otlp]
`

// sidecarConfig is a node's sidecar in the scale-out layout, as
// test/collector/testdata/sidecar_scaleout.yaml has it (and the deploy
// profile's sidecars): no sampling, every span routed by trace id with the
// load_balancing exporter to the sampling tier (static resolver). %s:
// benchproc.Telemetry.
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
%s  pipelines:
    traces:
      receivers: [otlp]
      exporters: [load_balancing]
`

// collector is a running otelcol-chain.
type collector struct {
	*benchproc.Collector
	otlp int
}

func (c *collector) endpoint() string { return fmt.Sprintf("127.0.0.1:%d", c.otlp) }

// startSampler runs a sampling collector with policy (the policy file's
// text) and settings (indented chainsampling keys) exporting to sinkAddr.
func startSampler(ctx context.Context, bin, dir, name, policy, settings, sinkAddr string) (*collector, error) {
	policyPath := filepath.Join(dir, name+"-policy.yaml")
	if err := os.WriteFile(policyPath, []byte(policy), 0o600); err != nil {
		return nil, err
	}
	return startCollector(ctx, bin, dir, name, func(otlp, prom int) string {
		return fmt.Sprintf(samplerConfig, otlp, policyPath, settings, sinkAddr, benchproc.Telemetry(prom))
	})
}

// startSidecar runs a scale-out sidecar routing to the tier's endpoints.
func startSidecar(ctx context.Context, bin, dir, name string, tier []string) (*collector, error) {
	return startCollector(ctx, bin, dir, name, func(otlp, prom int) string {
		return fmt.Sprintf(sidecarConfig, otlp, strings.Join(tier, ", "), benchproc.Telemetry(prom))
	})
}

// startCollector runs bin with the configuration config gives for two free
// ports (OTLP/gRPC, metrics) until its metrics endpoint answers.
func startCollector(ctx context.Context, bin, dir, name string, config func(otlp, prom int) string) (*collector, error) {
	ports, err := benchproc.Ports(2)
	if err != nil {
		return nil, err
	}
	c, err := benchproc.Start(ctx, name, bin, dir, name, config(ports[0], ports[1]), ports[1], 2*time.Minute)
	if err != nil {
		return nil, err
	}
	return &collector{Collector: c, otlp: ports[0]}, nil
}

// stop ends the collector gracefully: chainsampling decides what it still
// holds and the exporter sends it on.
func (c *collector) stop() error { return c.Stop(time.Minute) }

// sampled is one sampling collector with the sink it exports to and a
// client sending to it.
type sampled struct {
	sink *otlpsink.Sink
	col  *collector
	cl   *client
}

// startSampled serves a sink, starts a sampler (see startSampler)
// exporting to it and dials the sampler.
func startSampled(ctx context.Context, bin, dir, name, policy, settings string) (*sampled, error) {
	sink, err := benchproc.Sink()
	if err != nil {
		return nil, err
	}
	col, err := startSampler(ctx, bin, dir, name, policy, settings, sink.Addr())
	if err != nil {
		sink.Close()
		return nil, err
	}
	cl, err := dial(col.endpoint())
	if err != nil {
		col.Kill()
		sink.Close()
		return nil, err
	}
	return &sampled{sink: sink, col: col, cl: cl}, nil
}

// close ends the client, the collector (if still running) and the sink.
func (s *sampled) close() {
	s.cl.close()
	s.col.Kill()
	s.sink.Close()
}
