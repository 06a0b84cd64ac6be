package chainsamplingprocessor

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/chainotel/chainotel/processors/chainsamplingprocessor/internal/metadata"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)

	tests := []struct {
		id   component.ID
		want *Config
	}{
		{
			id: component.NewID(metadata.Type),
			want: &Config{
				PolicyFile:            "testdata/policies.yaml",
				DecisionWait:          defaultDecisionWait,
				DecisionWaitAfterRoot: defaultDecisionWaitAfterRoot,
				CommitGrace:           defaultCommitGrace,
				MaxTraces:             defaultMaxTraces,
				MaxBytes:              defaultMaxBytes,
				DecisionCacheSize:     defaultDecisionCacheSize,
				Compression:           compressionAuto,
				WhenFull:              whenFullDecideEarly,
				WatchPolicyFile:       true,
				PreviewTraces:         defaultPreviewTraces,
			},
		},
		{
			id: component.NewIDWithName(metadata.Type, "custom"),
			want: &Config{
				PolicyFile:            "/etc/otelcol-chain/sampling-policies.yaml",
				DecisionWait:          5 * time.Second,
				DecisionWaitAfterRoot: time.Second,
				CommitGrace:           500 * time.Millisecond,
				MaxTraces:             5000,
				MaxBytes:              1 << 20,
				DecisionCacheSize:     10000,
				MaxSpansPerSecond:     2000,
				Compression:           compressionS2,
				WhenFull:              whenFullRefuse,
				WatchPolicyFile:       false,
				PreviewTraces:         0,
			},
		},
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
}

func TestInvalidConfig(t *testing.T) {
	tests := []struct {
		file string
		want string
	}{
		{"invalid_no_policy_file.yaml", "policy_file: is required"},
		{"invalid_decision_wait.yaml", "decision_wait: must be > 0, got -1s"},
		{"invalid_decision_wait_after_root.yaml", "decision_wait_after_root: must be >= 0, got -2s"},
		{"invalid_commit_grace.yaml", "commit_grace: must be >= 0, got -1s"},
		{"invalid_max_traces.yaml", "max_traces: must be > 0, got 0"},
		{"invalid_max_bytes.yaml", "max_bytes: must be > 0, got -5"},
		{"invalid_decision_cache_size.yaml", "decision_cache_size: must be > 0, got 0"},
		{"invalid_compression.yaml", `compression: must be "none", "s2" or "auto", got "zip"`},
		{"invalid_when_full.yaml", `when_full: must be "decide_early" or "refuse", got "drop"`},
		{"invalid_max_spans_per_second.yaml", "max_spans_per_second: must be >= 0 (0 = no budget), got -10"},
		{"invalid_preview_traces.yaml", "preview_traces: must be >= 0 (0 = no preview), got -1"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			cm, err := confmaptest.LoadConf(filepath.Join("testdata", tt.file))
			require.NoError(t, err)
			sub, err := cm.Sub(component.NewID(metadata.Type).String())
			require.NoError(t, err)
			cfg := createDefaultConfig()
			require.NoError(t, sub.Unmarshal(cfg))
			err = cfg.(*Config).Validate()
			require.ErrorIs(t, err, errInvalidConfig)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestCreateRefusesInvalidPolicyFile(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.PolicyFile = filepath.Join("testdata", "policy_invalid_no_default.yaml")
	_, err := NewFactory().CreateTraces(t.Context(), newSettings(t), cfg, nil)
	require.ErrorContains(t, err, "policy_invalid_no_default.yaml:")
	require.ErrorContains(t, err, "must be a default rule")

	cfg.PolicyFile = filepath.Join(t.TempDir(), "missing.yaml")
	_, err = NewFactory().CreateTraces(t.Context(), newSettings(t), cfg, nil)
	require.ErrorContains(t, err, "missing.yaml")
}
