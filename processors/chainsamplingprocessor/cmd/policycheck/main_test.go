package main

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRun(t *testing.T) {
	shipped := filepath.Join("..", "..", "..", "..", "collector", "sampling-policies.yaml")
	bad := filepath.Join("..", "..", "internal", "policy", "testdata", "invalid_keep_range.yaml")
	badTrigger := filepath.Join("..", "..", "internal", "policy", "testdata", "trigger_invalid_scope.yaml")
	tests := []struct {
		name       string
		args       []string
		status     int
		out, error string
	}{
		{"shipped policy", []string{shipped}, 0, shipped + ": ok (6 rules, 4 triggers)\n", ""},
		{"invalid rule", []string{shipped, bad}, 1, shipped + ": ok",
			bad + ":4:11: keep: must be a probability between 0 and 1, got 1.5\n"},
		{"invalid trigger", []string{badTrigger}, 1, "", badTrigger + `:5:12: scope: must be node or chain, got "galaxy"`},
		{"missing file", []string{"nope.yaml"}, 1, "", "read policy file: open nope.yaml"},
		{"no file", nil, 2, "", "usage: policycheck POLICY_FILE..."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			require.Equal(t, tt.status, run(tt.args, &out, &errOut))
			require.Contains(t, out.String(), tt.out)
			require.Contains(t, errOut.String(), tt.error)
			if tt.error == "" {
				require.Empty(t, errOut.String())
			}
		})
	}
}
