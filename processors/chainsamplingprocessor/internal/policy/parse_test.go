package policy

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chainotel/chainotel/processors/chainsamplingprocessor/internal/match"
	"github.com/chainotel/chainotel/semconv"
)

func TestParseValid(t *testing.T) {
	pol, err := Load(filepath.Join("testdata", "valid_full.yaml"))
	require.NoError(t, err)

	names := make([]string, 0, len(pol.Rules))
	for _, r := range pol.Rules {
		names = append(names, r.Name)
	}
	require.Equal(t, []string{"errors", "slow", "consensus-near-head", "old-blocks", "scrapes",
		"stakes-not-node0", "big-fees", "has-peer", "default"}, names)

	require.True(t, pol.Rules[0].Always)
	require.Equal(t, 0.25, pol.Rules[5].Keep)
	require.Equal(t, 10.0, pol.Rules[5].RateLimit)
	require.Equal(t, 0.001, pol.Rules[8].Keep)
	require.IsType(t, match.Everything{}, pol.Rules[8].Match)

	// Only the keys some rule mentions are summarised, each in one slot;
	// within_head reads the head the spans report.
	require.True(t, pol.Keys.Names)
	require.ElementsMatch(t, []string{semconv.BlockHeightKey, semconv.HeadHeightKey, semconv.HTTPRouteKey, semconv.RPCMethodKey, semconv.RPCServiceKey,
		semconv.TxTypeKey, semconv.TxFeeKey, semconv.PeerIDKey}, pol.Keys.Span)
	require.Equal(t, []string{semconv.ServiceInstanceIDKey}, pol.Keys.Resource)
	require.Equal(t, semconv.BlockHeightKey, pol.Keys.Span[pol.HeightSlot])
	require.Equal(t, semconv.HeadHeightKey, pol.Keys.Span[pol.HeadSlot])
}

func TestParseInvalid(t *testing.T) {
	tests := []struct {
		file string
		want string
	}{
		{"invalid_unknown_key.yaml", `invalid_unknown_key.yaml:4:5: rule: unknown key "keeep"`},
		{"invalid_keep_range.yaml", "invalid_keep_range.yaml:4:11: keep: must be a probability between 0 and 1, got 1.5"},
		{"invalid_keep_type.yaml", `invalid_keep_type.yaml:3:11: keep: must be a number, got "lots"`},
		{"invalid_no_default.yaml", `invalid_no_default.yaml:2:5: rule "errors": the last rule must be a default rule without match`},
		{"invalid_default_not_last.yaml", `invalid_default_not_last.yaml:2:5: rule "default" has no match, so the rules after it could never apply`},
		{"invalid_duplicate_name.yaml", `invalid_duplicate_name.yaml:5:5: rule "a": name already used by the rule at line 2`},
		{"invalid_no_name.yaml", "invalid_no_name.yaml:2:5: rule: name is required"},
		{"invalid_no_keep.yaml", `invalid_no_keep.yaml:2:5: rule "default": keep is required`},
		{"invalid_bad_regex.yaml", "invalid_bad_regex.yaml:3:32: span_name.regex: error parsing regexp: missing closing )"},
		{"invalid_bad_duration.yaml", `invalid_bad_duration.yaml:3:27: min_duration: must be a duration such as 2s or 500ms, got "soon"`},
		{"invalid_unknown_matcher.yaml", `invalid_unknown_matcher.yaml:3:13: match: unknown key "colour"`},
		{"invalid_height_range.yaml", "invalid_height_range.yaml:3:27: block_height: min 10 is above max 5"},
		{"invalid_attribute_no_key.yaml", "invalid_attribute_no_key.yaml:3:24: attribute: key is required"},
		{"invalid_two_tests.yaml", "invalid_two_tests.yaml:3:22: tx_type: needs exactly one test"},
		{"invalid_rate_limit.yaml", "invalid_rate_limit.yaml:5:17: rate_limit: must be > 0 traces per second, got -1"},
		{"invalid_empty_all.yaml", "invalid_empty_all.yaml:3:18: all: must be a non-empty list of matches"},
		{"invalid_yaml_syntax.yaml", "invalid_yaml_syntax.yaml:2: YAML syntax: did not find expected ',' or ']'"},
		{"invalid_empty.yaml", "invalid_empty.yaml: the file is empty"},
		{"invalid_no_rules.yaml", "invalid_no_rules.yaml:1:1: rules: at least one rule is required"},
	}
	files, err := filepath.Glob(filepath.Join("testdata", "invalid_*.yaml"))
	require.NoError(t, err)
	require.Len(t, files, len(tests), "every invalid_*.yaml needs a row here")
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			_, err := Load(filepath.Join("testdata", tt.file))
			require.ErrorIs(t, err, ErrInvalid)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	require.ErrorContains(t, err, "nope.yaml")
}

func TestThreshold(t *testing.T) {
	require.Equal(t, "0", Threshold(1).TValue())
	require.Empty(t, Threshold(0).TValue(), "keep 0 never samples")
	require.InDelta(t, 100, Threshold(0.01).AdjustedCount(), 0.01, "four hex digits of precision")
}

func TestFirstMatchWins(t *testing.T) {
	pol, err := Parse("p.yaml", []byte(`
rules:
  - name: errors
    match: {error: true}
    keep: 1
  - name: also-errors
    match: {error: true}
    keep: 0.5
  - name: default
    keep: 0
`))
	require.NoError(t, err)
	require.Equal(t, 0, pol.First(&match.Summary{Error: true}, match.Env{}))
	require.Equal(t, 2, pol.First(&match.Summary{}, match.Env{}))
}
