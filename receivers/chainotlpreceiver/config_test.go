package chainotlpreceiver

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/confmap"
)

func load(t *testing.T, raw map[string]any) (*Config, error) {
	t.Helper()
	cfg := createDefaultConfig().(*Config)
	if err := confmap.NewFromStringMap(raw).Unmarshal(cfg); err != nil {
		return cfg, err
	}
	return cfg, confmap.Validate(cfg)
}

func TestConfigKeys(t *testing.T) {
	cfg, err := load(t, map[string]any{
		"protocols": map[string]any{
			"grpc": map[string]any{"endpoint": "0.0.0.0:14317"},
			"http": map[string]any{"traces_url_path": "traces"},
		},
		"sampling": map[string]any{"policy_file": "testdata/policies.yaml", "decision_wait": "3s"},
	})
	require.NoError(t, err)
	require.Equal(t, "0.0.0.0:14317", cfg.Protocols.GRPC.Get().NetAddr.Endpoint)
	require.Equal(t, defaultHTTPEndpoint, cfg.Protocols.HTTP.Get().ServerConfig.NetAddr.Endpoint)
	p, err := tracesPath(cfg.Protocols.HTTP.Get().TracesURLPath)
	require.NoError(t, err)
	require.Equal(t, "/traces", p, "made absolute, as the otlp receiver does")
	require.Equal(t, 3*time.Second, cfg.Sampling.DecisionWait)
	require.Equal(t, 100_000, cfg.Sampling.MaxTraces, "the processor's defaults for the rest")
}

func TestConfigRefused(t *testing.T) {
	for name, tc := range map[string]struct {
		raw  map[string]any
		want string
	}{
		"no protocol": {raw: map[string]any{"protocols": map[string]any{}, "sampling": map[string]any{"policy_file": "p.yaml"}},
			want: "protocols: must specify at least one of grpc and http"},
		"no policy file": {raw: map[string]any{}, want: "policy_file: is required"},
		"bad sampling key": {raw: map[string]any{"sampling": map[string]any{"policy_file": "p.yaml", "max_traces": 0}},
			want: "max_traces: must be > 0"},
		"unknown key": {raw: map[string]any{"sampling": map[string]any{"policy_file": "p.yaml", "nope": 1}}, want: "nope"},
		"bad path": {raw: map[string]any{"protocols": map[string]any{"http": map[string]any{"traces_url_path": ":bad"}},
			"sampling": map[string]any{"policy_file": "p.yaml"}}, want: "traces_url_path"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := load(t, tc.raw)
			require.ErrorContains(t, err, tc.want)
		})
	}
}
