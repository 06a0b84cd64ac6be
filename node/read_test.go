package node

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chainotel/chainotel/internal/testproc"
	"github.com/chainotel/chainotel/node/api"
	"github.com/chainotel/chainotel/node/chain"
	"github.com/chainotel/chainotel/semconv"
)

// getConsistency answers GET url's status, its consistency header and its error body.
func getConsistency(t *testing.T, url string) (int, string, api.ErrorBody) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var eb api.ErrorBody
	if resp.StatusCode != http.StatusOK {
		require.NoError(t, json.Unmarshal(body, &eb), "%s", body)
	}
	return resp.StatusCode, resp.Header.Get(api.HeaderConsistency), eb
}

// readPaths are the chain reads that take ?consistency=.
var readPaths = []string{"/accounts/0xabc", "/blocks/latest", "/blocks/0",
	"/tx/" + chain.Hash{}.String()}

// TestRaftReadsAreLinearizableByDefault: a raft node that leads answers
// every chain read through ReadIndex unless asked for a local read, and
// names a bad ?consistency=.
func TestRaftReadsAreLinearizableByDefault(t *testing.T) {
	n := startSingle(t, []string{"node0"}, nil)
	testproc.WaitFor(t, 20*time.Second, "node0 to lead", func() error {
		var st api.StatusView
		if err := getJSON(n.base+"/status", &st); err != nil {
			return err
		}
		if !st.IsLeader {
			return fmt.Errorf("state %s", st.State)
		}
		return nil
	})
	for _, p := range readPaths {
		code, how, _ := getConsistency(t, n.base+p)
		if p == readPaths[3] {
			require.Equal(t, http.StatusNotFound, code, p) // no such tx, but read linearizably
		} else {
			require.Equal(t, http.StatusOK, code, p)
		}
		require.Equal(t, api.ConsistencyLinearizable, how, p)
		code, how, _ = getConsistency(t, n.base+p+"?consistency=local")
		require.Contains(t, []int{http.StatusOK, http.StatusNotFound}, code, p)
		require.Equal(t, api.ConsistencyLocal, how, p)
		code, _, eb := getConsistency(t, n.base+p+"?consistency=eventual")
		require.Equal(t, http.StatusBadRequest, code, p)
		require.Equal(t, "consistency", eb.Field)
		require.Contains(t, eb.Error, `consistency "eventual": want "linearizable"`)
	}
}

// TestRaftReadWithoutQuorum: a node of three alone never gets a quorum, so
// a linearizable read is a 503 after the commit timeout, as POST /tx is; a
// local read still answers.
func TestRaftReadWithoutQuorum(t *testing.T) {
	n := startSingle(t, []string{"node0", "node1", "node2"}, func(_ *chain.Genesis, cfg *Config) {
		cfg.CommitTimeout = 300 * time.Millisecond
	})
	code, _, eb := getConsistency(t, n.base+"/accounts/0xabc")
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Contains(t, eb.Error, "no quorum")
	code, how, _ := getConsistency(t, n.base+"/accounts/0xabc?consistency=local")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, api.ConsistencyLocal, how)
}

// TestPoWReadsAreLocal: proof of work has no leader to confirm a read
// index, so its reads are local, by default and on request, and asking for
// a linearizable one is a 400 that says so.
func TestPoWReadsAreLocal(t *testing.T) {
	n := startSingle(t, []string{"node0"}, func(g *chain.Genesis, cfg *Config) {
		p := chain.DevPoWParams()
		g.PoW = &p
		cfg.Consensus = semconv.ConsensusPoW
	})
	for _, q := range []string{"", "?consistency=local"} {
		code, how, _ := getConsistency(t, n.base+"/accounts/0xabc"+q)
		require.Equal(t, http.StatusOK, code, q)
		require.Equal(t, api.ConsistencyLocal, how, q)
	}
	code, _, eb := getConsistency(t, n.base+"/accounts/0xabc?consistency=linearizable")
	require.Equal(t, http.StatusBadRequest, code)
	require.Equal(t, "consistency", eb.Field)
	require.Contains(t, eb.Error, "this node runs pow, whose reads are local by nature")
}
