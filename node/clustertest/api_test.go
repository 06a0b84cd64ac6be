package clustertest

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/chainotel/chainotel/node/chain"
	"github.com/chainotel/chainotel/node/clustertest/cluster"
)

// What this file knows of the node's HTTP API shapes, in one place.

// status is the part of GET /status the test reads.
type status struct {
	NodeID string `json:"node_id"`
	Leader string `json:"leader"`
	Height uint64 `json:"height"`
}

func getStatus(ctx context.Context, cl *cluster.Client, n *cluster.Node) (status, error) {
	var s status
	err := cl.Do(ctx, http.MethodGet, n.API+"/status", nil, &s)
	return s, err
}

// blockAnswer is GET /blocks/{height|latest}: the block and its hash.
type blockAnswer struct {
	Hash  string      `json:"hash"`
	Block chain.Block `json:"block"`
}

func getBlock(ctx context.Context, cl *cluster.Client, n *cluster.Node, which string) (blockAnswer, error) {
	var b blockAnswer
	err := cl.Do(ctx, http.MethodGet, n.API+"/blocks/"+which, nil, &b)
	if err == nil && b.Block.Hash().String() != b.Hash {
		err = fmt.Errorf("%s: GET /blocks/%s: hash %s does not match the header (%s)", n.ID, which, b.Hash, b.Block.Hash())
	}
	return b, err
}

func latestHeight(ctx context.Context, cl *cluster.Client, n *cluster.Node) (uint64, error) {
	b, err := getBlock(ctx, cl, n, "latest")
	return b.Block.Header.Height, err
}

// txAnswer is GET /tx/{hash}: where a committed transaction is.
type txAnswer struct {
	TxHash    string `json:"tx_hash"`
	BlockHash string `json:"block_hash"`
	Height    uint64 `json:"height"`
}

func getTx(ctx context.Context, cl *cluster.Client, n *cluster.Node, hash string) (txAnswer, error) {
	var a txAnswer
	err := cl.Do(ctx, http.MethodGet, n.API+"/tx/"+hash, nil, &a)
	return a, err
}

func blockPath(h uint64) string { return strconv.FormatUint(h, 10) }

// ctxFor is a request context bounded by d and by the test's end.
func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}
