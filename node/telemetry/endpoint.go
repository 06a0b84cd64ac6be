package telemetry

import (
	"fmt"
	"os"

	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploggrpc"
	"google.golang.org/grpc/credentials"

	"github.com/chainotel/chainotel/node/telemetry/internal/otlpexport"
)

// target is where the OTLP exporters send, resolved from Config and the
// environment. Only what Config decides is passed to the exporters as an
// option; everything else is left to the exporters' own reading of the
// OTEL_EXPORTER_OTLP_* variables (otlpexport for spans, otlploggrpc for logs), so headers, compression, timeouts and certificates set there
// keep working.
type target struct {
	// endpoint is "host:port" to pass explicitly, or "" to leave it to the
	// environment.
	endpoint string
	// insecure asks for plain text explicitly. When neither insecure nor
	// Config.TLS is set, the exporters decide (the environment, else TLS).
	insecure bool
	// describe says where telemetry goes, for the node's startup log.
	describe string
}

// resolveTarget decides the collector endpoint and its transport security.
func (c Config) resolveTarget() (target, error) {
	if c.OTLPEndpoint != "" {
		return c.flagTarget()
	}
	for _, name := range []string{envOTLPTraces, envOTLPLogs, envOTLPEndpoint} {
		if v := os.Getenv(name); v != "" {
			return target{describe: fmt.Sprintf("%s=%s", name, v)}, nil
		}
	}
	// Nothing configured: the local collector. The SDK's own default would be
	// TLS to localhost, which a collector started by `make run` does not
	// speak; plain text is the default unless TLS is asked for somewhere.
	t := target{endpoint: defaultOTLPEndpoint, describe: defaultOTLPEndpoint}
	envDecides := false
	for _, name := range envTransportSecurity {
		envDecides = envDecides || os.Getenv(name) != ""
	}
	t.insecure = c.TLS == nil && !envDecides
	return t, nil
}

// flagTarget interprets --otlp-endpoint.
func (c Config) flagTarget() (target, error) {
	raw := c.OTLPEndpoint
	host, scheme, _, err := otlpexport.ParseEndpoint(raw)
	if err != nil {
		return target{}, fmt.Errorf("%w: OTLPEndpoint: %v", errInvalidConfig, err)
	}
	switch scheme {
	case "":
		return target{endpoint: host, insecure: c.TLS == nil, describe: raw}, nil
	case "http":
		if c.TLS != nil {
			return target{}, fmt.Errorf("%w: OTLPEndpoint: %q asks for plain text but TLS is configured; use https://",
				errInvalidConfig, raw)
		}
		return target{endpoint: host, insecure: true, describe: raw}, nil
	}
	return target{endpoint: host, describe: raw}, nil
}

// logOptions are the explicit options of the OTLP log exporter.
func (c Config) logOptions(t target) []otlploggrpc.Option {
	var opts []otlploggrpc.Option
	if t.endpoint != "" {
		opts = append(opts, otlploggrpc.WithEndpoint(t.endpoint))
	}
	switch {
	case c.TLS != nil:
		opts = append(opts, otlploggrpc.WithTLSCredentials(credentials.NewTLS(c.TLS.Clone())))
	case t.insecure:
		opts = append(opts, otlploggrpc.WithInsecure())
	}
	return opts
}

// exportTarget is t as the span exporter takes it.
func (c Config) exportTarget(t target) otlpexport.Target {
	return otlpexport.Target{Endpoint: t.endpoint, Insecure: t.insecure, TLS: c.TLS}
}
