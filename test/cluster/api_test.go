//go:build integration

package cluster

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	harness "github.com/chainotel/chainotel/internal/cluster"
	"github.com/chainotel/chainotel/node/api"
)

// The node's HTTP API, read with the node's own answer types.

func getStatus(ctx context.Context, cl *harness.Client, n *harness.Node) (api.StatusView, error) {
	var s api.StatusView
	err := cl.Do(ctx, http.MethodGet, n.API+"/status", nil, &s)
	return s, err
}

// getBlock fetches GET /blocks/{which} and checks the hash it states is the
// hash of the header it shows.
func getBlock(ctx context.Context, cl *harness.Client, n *harness.Node, which string) (api.BlockView, error) {
	var b api.BlockView
	err := cl.Do(ctx, http.MethodGet, n.API+"/blocks/"+which, nil, &b)
	if err == nil && b.Header.Hash() != b.Hash {
		err = fmt.Errorf("%s: GET /blocks/%s: hash %s does not match the header (%s)", n.ID, which, b.Hash, b.Header.Hash())
	}
	return b, err
}

func latestHeight(ctx context.Context, cl *harness.Client, n *harness.Node) (uint64, error) {
	b, err := getBlock(ctx, cl, n, "latest")
	return b.Header.Height, err
}

// localHeight is the height of n's own chain (?consistency=local): it
// answers on a node that cannot reach a quorum, where a linearizable read
// (the default) answers 503.
func localHeight(ctx context.Context, cl *harness.Client, n *harness.Node) (uint64, error) {
	b, err := getBlock(ctx, cl, n, "latest?consistency=local")
	return b.Header.Height, err
}

func getTx(ctx context.Context, cl *harness.Client, n *harness.Node, hash string) (api.TxLookup, error) {
	var a api.TxLookup
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
