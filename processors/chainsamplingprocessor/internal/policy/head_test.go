package policy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseHead(t *testing.T) {
	pol, err := Load(filepath.Join("testdata", "head_valid.yaml"))
	require.NoError(t, err)
	h := pol.Head
	require.NotNil(t, h)
	require.Equal(t, 0.25, h.Keep, "keep after services still is the services' default")

	bc := h.Service("blockchain")
	require.Equal(t, 0.5, bc.Keep)
	want := []HeadOperation{{Name: "consensus.propose", Keep: 1}}
	for _, m := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"} {
		want = append(want, HeadOperation{Name: m + " /tx", Keep: 0.01})
	}
	require.Equal(t, want, bc.Operations)

	wallet := h.Service("wallet")
	require.Equal(t, 0.25, wallet.Keep, "a service without keep takes head.keep")
	require.Equal(t, []HeadOperation{{Name: "transfer", Keep: 0}}, wallet.Operations)

	require.Equal(t, HeadService{Name: "indexer", Keep: 0.25}, h.Service("indexer"), "an unnamed service gets the default")
}

func TestParseWithoutHead(t *testing.T) {
	pol, err := Load(filepath.Join("testdata", "valid_full.yaml"))
	require.NoError(t, err)
	require.Nil(t, pol.Head)
	require.Equal(t, HeadService{Name: "blockchain", Keep: 1}, KeepEverything().Service("blockchain"))
}

func TestParseHeadDefaultKeep(t *testing.T) {
	pol, err := Parse("p.yaml", []byte("head:\n  services:\n    blockchain: {}\nrules:\n  - {name: default, keep: 1}\n"))
	require.NoError(t, err)
	require.Equal(t, 1.0, pol.Head.Keep, "head.keep defaults to 1")
	require.Equal(t, HeadService{Name: "blockchain", Keep: 1}, pol.Head.Service("blockchain"))
}

func TestParseHeadInvalid(t *testing.T) {
	tests := []struct {
		file string
		want string
	}{
		{"head_invalid_keep_range.yaml", "head_invalid_keep_range.yaml:2:9: head.keep: must be a probability between 0 and 1, got 2"},
		{"head_invalid_keep_type.yaml", `head_invalid_keep_type.yaml:2:9: head.keep: must be a number, got "most"`},
		{"head_invalid_unknown_key.yaml", `head_invalid_unknown_key.yaml:3:3: head: unknown key "servics" (known: keep, services)`},
		{"head_invalid_not_mapping.yaml", "head_invalid_not_mapping.yaml:1:7: head must be a mapping"},
		{"head_invalid_services_list.yaml", "head_invalid_services_list.yaml:2:13: head.services must be a mapping from service.name to its probabilities"},
		{"head_invalid_service_repeated.yaml", `head_invalid_service_repeated.yaml:4:5: head.services: service "blockchain" repeated`},
		{"head_invalid_service_keep_range.yaml", "head_invalid_service_keep_range.yaml:3:24: head.services.blockchain.keep: must be a probability between 0 and 1, got -0.1"},
		{"head_invalid_op_both.yaml", "head_invalid_op_both.yaml:5:11: head.services.blockchain.operations: each entry needs exactly one of span_name or http_route"},
		{"head_invalid_op_neither.yaml", "head_invalid_op_neither.yaml:5:11: head.services.blockchain.operations: each entry needs exactly one of span_name or http_route"},
		{"head_invalid_op_no_keep.yaml", "head_invalid_op_no_keep.yaml:5:11: head.services.blockchain.operations: keep is required"},
		{"head_invalid_op_duplicate.yaml", `head_invalid_op_duplicate.yaml:6:11: head.services.blockchain.operations: operation "POST /tx" already has a probability at line 5`},
		{"head_invalid_route_no_slash.yaml", `head_invalid_route_no_slash.yaml:5:24: head.services.blockchain.operations.http_route: must start with /, got "tx"`},
		{"head_invalid_ops_empty.yaml", "head_invalid_ops_empty.yaml:4:19: head.services.blockchain.operations: must be a non-empty list"},
		{"head_invalid_bad_rules.yaml", `head_invalid_bad_rules.yaml:4:5: rule "default": keep is required`},
	}
	files, err := filepath.Glob(filepath.Join("testdata", "head_invalid_*.yaml"))
	require.NoError(t, err)
	require.Len(t, files, len(tests), "every head_invalid_*.yaml needs a row here")
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			_, err := Load(filepath.Join("testdata", tt.file))
			require.ErrorIs(t, err, ErrInvalid)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

// The collector's own policy file parses, and its head section (if any)
// is what the extension serves.
func TestCollectorPolicyFileParses(t *testing.T) {
	path := filepath.Join("..", "..", "..", "..", "collector", "sampling-policies.yaml")
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	pol, err := Parse(path, data)
	require.NoError(t, err)
	if strings.Contains(string(data), "\nhead:") {
		require.NotNil(t, pol.Head)
	}
}
