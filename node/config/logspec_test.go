package config

import (
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseLogSpec(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want LogSpec
		str  string
	}{
		{"info", LogSpec{Default: slog.LevelInfo}, "info"},
		{"DEBUG", LogSpec{Default: slog.LevelDebug}, "debug"},
		{"warning", LogSpec{Default: slog.LevelWarn}, "warn"},
		{"raft=debug", LogSpec{Default: slog.LevelInfo, Components: map[string]slog.Level{"raft": slog.LevelDebug}}, "info:raft=debug"},
		{"warn:raft,p2p=debug:api=error", LogSpec{Default: slog.LevelWarn, Components: map[string]slog.Level{
			"raft": slog.LevelDebug, "p2p": slog.LevelDebug, "api": slog.LevelError}}, "warn:api=error:p2p=debug:raft=debug"},
		{"raft=debug:error", LogSpec{Default: slog.LevelError, Components: map[string]slog.Level{"raft": slog.LevelDebug}}, "error:raft=debug"},
		{" info : raft = debug ", LogSpec{Default: slog.LevelInfo, Components: map[string]slog.Level{"raft": slog.LevelDebug}}, "info:raft=debug"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseLogSpec(tc.in)
			require.NoError(t, err)
			require.True(t, tc.want.Equal(got), "got %+v", got)
			require.Equal(t, tc.str, got.String())
			again, err := ParseLogSpec(got.String())
			require.NoError(t, err)
			require.True(t, got.Equal(again), "String parses back to the same spec")
		})
	}
}

func TestParseLogSpecErrors(t *testing.T) {
	for _, tc := range []struct{ in, err string }{
		{"", "empty log level spec"},
		{"verbose", `term 1 "verbose": level "verbose": want debug, info, warn or error`},
		{"info:debug", `term 2 "debug": a second default level`},
		{"info:raft=loud", `term 2 "raft=loud": level "loud"`},
		{"info:=debug", `term 2 "=debug": empty component name`},
		{"info:raft,,p2p=debug", "empty component name"},
		{"info:consensus=debug", `unknown component "consensus" (known: api, badger, config, p2p, pow, raft, telemetry)`},
		{"raft=debug:raft=info", `term 2 "raft=info": component "raft" is named twice`},
		{"info::raft=debug", `term 2 "": level ""`},
	} {
		t.Run(tc.in, func(t *testing.T) {
			_, err := ParseLogSpec(tc.in)
			require.ErrorContains(t, err, tc.err)
		})
	}
}
