package chainenrichprocessor

import (
	"os"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/confmap"
	"gopkg.in/yaml.v3"
)

// The README's example is a configuration the processor accepts, and it
// says what the README says it does.
func TestReadmeExample(t *testing.T) {
	b, err := os.ReadFile("README.md")
	require.NoError(t, err)
	blocks := regexp.MustCompile("(?s)## Example.*?```yaml\n(.*?)```").FindSubmatch(b)
	require.NotNil(t, blocks, "README.md has an Example section with a yaml block")
	var raw map[string]any
	require.NoError(t, yaml.Unmarshal(blocks[1], &raw))
	conf, err := confmap.NewRetrievedFromYAML(blocks[1])
	require.NoError(t, err)
	all, err := conf.AsConf()
	require.NoError(t, err)
	sub, err := all.Sub("processors::chainenrich")
	require.NoError(t, err)
	cfg := createDefaultConfig().(*Config)
	require.NoError(t, sub.Unmarshal(cfg))
	require.NoError(t, cfg.Validate())
	assert.Equal(t, "staging", cfg.Environment)
	assert.Len(t, cfg.Classification.Rules, 4)
	assert.Len(t, cfg.Redaction.Patterns, 3)
	assert.Contains(t, raw, "service")
}
