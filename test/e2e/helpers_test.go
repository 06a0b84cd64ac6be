//go:build integration

package e2e

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	// The collector's OTLP exporter gzips by default; the in-process sink's
	// gRPC server needs the decompressor registered.
	_ "google.golang.org/grpc/encoding/gzip"

	"github.com/chainotel/chainotel/internal/cluster"
	"github.com/chainotel/chainotel/internal/otlpsink"
	"github.com/chainotel/chainotel/semconv"
)

// policies is the sampling policy file of the test: errors always kept,
// transfers kept at the rate given, everything else kept.
func policies(transferKeep string) string {
	return fmt.Sprintf(`rules:
  - name: errors
    match: {error: true}
    keep: 1
    always: true
  - name: transfers
    match: {tx_type: transfer}
    keep: %s
  - name: default
    keep: 1
`, transferKeep)
}

// writeAtomically replaces path's content in one rename, as an editor that
// saves safely does, so the collector never reads a half-written file.
func writeAtomically(t *testing.T, path, text string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// newTraceID is a random W3C trace id.
func newTraceID() pcommon.TraceID {
	var id pcommon.TraceID
	_, _ = rand.Read(id[:])
	return id
}

// postTx posts a transfer to node n inside a remote parent span of trace
// tid, as a traced client would, and fails the test unless it commits.
func postTx(t *testing.T, n *cluster.Node, tid pcommon.TraceID, amount int) {
	t.Helper()
	body := fmt.Sprintf(`{"from":"0xabc","to":"0xdef","amount":%d}`, amount)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, n.API+"/tx", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("traceparent", fmt.Sprintf("00-%s-%s-01", tid, "00f067aa0ba902b7"))
	resp, err := httpClient().Do(req)
	if err != nil {
		t.Fatalf("POST /tx on %s: %v", n.ID, err)
	}
	defer func() { _ = resp.Body.Close() }()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /tx on %s: %d %s", n.ID, resp.StatusCode, raw)
	}
}

func httpClient() *http.Client { return &http.Client{Timeout: 30 * time.Second} }

// faultReport is the answer of the node's POST /debug/fault.
type faultReport struct {
	Kind    string `json:"kind"`
	TraceID string `json:"trace_id"`
}

// fault triggers a debug fault of kind on node n.
func fault(t *testing.T, n *cluster.Node, kind string) faultReport {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, n.Health+"/debug/fault?kind="+kind, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := httpClient().Do(req)
	if err != nil {
		t.Fatalf("fault %s on %s: %v", kind, n.ID, err)
	}
	defer func() { _ = resp.Body.Close() }()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("fault %s on %s: %d %s", kind, n.ID, resp.StatusCode, raw)
	}
	var rep faultReport
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatalf("fault %s on %s: %v in %s", kind, n.ID, err, raw)
	}
	return rep
}

// leaderOf asks node n's /health who leads.
func leaderOf(ctx context.Context, n *cluster.Node) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, n.Health+"/health", nil)
	if err != nil {
		return "", err
	}
	resp, err := httpClient().Do(req)
	if err != nil {
		return "", err
	}
	defer func() { _ = resp.Body.Close() }()
	var h struct {
		Leader string `json:"leader"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		return "", err
	}
	if h.Leader == "" {
		return "", fmt.Errorf("%s sees no leader", n.ID)
	}
	return h.Leader, nil
}

// instance is the node that emitted s.
func instance(s otlpsink.Span) string {
	v, _ := s.ResourceAttr(semconv.ServiceInstanceIDKey)
	return v
}

// linksTo reports whether s is in trace tid or links to a span of it.
func linksTo(s otlpsink.Span, tid pcommon.TraceID) bool {
	if s.TraceID() == tid {
		return true
	}
	for i := 0; i < s.Links().Len(); i++ {
		if s.Links().At(i).TraceID() == tid {
			return true
		}
	}
	return false
}

// isTransferTrace reports whether any of spans says chain.tx.type=transfer.
func isTransferTrace(spans []otlpsink.Span) bool {
	for _, s := range spans {
		if v, _ := s.Attr(semconv.TxTypeKey); v == semconv.TxTypeTransfer {
			return true
		}
	}
	return false
}

// describe lists spans for failure messages.
func describe(spans []otlpsink.Span) string {
	var b strings.Builder
	for _, s := range spans {
		fmt.Fprintf(&b, "\n  %s %s kind=%s status=%s parent=%s", instance(s), s.Name(), s.Kind(), s.Status().Code(), s.ParentSpanID())
	}
	return b.String()
}
