package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func writeConf(t *testing.T, path, text string) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, []byte(text), 0o644))
}

func TestReadConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "node.conf")
	writeConf(t, path, "# node0\nport 8080\n\nmax-client-requests 7 # per IP\nmempool-size 50\ncommit-timeout 2s\n")
	t.Setenv("BLOCKCHAIN_MEMPOOL_SIZE", "60")
	args := []string{"--node-id=node0", "--config", path, "--commit-timeout=3s"}

	vals, where, err := readConfig(args)
	require.NoError(t, err)
	require.Equal(t, "7", vals["max-client-requests"])
	require.Equal(t, "60", vals["mempool-size"], "the environment beats the file")
	require.Equal(t, "3s", vals["commit-timeout"], "the command line beats both")
	require.Equal(t, "node0", vals["node-id"])
	require.Equal(t, path+":4", where("max-client-requests"))
	require.Equal(t, path+":2", where("port"))
	require.Equal(t, "$BLOCKCHAIN_MEMPOOL_SIZE", where("mempool-size"))
	require.Equal(t, "the command line", where("commit-timeout"))
	require.Equal(t, "the default", where("min-free-disk"))
}

func TestReadConfigErrorsNameFileAndLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "node.conf")
	args := []string{"--node-id=node0", "--config", path}
	for _, tc := range []struct{ text, err string }{
		{"port 8080\nmax-client-requests lots\n", path + `:2: error setting flag "max-client-requests" from config file: parse error`},
		{"port 8080\n\n# x\nmax-clients 3\n", path + `:4: config file flag "max-clients" not defined in flag set`},
		{"commit-timeout\n", path + `:1: error setting flag "commit-timeout" from config file`},
	} {
		writeConf(t, path, tc.text)
		_, _, err := readConfig(args)
		require.ErrorContains(t, err, tc.err)
	}
	require.NoError(t, os.Remove(path))
	_, _, err := readConfig(args)
	require.ErrorContains(t, err, path)
}

func TestEnvVar(t *testing.T) {
	require.Equal(t, "BLOCKCHAIN_MAX_CLIENT_REQUESTS", envVar("max-client-requests"))
}
