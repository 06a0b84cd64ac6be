package sentryexporter

import (
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/confmap"

	"github.com/chainotel/chainotel/collector/sentryexporter/internal/metadata"
)

// The README's example is a configuration the exporter accepts.
func TestReadmeExample(t *testing.T) {
	b, err := os.ReadFile("README.md")
	require.NoError(t, err)
	m := regexp.MustCompile("(?s)## Example.*?```yaml\n(.*?)```").FindSubmatch(b)
	require.NotNil(t, m, "README.md has an Example section with a yaml block")
	// The collector expands ${env:...}; do it the same way here.
	text := strings.ReplaceAll(string(m[1]), "${env:SENTRY_DSN}", "https://key@sentry.example.com/1")
	conf, err := confmap.NewRetrievedFromYAML([]byte(text))
	require.NoError(t, err)
	all, err := conf.AsConf()
	require.NoError(t, err)
	sub, err := all.Sub("exporters::" + metadata.Type.String())
	require.NoError(t, err)
	cfg := createDefaultConfig().(*Config)
	require.NoError(t, sub.Unmarshal(cfg))
	require.NoError(t, cfg.Validate())
	assert.Equal(t, 5, cfg.RateLimit.Burst)
	assert.Equal(t, 20*time.Second, cfg.Timeout)
	require.NotNil(t, cfg.QueueConfig.Get().StorageID)
	assert.Equal(t, "file_storage", cfg.QueueConfig.Get().StorageID.String())
	assert.Zero(t, cfg.BackOffConfig.MaxElapsedTime)
}
