package chainenrichprocessor

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/chainotel/chainotel/processors/chainenrichprocessor/internal/metadata"
	"github.com/chainotel/chainotel/semconv"
)

// loadConfig reads the config of id from a testdata file, validated.
func loadConfig(t *testing.T, file string, id component.ID) (*Config, error) {
	t.Helper()
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", file))
	require.NoError(t, err)
	sub, err := cm.Sub(id.String())
	require.NoError(t, err)
	cfg := createDefaultConfig().(*Config)
	if err := sub.Unmarshal(cfg); err != nil {
		return nil, err
	}
	return cfg, cfg.Validate()
}

func TestLoadConfig(t *testing.T) {
	cfg, err := loadConfig(t, "config.yaml", component.NewID(metadata.Type))
	require.NoError(t, err)
	assert.Equal(t, defaultConfig(), cfg)

	cfg, err = loadConfig(t, "config.yaml", component.NewIDWithName(metadata.Type, "custom"))
	require.NoError(t, err)
	assert.Equal(t, &Config{
		Environment: "staging",
		Release:     "1.2.3",
		Head:        HeadConfig{Sources: []string{semconv.SpanBlockApply}, MaxTracked: 16},
		Classification: ClassificationConfig{
			Fallback: "",
			Rules: []RuleConfig{
				{ErrorType: semconv.ErrorConsensusTimeout, SpanName: `^consensus\.`, Message: "timeout"},
				{ErrorType: semconv.ErrorStorage, Attributes: map[string]string{"db.system": "^badger$"}},
			},
		},
		Redaction: RedactionConfig{
			SecretKeys: []string{"authorization", "x-session"},
			Patterns:   []PatternConfig{{Name: "iban", Regex: `\bDE\d{20}\b`, Replacement: "<iban>"}},
		},
	}, cfg)
}

func TestInvalidConfig(t *testing.T) {
	for _, tc := range []struct {
		file, want string
	}{
		{"invalid_max_tracked.yaml", "head.max_tracked: must be > 0, got 0"},
		{"invalid_empty_source.yaml", "head.sources[1]: must not be empty"},
		{"invalid_rule_regex.yaml", "classification.rules[0].span_name: error parsing regexp"},
		{"invalid_rule_no_condition.yaml", `classification.rules[0] (error_type "storage_error"): needs at least one of`},
		{"invalid_rule_no_error_type.yaml", "classification.rules[0].error_type: must not be empty"},
		{"invalid_empty_secret.yaml", `redaction.secret_keys[1] "-": empty secret key`},
		{"invalid_pattern_regex.yaml", `redaction.patterns[0].regex: pattern "broken": error parsing regexp`},
		{"invalid_pattern_empty_match.yaml", `redaction.patterns[0].regex: pattern "everything" matches the empty string`},
		{"invalid_unknown_key.yaml", "has invalid keys: enviroment"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			_, err := loadConfig(t, tc.file, component.NewID(metadata.Type))
			require.ErrorContains(t, err, tc.want)
		})
	}
}
