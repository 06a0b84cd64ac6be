package main

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/natefinch/lumberjack.v2"
)

func parseLogFlags(t *testing.T, args ...string) *logFileFlags {
	t.Helper()
	var f logFileFlags
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	f.register(fs)
	require.NoError(t, fs.Parse(args))
	return &f
}

func TestLogFileRotates(t *testing.T) {
	dir := t.TempDir()
	f := parseLogFlags(t, "--log-dir="+dir, "--log-max-size=1", "--log-max-backups=2")
	require.Equal(t, filepath.Join(dir, "node0", "app.log"), f.path("node0"))
	w, c, err := f.open("node0")
	require.NoError(t, err)
	require.FileExists(t, f.path("node0"), "opened at start")

	// Writing straight to the file: the writer returned also copies to stderr.
	lj, ok := c.(*lumberjack.Logger)
	require.True(t, ok, "the closer is the rotating file")
	line := []byte(strings.Repeat("x", 1023) + "\n")
	for range 4 * 1024 { // 4 MiB through a 1 MiB file
		_, err := lj.Write(line)
		require.NoError(t, err)
	}
	require.NotSame(t, os.Stderr, w, "stderr and the file")
	require.NoError(t, c.Close())

	entries, err := os.ReadDir(filepath.Join(dir, "node0"))
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
		info, err := e.Info()
		require.NoError(t, err)
		require.LessOrEqual(t, info.Size(), int64(1<<20), e.Name())
	}
	// lumberjack removes the backups past --log-max-backups in a goroutine
	// of its own after a rotation, so there are at most 2 (it can be 3 for a
	// moment); app.log is always there.
	require.Contains(t, names, "app.log")
	require.GreaterOrEqual(t, len(names), 2, "rotated: %v", names)
}

func TestLogToStderrOnly(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{{"--log-file=false", "--log-dir=" + dir}, {"--log-dir="}} {
		f := parseLogFlags(t, args...)
		require.Empty(t, f.path("node0"), "%v", args)
		w, c, err := f.open("node0")
		require.NoError(t, err)
		require.Same(t, os.Stderr, w)
		require.NoError(t, c.Close())
	}
	require.NoDirExists(t, filepath.Join(dir, "node0"))
}

func TestLogFileFlagsRefuseBadValues(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ arg, want string }{
		{"--log-max-size=0", "--log-max-size 0: want > 0 megabytes"},
		{"--log-max-backups=-1", "--log-max-backups -1: want >= 0"},
		{"--log-max-age=-2", "--log-max-age -2: want >= 0 days"},
	} {
		_, _, err := parseLogFlags(t, "--log-dir="+dir, tc.arg).open("node0")
		require.ErrorContains(t, err, tc.want)
	}
	// A log folder under a file cannot be made.
	file := filepath.Join(dir, "file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	_, _, err := parseLogFlags(t, "--log-dir="+file).open("node0")
	require.ErrorContains(t, err, "log file "+filepath.Join(file, "node0", "app.log"))
}
