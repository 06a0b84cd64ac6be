package chainotlpreceiver

import (
	"errors"
	"fmt"
	"net/url"
	"path"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configgrpc"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configoptional"

	"github.com/chainotel/chainotel/processors/chainsamplingprocessor"
)

// Config is the receiver's configuration: the core otlp receiver's
// protocols section (traces only) and the chainsampling processor's keys
// under sampling.
type Config struct {
	// Protocols are the OTLP/gRPC and OTLP/HTTP servers, with the core
	// otlp receiver's keys and defaults (localhost:4317, localhost:4318).
	Protocols Protocols `mapstructure:"protocols"`
	// Sampling is the chainsampling processor's configuration (policy_file,
	// decision_wait, max_bytes, ...; processors/chainsamplingprocessor).
	Sampling chainsamplingprocessor.Config `mapstructure:"sampling"`

	_ struct{}
}

// Protocols are the servers the receiver runs; at least one.
type Protocols struct {
	GRPC configoptional.Optional[configgrpc.ServerConfig] `mapstructure:"grpc"`
	HTTP configoptional.Optional[HTTPConfig]              `mapstructure:"http"`

	_ struct{}
}

// HTTPConfig is the OTLP/HTTP server: confighttp's keys and the path traces
// are posted to.
type HTTPConfig struct {
	ServerConfig confighttp.ServerConfig `mapstructure:",squash"`
	// TracesURLPath is where traces are posted (default /v1/traces).
	TracesURLPath string `mapstructure:"traces_url_path,omitempty"`

	_ struct{}
}

var _ component.Config = (*Config)(nil)

var errInvalidConfig = errors.New("invalid chainotlp config")

// Validate checks the receiver's own keys; the servers' and the sampling
// keys are validated by their own Validate methods.
func (cfg *Config) Validate() error {
	if !cfg.Protocols.GRPC.HasValue() && !cfg.Protocols.HTTP.HasValue() {
		return fmt.Errorf("%w: protocols: must specify at least one of grpc and http", errInvalidConfig)
	}
	if cfg.Protocols.HTTP.HasValue() {
		if _, err := tracesPath(cfg.Protocols.HTTP.Get().TracesURLPath); err != nil {
			return fmt.Errorf("%w: protocols::http::traces_url_path: %w", errInvalidConfig, err)
		}
	}
	return nil
}

// tracesPath is the path of traces_url_path as the core receiver reads it:
// the URL's path, made absolute.
func tracesPath(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", err
	}
	if !path.IsAbs(u.Path) {
		u.Path = "/" + u.Path
	}
	return u.Path, nil
}
