package policy

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chainotel/chainotel/processors/chainsamplingprocessor/internal/match"
)

// FuzzParse: a policy file is edited by hand and reloaded live, so any bytes
// must give either a usable policy or an *Error that names the file (and,
// where the parser knows it, the line), never a panic or a hang.
func FuzzParse(f *testing.F) {
	paths, err := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	require.NoError(f, err)
	shipped, err := filepath.Glob(filepath.Join("..", "..", "..", "..", "collector", "sampling-policies.yaml"))
	require.NoError(f, err)
	for _, p := range append(paths, shipped...) {
		data, err := os.ReadFile(p)
		require.NoError(f, err)
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		pol, err := Parse("policies.yaml", data)
		if err != nil {
			var pe *Error
			require.True(t, errors.As(err, &pe), "not a policy error: %T %v", err, err)
			require.ErrorIs(t, err, ErrInvalid)
			require.Equal(t, "policies.yaml", pe.File)
			require.NotEmpty(t, pe.Msg)
			require.GreaterOrEqual(t, pe.Line, 0)
			return
		}
		require.NotEmpty(t, pol.Rules)
		names := map[string]bool{}
		for i, r := range pol.Rules {
			require.NotEmpty(t, r.Name, "rule %d has no name", i)
			require.False(t, names[r.Name], "rule name %q twice", r.Name)
			names[r.Name] = true
			require.True(t, r.Keep >= 0 && r.Keep <= 1, "rule %q keeps %v", r.Name, r.Keep)
			require.GreaterOrEqual(t, r.RateLimit, 0.0)
			require.NotNil(t, r.Match)
		}
		require.IsType(t, match.Everything{}, pol.Rules[len(pol.Rules)-1].Match, "the last rule must match every trace")
	})
}
