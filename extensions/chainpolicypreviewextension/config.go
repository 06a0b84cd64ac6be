package chainpolicypreviewextension

import (
	"errors"
	"fmt"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/confmap"

	"github.com/chainotel/chainotel/internal/confkeys"
)

// DefaultEndpoint is where previews are served unless endpoint says
// otherwise: next to chainheadsampling's 5778, on the loopback interface
// only, since a preview shows what the collector has seen.
const DefaultEndpoint = "localhost:5779"

// defaultMaxPolicyBytes is far above any hand-written policy file.
const defaultMaxPolicyBytes = 1 << 20

// errInvalidConfig is wrapped by every Validate error.
var errInvalidConfig = errors.New("invalid chainpolicypreview config")

// Config is the chainpolicypreview extension's configuration.
type Config struct {
	// HTTP is the server previews are served from: endpoint (default
	// localhost:5779), tls, cors, timeouts and the other confighttp server
	// keys. A named field, not an embedded one: ServerConfig has an
	// Unmarshal method, which embedding would promote to Config, and then
	// max_policy_bytes would never be read.
	HTTP confighttp.ServerConfig `mapstructure:",squash"`

	// MaxPolicyBytes bounds the candidate policy a POST may send.
	MaxPolicyBytes int64 `mapstructure:"max_policy_bytes"`

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
	return &Config{HTTP: srv, MaxPolicyBytes: defaultMaxPolicyBytes}
}

// Validate checks each field and names the key and the bad value. The
// confighttp keys are validated by their own Validate.
func (cfg *Config) Validate() error {
	switch {
	case cfg.HTTP.NetAddr.Endpoint == "":
		return fmt.Errorf("%w: endpoint: is required (host:port, default %s)", errInvalidConfig, DefaultEndpoint)
	case cfg.MaxPolicyBytes <= 0:
		return fmt.Errorf("%w: max_policy_bytes: must be > 0, got %d", errInvalidConfig, cfg.MaxPolicyBytes)
	}
	return nil
}
