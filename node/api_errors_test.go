package node

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chainotel/chainotel/internal/testproc"
	"github.com/chainotel/chainotel/node/api"
	"github.com/chainotel/chainotel/node/chain"
	"github.com/chainotel/chainotel/node/pki"
)

// startSingle runs node0 alone with a genesis of the given validators; with
// only node0 it leads at once, with more it never gets a quorum.
func startSingle(t *testing.T, validators []string, tune func(*chain.Genesis, *Config)) single {
	t.Helper()
	dir := t.TempDir()
	_, err := pki.WriteCluster(filepath.Join(dir, "certs"), []string{"node0", "node1", "node2"}, pki.Options{})
	require.NoError(t, err)
	g := chain.DevGenesis(validators, time.Now())
	cfg := DefaultConfig()
	ports := testproc.FreePorts(t, 2)
	cfg.NodeID, cfg.Port, cfg.HealthPort, cfg.ListenHost = "node0", ports[0], ports[1], "127.0.0.1"
	cfg.TLSDir, cfg.GenesisPath, cfg.DBPath = filepath.Join(dir, "certs"), filepath.Join(dir, "genesis.json"), filepath.Join(dir, "db")
	cfg.TickInterval = 10 * time.Millisecond
	cfg.TLSDir = filepath.Join(dir, "certs")
	if tune != nil {
		tune(g, &cfg)
	}
	require.NoError(t, g.Write(cfg.GenesisPath))
	n, err := New(cfg)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	return single{base: fmt.Sprintf("http://127.0.0.1:%d", ports[0]), health: fmt.Sprintf("http://127.0.0.1:%d", ports[1])}
}

// single is a node started by startSingle: its API and health base URLs.
type single struct{ base, health string }

func newTestLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func post(t *testing.T, url, body string) (int, []byte) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, raw
}

func waitLeader(t *testing.T, base string) {
	testproc.WaitFor(t, 10*time.Second, "node0 to lead", func() error {
		var st api.StatusView
		if err := getJSON(base+"/status", &st); err != nil {
			return err
		}
		if !st.IsLeader {
			return fmt.Errorf("leader %q", st.Leader)
		}
		return nil
	})
}

func TestAPIErrorTable(t *testing.T) {
	base := startSingle(t, []string{"node0"}, nil).base
	waitLeader(t, base)

	key := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	signer := chain.AddressFromPubKey(key.Public().(ed25519.PublicKey))
	badSig := chain.Tx{From: signer, To: "0xdef", Amount: 1, Nonce: new(uint64)}
	badSig.Sign(chain.DevChainID, key)
	badSigBody := fmt.Sprintf(`{"from":%q,"to":"0xdef","amount":2,"nonce":0,"pubkey":%q,"signature":%q}`, signer, badSig.PubKey, badSig.Signature)

	// A committed tx with an explicit nonce, to repeat for the 409 row.
	code, raw := post(t, base+"/tx", `{"from":"0xdef","to":"0xabc","amount":5,"nonce":0}`)
	require.Equal(t, http.StatusOK, code, "%s", raw)

	tests := []struct {
		name, body string
		status     int
		field      string
		msg        string
	}{
		{"malformed JSON", `{"from":`, 400, "", "malformed JSON"},
		{"not an object", `[1,2]`, 400, "", "want a JSON object"},
		{"empty body", ``, 400, "", "empty body"},
		{"trailing data", `{"from":"0xabc","to":"0xdef","amount":1} {}`, 400, "", "after the JSON value"},
		{"unknown field", `{"from":"0xabc","to":"0xdef","amount":1,"memo":"hi"}`, 400, "memo", `unknown field "memo"`},
		{"bad from address", `{"from":"abc","to":"0xdef","amount":1}`, 400, "from", "must start with 0x"},
		{"bad to address", `{"from":"0xabc","to":"0xzz","amount":1}`, 400, "to", "not a hex digit"},
		{"address too long", `{"from":"0xabc","to":"0x` + strings.Repeat("a", 41) + `","amount":1}`, 400, "to", "1 to 40 hex digits"},
		{"missing amount", `{"from":"0xabc","to":"0xdef"}`, 400, "amount", "amount is required"},
		{"zero amount", `{"from":"0xabc","to":"0xdef","amount":0}`, 400, "amount", "whole number from 1"},
		{"negative amount", `{"from":"0xabc","to":"0xdef","amount":-5}`, 400, "amount", "got -5"},
		{"fractional amount", `{"from":"0xabc","to":"0xdef","amount":1.5}`, 400, "amount", "got 1.5"},
		{"overflowing amount", `{"from":"0xabc","to":"0xdef","amount":18446744073709551616}`, 400, "amount", "got 18446744073709551616"},
		{"amount as text", `{"from":"0xabc","to":"0xdef","amount":true}`, 400, "amount", "amount"},
		{"negative nonce", `{"from":"0xabc","to":"0xdef","amount":1,"nonce":-1}`, 400, "nonce", "got -1"},
		{"unknown type", `{"from":"0xabc","to":"0xdef","amount":1,"type":"mint"}`, 400, "type", `unknown type "mint"`},
		{"oversized body", `{"from":"0xabc","to":"0xdef","amount":1,"type":"` + strings.Repeat("x", 70<<10) + `"}`, 413, "", "byte limit"},
		{"insufficient funds", `{"from":"0xabc","to":"0xdef","amount":18000000000000000000}`, 422, "amount", "holds"},
		{"unfunded sender", `{"from":"0x123","to":"0xdef","amount":1}`, 422, "amount", "holds 0"},
		{"nonce not next", `{"from":"0xabc","to":"0xdef","amount":1,"nonce":7}`, 422, "nonce", "next nonce of 0xabc is 0"},
		{"bad signature", badSigBody, 422, "signature", "does not verify"},
		{"duplicate of a committed tx", `{"from":"0xdef","to":"0xabc","amount":5,"nonce":0}`, 409, "", "already committed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, raw := post(t, base+"/tx", tt.body)
			require.Equal(t, tt.status, code, "%s", raw)
			var eb api.ErrorBody
			require.NoError(t, json.Unmarshal(raw, &eb), "%s", raw)
			require.Equal(t, tt.field, eb.Field)
			require.Contains(t, eb.Error, tt.msg)
		})
	}

	t.Run("lookups", func(t *testing.T) {
		for _, tc := range []struct {
			path   string
			status int
		}{
			{"/blocks/1", 200}, {"/blocks/latest", 200}, {"/blocks/99", 404}, {"/blocks/xyz", 400},
			{"/tx/0x" + strings.Repeat("0", 64), 404}, {"/tx/abc", 400},
			{"/accounts/0xabc", 200}, {"/accounts/abc", 400}, {"/nowhere", 404},
		} {
			resp, err := http.Get(base + tc.path)
			require.NoError(t, err)
			_ = resp.Body.Close()
			require.Equal(t, tc.status, resp.StatusCode, tc.path)
		}
	})
}

func TestAPIMempoolFullAndNoQuorum(t *testing.T) {
	t.Run("429 when the mempool is full", func(t *testing.T) {
		// Blocks are cut only at 100 txs or after an hour, so what is admitted stays.
		base := startSingle(t, []string{"node0"}, func(g *chain.Genesis, c *Config) {
			g.Consensus.BlockMaxTxs = 100
			g.Consensus.BlockInterval = chain.Duration{Duration: time.Hour}
			c.MempoolSize = 2
			c.CommitTimeout = 300 * time.Millisecond
		}).base
		waitLeader(t, base)
		tx := `{"from":"0xabc","to":"0xdef","amount":1}`
		code, raw := post(t, base+"/txs", `{"txs":[`+tx+`,`+tx+`,`+tx+`]}`)
		require.Equal(t, http.StatusOK, code, "%s", raw)
		var res struct{ Results []api.BatchResult }
		require.NoError(t, json.Unmarshal(raw, &res))
		require.Len(t, res.Results, 3)
		require.Equal(t, 503, res.Results[0].Status, "admitted but never committed")
		require.Equal(t, 503, res.Results[1].Status)
		require.Equal(t, 429, res.Results[2].Status)
		require.Contains(t, res.Results[2].Error, "mempool full")

		code, raw = post(t, base+"/tx", tx)
		require.Equal(t, http.StatusTooManyRequests, code, "%s", raw)
	})
	t.Run("503 without a quorum", func(t *testing.T) {
		base := startSingle(t, []string{"node0", "node1", "node2"}, func(_ *chain.Genesis, c *Config) {
			c.CommitTimeout = 300 * time.Millisecond
		}).base
		code, raw := post(t, base+"/tx", `{"from":"0xabc","to":"0xdef","amount":1}`)
		require.Equal(t, http.StatusServiceUnavailable, code, "%s", raw)
		require.Contains(t, string(raw), "no quorum")
		var acct api.AccountView
		// A linearizable read needs the quorum too (TestRaftReadWithoutQuorum).
		require.NoError(t, getJSON(base+"/accounts/0xabc?consistency=local", &acct))
		require.Equal(t, chain.DevBalance, acct.Balance, "nothing applied")
	})
}
