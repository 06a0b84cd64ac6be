package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chainotel/chainotel/node/chain"
)

func TestInitWritesAGenesisForBothEngines(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	require.NoError(t, initData(&out, dir, []string{"node0", "node1"}, false))
	require.Contains(t, out.String(), "wrote "+filepath.Join(dir, "genesis.json"))

	g, err := chain.LoadGenesis(filepath.Join(dir, "genesis.json"))
	require.NoError(t, err)
	require.Equal(t, []string{"node0", "node1"}, g.Validators, "raft's members")
	require.NotNil(t, g.PoW, "the pow section --consensus=pow needs")
	require.Equal(t, chain.DevPoWParams(), *g.PoW)
	require.DirExists(t, filepath.Join(dir, "node1"))
}

// A genesis from before init wrote a pow section is kept, with a note that
// only raft runs on it.
func TestInitKeepsARaftOnlyGenesisAndSaysSo(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "genesis.json")
	require.NoError(t, chain.DevGenesis([]string{"node0"}, time.Now()).Write(path))
	before, err := os.ReadFile(path)
	require.NoError(t, err)

	var out bytes.Buffer
	require.NoError(t, initData(&out, dir, []string{"node0"}, false))
	require.Contains(t, out.String(), "kept "+path)
	require.Contains(t, out.String(), "no pow section, so only --consensus=raft runs on it")
	after, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, before, after)

	out.Reset()
	require.NoError(t, initData(&out, dir, []string{"node0"}, true))
	g, err := chain.LoadGenesis(path)
	require.NoError(t, err)
	require.NotNil(t, g.PoW, "--force writes the genesis for both engines")
}

func TestInitRefusesBadNodeIDs(t *testing.T) {
	require.ErrorContains(t, initData(&bytes.Buffer{}, t.TempDir(), nil, false), "--nodes is empty")
	require.ErrorContains(t, initData(&bytes.Buffer{}, t.TempDir(), []string{"node 0"}, false), "--nodes")
}
