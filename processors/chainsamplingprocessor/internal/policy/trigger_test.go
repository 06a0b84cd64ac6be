package policy

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseTriggers(t *testing.T) {
	pol, err := Load(filepath.Join("testdata", "valid_triggers.yaml"))
	require.NoError(t, err)
	require.Len(t, pol.Triggers, 5)

	leader := pol.Triggers[0]
	require.Equal(t, "leader-change", leader.Name)
	require.Equal(t, "trigger:leader-change", leader.RuleName())
	require.Equal(t, OnLeaderChange, leader.Kind)
	require.Equal(t, 30*time.Second, leader.Window)
	require.Equal(t, ScopeChain, leader.Scope)

	timeout := pol.Triggers[1]
	require.Equal(t, OnErrorType, timeout.Kind)
	require.True(t, timeout.ErrorType.TestString("consensus_timeout"))
	require.False(t, timeout.ErrorType.TestString("p2p_disconnect"))
	require.Equal(t, ScopeNode, timeout.Scope)
	require.True(t, pol.Triggers[2].ErrorType.TestString("p2p_disconnect"))

	require.Equal(t, OnReorg, pol.Triggers[3].Kind)
	require.Equal(t, int64(3), pol.Triggers[3].ReorgDepth)

	stall := pol.Triggers[4]
	require.Equal(t, OnStall, stall.Kind)
	require.Equal(t, 15*time.Second, stall.Stall)
	require.Equal(t, time.Minute, stall.Window)
	require.Equal(t, 20, stall.Line)
}

func TestParseTriggersInvalid(t *testing.T) {
	tests := []struct {
		file string
		want string
	}{
		{"trigger_invalid_scope.yaml", `trigger_invalid_scope.yaml:5:12: scope: must be node or chain, got "galaxy"`},
		{"trigger_invalid_two_events.yaml", "trigger_invalid_two_events.yaml:3:9: on: needs exactly one event"},
		{"trigger_invalid_reorg_depth.yaml", "trigger_invalid_reorg_depth.yaml:3:23: on.reorg_depth: must be a whole number of blocks >= 1, got 0"},
		{"trigger_invalid_no_window.yaml", `trigger_invalid_no_window.yaml:2:5: trigger "t": window is required`},
		{"trigger_invalid_unknown_event.yaml", `trigger_invalid_unknown_event.yaml:3:10: on: unknown key "error_typ"`},
		{"trigger_invalid_duplicate_name.yaml", `trigger_invalid_duplicate_name.yaml:6:5: trigger "t": name already used by the trigger at line 2`},
		{"trigger_invalid_not_list.yaml", "trigger_invalid_not_list.yaml:1:11: triggers must be a list"},
	}
	files, err := filepath.Glob(filepath.Join("testdata", "trigger_invalid_*.yaml"))
	require.NoError(t, err)
	require.Len(t, files, len(tests), "every trigger_invalid_*.yaml needs a row here")
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			_, err := Load(filepath.Join("testdata", tt.file))
			require.ErrorIs(t, err, ErrInvalid)
			require.ErrorContains(t, err, tt.want)
		})
	}
}
