package confkeys

import (
	"errors"
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/confmap"
)

type config struct {
	HTTP       confighttp.ServerConfig `mapstructure:",squash"`
	PolicyFile string                  `mapstructure:"policy_file"`
	Internal   string                  `mapstructure:"-"`
	hidden     string                  //nolint:unused // an unexported field, which Keys must skip
}

func TestKeys(t *testing.T) {
	keys := Keys(reflect.TypeFor[config]())
	require.Contains(t, keys, "policy_file")
	for _, k := range []string{"endpoint", "tls", "cors", "max_request_body_size", "auth"} {
		require.Contains(t, keys, k, "a key of the squashed confighttp server")
	}
	require.NotContains(t, keys, "-")
	require.NotContains(t, keys, "internal")
	require.NotContains(t, keys, "hidden")
}

func TestCheck(t *testing.T) {
	ok := confmap.NewFromStringMap(map[string]any{"endpoint": "localhost:1", "policy_file": "p.yaml", "tls": map[string]any{"cert_file": "c"}})
	require.NoError(t, Check(ok, reflect.TypeFor[config]()))

	bad := confmap.NewFromStringMap(map[string]any{"endpont": "localhost:1", "policy_fil": "p.yaml"})
	err := Check(bad, reflect.TypeFor[*config]())
	require.ErrorContains(t, err, "unknown keys endpont, policy_fil (known: ")
	require.ErrorContains(t, err, "policy_file")
}

var errInvalid = errors.New("invalid test config")

// decodable decodes through Decode, as a component's Config does.
type decodable config

func (d *decodable) Unmarshal(conf *confmap.Conf) error {
	type plain decodable
	return Decode(conf, (*plain)(d), errInvalid)
}

func TestDecode(t *testing.T) {
	var d decodable
	require.NoError(t, confmap.NewFromStringMap(map[string]any{"endpoint": "localhost:1", "policy_file": "p.yaml"}).Unmarshal(&d))
	require.Equal(t, "p.yaml", d.PolicyFile)
	require.Equal(t, "localhost:1", d.HTTP.NetAddr.Endpoint)

	err := confmap.NewFromStringMap(map[string]any{"policy_fil": "p.yaml"}).Unmarshal(&d)
	require.ErrorIs(t, err, errInvalid)
	require.ErrorContains(t, err, "unknown keys policy_fil")
}
