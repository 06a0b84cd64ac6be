package chainheadsamplingextension

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/confmap"

	"github.com/chainotel/chainotel/processors/chainsamplingprocessor/policyfile"
)

func readmeBlocks(t *testing.T) [][]byte {
	t.Helper()
	b, err := os.ReadFile("README.md")
	require.NoError(t, err)
	var blocks [][]byte
	for _, m := range regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllSubmatch(b, -1) {
		blocks = append(blocks, m[1])
	}
	require.Len(t, blocks, 2, "README.md has the head: section and the Example")
	return blocks
}

// The README's head: section is one the parser accepts, and means what the
// README says.
func TestReadmeHeadSection(t *testing.T) {
	doc := append(readmeBlocks(t)[0], "rules:\n  - {name: default, keep: 1}\n"...)
	h, err := policyfile.ParseHead("README.md", doc)
	require.NoError(t, err)
	require.Equal(t, 0.1, h.Service("wallet").Keep)
	bc := h.Service("blockchain")
	require.Equal(t, 0.5, bc.Keep)
	require.Len(t, bc.Operations, 8, "one span name and seven methods of the route")
}

// The README's Example is a configuration the extension accepts.
func TestReadmeExample(t *testing.T) {
	conf, err := confmap.NewRetrievedFromYAML(readmeBlocks(t)[1])
	require.NoError(t, err)
	all, err := conf.AsConf()
	require.NoError(t, err)
	sub, err := all.Sub("extensions::chainheadsampling")
	require.NoError(t, err)
	cfg := createDefaultConfig().(*Config)
	require.NoError(t, sub.Unmarshal(cfg))
	require.NoError(t, cfg.Validate())
	require.Equal(t, DefaultEndpoint, cfg.HTTP.NetAddr.Endpoint)
	require.True(t, cfg.WatchPolicyFile)
	// The policy file it names is the repository's, and it loads.
	_, _, err = policyfile.LoadHead(filepath.Join("..", "..", cfg.PolicyFile))
	require.NoError(t, err)
}
