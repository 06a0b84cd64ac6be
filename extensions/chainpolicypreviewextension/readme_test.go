package chainpolicypreviewextension

import (
	"os"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/confmap"
)

// The README's Example is a configuration the extension accepts, with the
// values it says.
func TestReadmeExample(t *testing.T) {
	b, err := os.ReadFile("README.md")
	require.NoError(t, err)
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllSubmatch(b, -1)
	require.Len(t, blocks, 1, "README.md has one Example")
	conf, err := confmap.NewRetrievedFromYAML(blocks[0][1])
	require.NoError(t, err)
	all, err := conf.AsConf()
	require.NoError(t, err)
	sub, err := all.Sub("extensions::chainpolicypreview")
	require.NoError(t, err)
	cfg := createDefaultConfig().(*Config)
	require.NoError(t, sub.Unmarshal(cfg))
	require.NoError(t, cfg.Validate())
	require.Equal(t, DefaultEndpoint, cfg.HTTP.NetAddr.Endpoint)
	require.Equal(t, int64(65536), cfg.MaxPolicyBytes)
}
