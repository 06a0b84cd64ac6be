package node

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chainotel/chainotel/internal/testproc"
	"github.com/chainotel/chainotel/node/chain"
	"github.com/chainotel/chainotel/node/pki"
	"github.com/chainotel/chainotel/node/store"
	"github.com/chainotel/chainotel/semconv"
)

// TestOneGenesisBothEnginesOneEnginePerFolder: the genesis `blockchain init`
// writes starts either engine, picked by --consensus alone, and a data folder
// that holds one engine's chain refuses the other.
func TestOneGenesisBothEnginesOneEnginePerFolder(t *testing.T) {
	dir := t.TempDir()
	_, err := pki.WriteCluster(filepath.Join(dir, "certs"), []string{"node0"}, pki.Options{})
	require.NoError(t, err)
	genesis := filepath.Join(dir, "genesis.json")
	require.NoError(t, chain.DevGenesisBoth([]string{"node0"}, time.Now()).Write(genesis))

	config := func(engine, db string) Config {
		cfg := DefaultConfig()
		ports := testproc.FreePorts(t, 2)
		cfg.NodeID, cfg.Port, cfg.HealthPort, cfg.ListenHost = "node0", ports[0], ports[1], "127.0.0.1"
		cfg.TLSDir, cfg.GenesisPath, cfg.DBPath = filepath.Join(dir, "certs"), genesis, filepath.Join(dir, db)
		cfg.Consensus = engine
		return cfg
	}
	// startStop makes a node and stops it at once, closing its store.
	startStop := func(cfg Config) error {
		n, err := New(cfg)
		if err != nil {
			return err
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		return n.Run(ctx)
	}

	require.NoError(t, startStop(config(semconv.ConsensusRaft, "raft-db")))
	require.NoError(t, startStop(config(semconv.ConsensusPoW, "pow-db")))

	err = startStop(config(semconv.ConsensusPoW, "raft-db"))
	require.ErrorIs(t, err, store.ErrEngineMismatch)
	require.ErrorContains(t, err, "raft-db")
	require.ErrorContains(t, err, "it holds a raft chain, and this node starts pow; start it with --consensus=raft")

	err = startStop(config(semconv.ConsensusRaft, "pow-db"))
	require.ErrorIs(t, err, store.ErrEngineMismatch)
	require.ErrorContains(t, err, "it holds a pow chain")

	require.NoError(t, startStop(config(semconv.ConsensusRaft, "raft-db")), "the folder's own engine still starts")
}
