package sentryexporter

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/chainotel/chainotel/collector/sentryexporter/internal/metadata"
)

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
	t.Setenv(DSNEnv, "")
	cfg, err := loadConfig(t, "config.yaml", component.NewID(metadata.Type))
	require.NoError(t, err)
	want := defaultConfig()
	want.DSN = "https://public@sentry.example.com/42"
	assert.Equal(t, want, cfg)

	cfg, err = loadConfig(t, "config.yaml", component.NewIDWithName(metadata.Type, "custom"))
	require.NoError(t, err)
	assert.Equal(t, configopaque.String("https://public:secret@sentry.example.com:9000/7"), cfg.DSN)
	assert.Equal(t, []string{"chain.*", "error.type"}, cfg.Tags)
	assert.Equal(t, RateLimitConfig{Burst: 3, Interval: 10 * time.Second, MaxFingerprints: 100}, cfg.RateLimit)
	assert.Equal(t, 5*time.Second, cfg.Timeout)
	q := cfg.QueueConfig.Get()
	require.NotNil(t, q)
	assert.Equal(t, int64(500), q.QueueSize)
	assert.Equal(t, 2, q.NumConsumers)
	require.NotNil(t, q.StorageID)
	assert.Equal(t, "file_storage", q.StorageID.String())
	assert.Equal(t, time.Hour, cfg.BackOffConfig.MaxElapsedTime)
}

func TestDSNFromEnvironment(t *testing.T) {
	t.Setenv(DSNEnv, "https://envkey@sentry.example.com/3")
	cfg, err := loadConfig(t, "config.yaml", component.NewIDWithName(metadata.Type, "env"))
	require.NoError(t, err)
	assert.Equal(t, "https://envkey@sentry.example.com/3", cfg.dsn())

	// The configured DSN wins over the environment.
	cfg, err = loadConfig(t, "config.yaml", component.NewID(metadata.Type))
	require.NoError(t, err)
	assert.Equal(t, "https://public@sentry.example.com/42", cfg.dsn())

	t.Setenv(DSNEnv, "not a dsn")
	_, err = loadConfig(t, "config.yaml", component.NewIDWithName(metadata.Type, "env"))
	require.ErrorContains(t, err, "dsn: malformed Sentry DSN")
}

func TestInvalidConfig(t *testing.T) {
	t.Setenv(DSNEnv, "")
	for _, tc := range []struct {
		file, want string
	}{
		{"invalid_missing_dsn.yaml", "dsn: missing Sentry DSN: set dsn or the SENTRY_DSN environment variable"},
		{"invalid_malformed_dsn.yaml", "dsn: malformed Sentry DSN: [Sentry] DsnParseError: invalid scheme"},
		{"invalid_dsn_no_project.yaml", "dsn: malformed Sentry DSN: [Sentry] DsnParseError: empty project id"},
		{"invalid_negative_burst.yaml", "rate_limit.burst: must be >= 0, got -1"},
		{"invalid_zero_interval.yaml", "rate_limit.interval: must be > 0, got 0s"},
		{"invalid_zero_fingerprints.yaml", "rate_limit.max_fingerprints: must be > 0, got 0"},
		{"invalid_empty_tag.yaml", `tags[1]: must name an attribute or a prefix, got "*"`},
	} {
		t.Run(tc.file, func(t *testing.T) {
			_, err := loadConfig(t, tc.file, component.NewID(metadata.Type))
			require.ErrorContains(t, err, tc.want)
		})
	}
}
