package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chainotel/chainotel/node/buildinfo"
)

// Both spellings print the build and start nothing (no --node-id needed).
func TestVersion(t *testing.T) {
	want := buildinfo.Read().String() + "\n"
	require.Contains(t, want, "blockchain "+buildinfo.Read().Version)
	for _, args := range [][]string{{"--version"}, {"version"}} {
		var out bytes.Buffer
		require.NoError(t, rootCommand(&out).ParseAndRun(context.Background(), args), "%v", args)
		require.Equal(t, want, out.String(), "%v", args)
	}
	err := rootCommand(&bytes.Buffer{}).ParseAndRun(context.Background(), []string{"version", "extra"})
	require.ErrorContains(t, err, "unexpected arguments")
}
