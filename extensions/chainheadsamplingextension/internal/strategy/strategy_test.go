package strategy

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chainotel/chainotel/processors/chainsamplingprocessor/policyfile"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// The wire format is pinned by golden files; the extension's tests check
// that OpenTelemetry's jaegerremote sampler reads it.
func TestGolden(t *testing.T) {
	tests := []struct {
		golden string
		svc    policyfile.HeadService
	}{
		{"probabilistic.json", policyfile.HeadService{Name: "wallet", Keep: 0.25}},
		{"per_operation.json", policyfile.HeadService{Name: "blockchain", Keep: 0.5, Operations: []policyfile.HeadOperation{
			{Name: "consensus.propose", Keep: 1}, {Name: "POST /tx", Keep: 0.01},
		}}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			b, err := Marshal(tt.svc)
			require.NoError(t, err)
			var pretty bytes.Buffer
			require.NoError(t, json.Indent(&pretty, b, "", "  "))
			pretty.WriteByte('\n')
			path := filepath.Join("testdata", tt.golden)
			if *update {
				require.NoError(t, os.WriteFile(path, pretty.Bytes(), 0o600))
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err)
			require.Equal(t, string(want), pretty.String())
		})
	}
}
