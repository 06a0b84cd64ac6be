package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Tx is the body of POST /tx as the README's curl sends it.
type Tx struct {
	From   string `json:"from"`
	To     string `json:"to"`
	Amount uint64 `json:"amount"`
	Type   string `json:"type,omitempty"`
	Fee    uint64 `json:"fee,omitempty"`
}

// Receipt is the answer to POST /tx once the transaction is committed.
type Receipt struct {
	TxHash    string `json:"tx_hash"`
	BlockHash string `json:"block_hash"`
	Height    uint64 `json:"height"`
}

// Health is the answer of GET /health on the health port.
type Health struct {
	Status string `json:"status"`
	Peers  int    `json:"peers"`
}

// HTTPError is a non-2xx answer: its status and body.
type HTTPError struct {
	Method, URL string
	Status      int
	Body        string
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("%s %s: %d %s: %s", e.Method, e.URL, e.Status, http.StatusText(e.Status), e.Body)
}

// Unwrap makes errors.Is(err, ErrHTTPStatus) true.
func (e *HTTPError) Unwrap() error { return ErrHTTPStatus }

// Client talks to the nodes' HTTP API and health ports. It is safe for
// concurrent use.
type Client struct {
	HTTP *http.Client
}

// NewClient returns a client keeping up to conns idle connections per node,
// so that many concurrent senders do not reconnect on every request.
func NewClient(conns int, timeout time.Duration) *Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 0 // no global cap; the per-host cap applies
	tr.MaxIdleConnsPerHost = conns
	return &Client{HTTP: &http.Client{Transport: tr, Timeout: timeout}}
}

// Do sends a request with an optional JSON body and decodes a 2xx JSON answer
// into out (if not nil). Another status is an *HTTPError.
func (c *Client) Do(ctx context.Context, method, url string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("%s %s: encode body: %w", method, url, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, url, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return err // already names method and URL
	}
	defer func() { _ = resp.Body.Close() }() // read to the end below; closing cannot lose anything
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", method, url, err)
	}
	if resp.StatusCode/100 != 2 {
		return &HTTPError{Method: method, URL: url, Status: resp.StatusCode, Body: string(bytes.TrimSpace(raw))}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%s %s: decode answer %q: %w", method, url, truncate(raw, 200), err)
	}
	return nil
}

// SubmitTx posts one transaction to the node at api and waits for its receipt.
func (c *Client) SubmitTx(ctx context.Context, api string, tx Tx) (Receipt, error) {
	var r Receipt
	err := c.Do(ctx, http.MethodPost, api+"/tx", tx, &r)
	if err == nil && (r.TxHash == "" || r.BlockHash == "") {
		err = fmt.Errorf("POST %s/tx: receipt without tx_hash or block_hash: %+v", api, r)
	}
	return r, err
}

// Health asks the node's health port how it is.
func (c *Client) Health(ctx context.Context, n *Node) (Health, error) {
	var h Health
	err := c.Do(ctx, http.MethodGet, n.Health+"/health", nil, &h)
	return h, err
}

// GetJSON fetches api+path and decodes the JSON answer into a generic map.
func (c *Client) GetJSON(ctx context.Context, url string) (map[string]any, error) {
	var m map[string]any
	err := c.Do(ctx, http.MethodGet, url, nil, &m)
	return m, err
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}
