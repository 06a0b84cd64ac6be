//go:build integration

package chaos

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/chainotel/chainotel/internal/cluster"
)

// newClient is the suite's HTTP client: the cluster package's, with a
// transport that adds the traceparent header a request's context carries.
func newClient(conns int, timeout time.Duration) *cluster.Client {
	c := cluster.NewClient(conns, timeout)
	c.HTTP.Transport = traceTransport{base: c.HTTP.Transport}
	return c
}

type traceParentKey struct{}

func withTraceParent(ctx context.Context, tp string) context.Context {
	return context.WithValue(ctx, traceParentKey{}, tp)
}

// traceTransport sets the W3C traceparent header from the request's context.
type traceTransport struct{ base http.RoundTripper }

func (t traceTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	tp, ok := req.Context().Value(traceParentKey{}).(string)
	if !ok {
		return t.base.RoundTrip(req)
	}
	req = req.Clone(req.Context()) // a RoundTripper must not modify the caller's request
	req.Header.Set("traceparent", tp)
	return t.base.RoundTrip(req)
}

// nodeStatus is the part of GET /status the suite reads.
type nodeStatus struct {
	NodeID   string `json:"node_id"`
	Leader   string `json:"leader"`
	IsLeader bool   `json:"is_leader"`
	Height   uint64 `json:"height"`
	HeadHash string `json:"head_hash"`
}

func status(ctx context.Context, c *cluster.Client, n *cluster.Node) (nodeStatus, error) {
	var s nodeStatus
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	err := c.Do(ctx, http.MethodGet, n.API+"/status", nil, &s)
	return s, err
}

func height(ctx context.Context, c *cluster.Client, n *cluster.Node) (uint64, error) {
	s, err := status(ctx, c, n)
	return s.Height, err
}

// blockHash is the hash of node n's block at height h.
func blockHash(ctx context.Context, c *cluster.Client, n *cluster.Node, h uint64) (string, error) {
	var b struct {
		Hash string `json:"hash"`
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	err := c.Do(ctx, http.MethodGet, n.API+"/blocks/"+strconv.FormatUint(h, 10), nil, &b)
	return b.Hash, err
}

// nodeCounter sums the samples of metric name on node n's /metrics, per
// value of the label byLabel ("" when byLabel is empty).
func nodeCounter(ctx context.Context, c *cluster.Client, n *cluster.Node, name, byLabel string) (map[string]float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, n.Health+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("parse %s's metrics: %w", n.ID, err)
	}
	sums := map[string]float64{}
	for _, m := range families[name].GetMetric() {
		key := ""
		for _, l := range m.GetLabel() {
			if byLabel != "" && l.GetName() == byLabel {
				key = l.GetValue()
			}
		}
		sums[key] += m.GetCounter().GetValue() + m.GetGauge().GetValue() + m.GetUntyped().GetValue()
	}
	return sums, nil
}

// droppedSpans reads every node's count of spans dropped before export, by
// reason (queue_full, export_failed).
func (e *Env) droppedSpans(ctx context.Context) (map[string]map[string]float64, error) {
	out := map[string]map[string]float64{}
	for _, n := range e.Cluster.Nodes() {
		d, err := nodeCounter(ctx, e.Client, n, droppedSpansMetric, "reason")
		if err != nil {
			return nil, err
		}
		out[n.ID] = d
	}
	return out, nil
}
