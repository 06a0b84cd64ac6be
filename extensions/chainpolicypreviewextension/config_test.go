package chainpolicypreviewextension

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/chainotel/chainotel/extensions/chainpolicypreviewextension/internal/metadata"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)

	custom := defaultConfig()
	custom.HTTP.NetAddr.Endpoint = "0.0.0.0:15779"
	custom.MaxPolicyBytes = 65536

	tests := []struct {
		id   component.ID
		want *Config
	}{
		{id: component.NewID(metadata.Type), want: defaultConfig()},
		{id: component.NewIDWithName(metadata.Type, "custom"), want: custom},
	}
	for _, tt := range tests {
		t.Run(tt.id.String(), func(t *testing.T) {
			cfg := createDefaultConfig()
			sub, err := cm.Sub(tt.id.String())
			require.NoError(t, err)
			require.NoError(t, sub.Unmarshal(cfg))
			require.NoError(t, cfg.(*Config).Validate())
			require.Equal(t, tt.want, cfg)
		})
	}
	require.Equal(t, "localhost:5779", defaultConfig().HTTP.NetAddr.Endpoint, "loopback only by default")
	require.Equal(t, int64(1<<20), defaultConfig().MaxPolicyBytes)
}

func TestInvalidConfig(t *testing.T) {
	tests := []struct {
		file string
		want string
	}{
		{"invalid_empty_endpoint.yaml", "endpoint: is required (host:port, default localhost:5779)"},
		{"invalid_max_policy_bytes.yaml", "max_policy_bytes: must be > 0, got 0"},
		{"invalid_unknown_key.yaml", "endpont"},
	}
	files, err := filepath.Glob(filepath.Join("testdata", "invalid_*.yaml"))
	require.NoError(t, err)
	require.Len(t, files, len(tests), "every invalid_*.yaml needs a row here")
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			cm, err := confmaptest.LoadConf(filepath.Join("testdata", tt.file))
			require.NoError(t, err)
			sub, err := cm.Sub(component.NewID(metadata.Type).String())
			require.NoError(t, err)
			cfg := createDefaultConfig()
			if err = sub.Unmarshal(cfg); err == nil {
				err = cfg.(*Config).Validate()
			}
			require.ErrorContains(t, err, tt.want)
		})
	}
}
