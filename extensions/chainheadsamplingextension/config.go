package chainheadsamplingextension

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/confmap"
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

// ownKeys are Config's keys beside the confighttp server's.
var ownKeys = []string{"policy_file", "watch_policy_file"}

// Unmarshal reads the confighttp server keys and Config's own from one
// level, and refuses a key that neither knows. confighttp.ServerConfig
// decodes with unused keys ignored (it expects to be squashed into a
// component's config), so without this check a misspelt key would be
// silently dropped.
func (cfg *Config) Unmarshal(conf *confmap.Conf) error {
	serverKeys := mapstructureKeys(reflect.TypeFor[confighttp.ServerConfig]())
	var unknown []string
	for _, k := range conf.AllKeys() {
		top, _, _ := strings.Cut(k, confmap.KeyDelimiter)
		if !slices.Contains(ownKeys, top) && !slices.Contains(serverKeys, top) {
			unknown = append(unknown, top)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return fmt.Errorf("%w: unknown keys %s (known: %s and the confighttp server keys such as endpoint and tls)",
			errInvalidConfig, strings.Join(slices.Compact(unknown), ", "), strings.Join(ownKeys, ", "))
	}
	if err := cfg.HTTP.Unmarshal(conf); err != nil {
		return err
	}
	own := struct {
		PolicyFile      string `mapstructure:"policy_file"`
		WatchPolicyFile bool   `mapstructure:"watch_policy_file"`
	}{cfg.PolicyFile, cfg.WatchPolicyFile}
	if err := conf.Unmarshal(&own, confmap.WithIgnoreUnused()); err != nil {
		return err
	}
	cfg.PolicyFile, cfg.WatchPolicyFile = own.PolicyFile, own.WatchPolicyFile
	return nil
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

// mapstructureKeys lists the keys a struct of type t decodes: its fields'
// mapstructure names, and those of squashed fields in their place.
func mapstructureKeys(t reflect.Type) []string {
	var keys []string
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("mapstructure"), ",")
		switch {
		case name == "-":
		case slices.Contains(strings.Split(opts, ","), "squash"):
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			keys = append(keys, mapstructureKeys(ft)...)
		case name == "":
			keys = append(keys, strings.ToLower(f.Name))
		default:
			keys = append(keys, name)
		}
	}
	return keys
}
