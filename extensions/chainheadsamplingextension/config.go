package chainheadsamplingextension

import (
	"errors"
	"fmt"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/confmap"

	"github.com/chainotel/chainotel/internal/confkeys"
)

// DefaultEndpoint is where strategies are served unless endpoint says
// otherwise: Jaeger's usual sampling port, on the loopback interface only.
const DefaultEndpoint = "localhost:5778"

// errInvalidConfig is wrapped by every Validate error.
var errInvalidConfig = errors.New("invalid chainheadsampling config")

// Config is the chainheadsampling extension's configuration.
type Config struct {
	// HTTP is the server strategies are served from: endpoint (default
	// localhost:5778), tls, cors, timeouts and the other confighttp server
	// keys. A named field, not an embedded one: ServerConfig has an
	// Unmarshal method, which embedding would promote to Config, and then
	// policy_file and watch_policy_file would never be read.
	HTTP confighttp.ServerConfig `mapstructure:",squash"`

	// PolicyFile is the chainsampling policy file whose head: section is
	// served (required); usually the same path as the chainsampling
	// processor's policy_file.
	PolicyFile string `mapstructure:"policy_file"`

	// WatchPolicyFile follows edits of the policy file: each strategy
	// request serves the file as it is then (when it changed and is valid),
	// and a watch logs a refused edit as soon as it is made. False reads the
	// file once, at start.
	WatchPolicyFile bool `mapstructure:"watch_policy_file"`

	// prevent unkeyed literal initialization
	_ struct{}
}

var (
	_ component.Config    = (*Config)(nil)
	_ confmap.Unmarshaler = (*Config)(nil)
)

// Unmarshal refuses keys Config does not know, then decodes. The check is
// needed because confighttp.ServerConfig, squashed in, decodes with unused
// keys ignored (internal/confkeys).
func (cfg *Config) Unmarshal(conf *confmap.Conf) error {
	type plain Config // without this method, so that decoding does not recurse
	return confkeys.Decode(conf, (*plain)(cfg), errInvalidConfig)
}

func defaultConfig() *Config {
	srv := confighttp.NewDefaultServerConfig()
	srv.NetAddr.Endpoint = DefaultEndpoint
	return &Config{HTTP: srv, WatchPolicyFile: true}
}

// Validate checks each field and names the key and the bad value. The
// confighttp keys are validated by their own Validate.
func (cfg *Config) Validate() error {
	switch {
	case cfg.PolicyFile == "":
		return fmt.Errorf("%w: policy_file: is required", errInvalidConfig)
	case cfg.HTTP.NetAddr.Endpoint == "":
		return fmt.Errorf("%w: endpoint: is required (host:port, default %s)", errInvalidConfig, DefaultEndpoint)
	}
	return nil
}
