package chainsamplingprocessor

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/confmap"
	"go.yaml.in/yaml/v3"

	"github.com/chainotel/chainotel/processors/chainsamplingprocessor/internal/policy"
)

// yamlBlocks returns the fenced ```yaml blocks of a Markdown file.
func yamlBlocks(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var out []string
	for _, m := range regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(string(data), -1) {
		out = append(out, m[1])
	}
	return out
}

// TestReadmeExamples parses every YAML example in README.md: policy files
// with the policy parser, collector configurations into Config.
func TestReadmeExamples(t *testing.T) {
	blocks := yamlBlocks(t, "README.md")
	require.GreaterOrEqual(t, len(blocks), 3)
	policies, configs := 0, 0
	for i, b := range blocks {
		var top map[string]any
		require.NoError(t, yaml.Unmarshal([]byte(b), &top), "README block %d", i+1)
		switch {
		case top["rules"] != nil:
			_, err := policy.Parse("README.md block", []byte(b))
			require.NoError(t, err, "README block %d", i+1)
			policies++
		case top["processors"] != nil:
			procs := top["processors"].(map[string]any)
			raw, ok := procs["chainsampling"].(map[string]any)
			require.True(t, ok, "README block %d configures chainsampling", i+1)
			cfg := createDefaultConfig().(*Config)
			require.NoError(t, confmap.NewFromStringMap(raw).Unmarshal(cfg), "README block %d", i+1)
			require.NoError(t, cfg.Validate(), "README block %d", i+1)
			configs++
		default:
			t.Fatalf("README block %d is neither a policy file nor a collector configuration", i+1)
		}
	}
	require.Positive(t, policies)
	require.Positive(t, configs)
}

// TestDefaultPolicies parses the policy file shipped with otelcol-chain and
// checks the README shows the same rules.
func TestDefaultPolicies(t *testing.T) {
	path := filepath.Join("..", "..", "collector", "sampling-policies.yaml")
	shipped, err := policy.Load(path)
	require.NoError(t, err)

	want := []struct {
		name   string
		keep   float64
		always bool
	}{
		{"errors", 1, true},
		{"slow", 1, true},
		{"scrapes", 0, false},
		{"consensus-near-head", 1, false},
		{"transfers", 0.01, false},
		{"default", 0.001, false},
	}
	require.Len(t, shipped.Rules, len(want))
	for i, w := range want {
		r := shipped.Rules[i]
		require.Equal(t, w.name, r.Name)
		require.Equal(t, w.keep, r.Keep, r.Name)
		require.Equal(t, w.always, r.Always, r.Name)
	}

	documented, err := policy.Parse("README.md", []byte(yamlBlocks(t, "README.md")[1]))
	require.NoError(t, err)
	require.Len(t, documented.Rules, len(shipped.Rules))
	for i := range shipped.Rules {
		require.Equal(t, shipped.Rules[i].Name, documented.Rules[i].Name)
		require.Equal(t, shipped.Rules[i].Keep, documented.Rules[i].Keep)
	}
}
