package collectorproc

import "fmt"

// Indexes into the ports Start allocates.
const (
	portOTLPGRPC = iota
	portOTLPHTTP
	portHealth
	portPprof
	portZpages
	portMetrics
	portHeadSampling // CHAINOTEL_HEAD_SAMPLING_ENDPOINT of the shipped config
	portPolicyPreview
	numPorts
)

// portOverlay is merged last over the test's configuration: it moves every
// listener to a free loopback port, the OTLP ones of the receiver named
// receiver (otlp, or chainotlp, which has the same protocols section).
// Defining pprof and zpages is harmless when the test's service does not
// enable them (chainheadsampling, which needs a
// policy file, gets its port from the environment instead: see Start); the
// telemetry readers list replaces the configuration's own (confmap replaces
// lists).
func portOverlay(receiver string, ports []int) string {
	return fmt.Sprintf(`receivers:
  %s:
    protocols:
      grpc:
        endpoint: %s
      http:
        endpoint: %s
extensions:
  health_check:
    endpoint: %s
  pprof:
    endpoint: %s
  zpages:
    endpoint: %s
  chainpolicypreview:
    endpoint: %s
service:
  telemetry:
%s`, receiver, loopback(ports[portOTLPGRPC]), loopback(ports[portOTLPHTTP]), loopback(ports[portHealth]),
		loopback(ports[portPprof]), loopback(ports[portZpages]), loopback(ports[portPolicyPreview]), MetricsReader(ports[portMetrics]))
}

// MetricsReader is the metrics key of a configuration's service.telemetry
// (indented for under telemetry:): the collector's own metrics pulled by
// Prometheus on 127.0.0.1:port. The standalone benches use it too.
func MetricsReader(port int) string {
	return fmt.Sprintf(`    metrics:
      readers:
        - pull:
            exporter:
              prometheus:
                host: 127.0.0.1
                port: %d
                # the collector's default naming (otelcol_<name>, no suffixes)
                without_scope_info: true
                without_units: true
                without_type_suffix: true
`, port)
}
