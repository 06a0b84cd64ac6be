package api

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chainotel/chainotel/node/chain"
)

// FuzzTxDecode feeds arbitrary bodies through what POST /tx and POST /txs do
// before the engine: the strict JSON decoding under the body limit, the
// number checks and the stateless validation (format, signature, gas).
// Every refusal must be a client error (4xx) with a message, never a panic
// or a 500.
func FuzzTxDecode(f *testing.F) {
	for _, body := range []string{
		`{"from":"0xabc","to":"0xdef","amount":1}`,
		`{"from":"0xABC","to":"0xdef","amount":"1"}`,
		`{"from":"0xabc","to":"0xdef","amount":1,"fee":21000,"nonce":0,"type":"stake"}`,
		`{"from":"0xabc","to":"0xdef","amount":-1}`,
		`{"from":"0xabc","to":"0xdef","amount":1.5}`,
		`{"from":"0xabc","to":"0xdef","amount":18446744073709551616}`,
		`{"from":"0xabc","to":"0xdef","amount":1,"pubkey":"00","signature":"zz"}`,
		`{"from":"abc","to":"0xdef","amount":1,"bogus":true}`,
		`{"txs":[{"from":"0xabc","to":"0xdef","amount":1},{"from":"0x","to":"0xdef","amount":0}]}`,
		`{"txs":[]}`, `[]`, `null`, ``, `{`, `{"from":"0xabc"} trailing`,
	} {
		f.Add([]byte(body), false, false)
		f.Add([]byte(body), true, true)
	}
	g := chain.DevGenesis([]string{"node0"}, time.Unix(1_700_000_000, 0))
	f.Fuzz(func(t *testing.T, body []byte, batch, requireSignatures bool) {
		params := g.Consensus
		params.RequireSignatures = requireSignatures
		req := httptest.NewRequest(http.MethodPost, "/tx", bytes.NewReader(body))
		req.Body = http.MaxBytesReader(httptest.NewRecorder(), req.Body, DefaultMaxTxBytes)
		var reqs []TxRequest
		if batch {
			var b BatchRequest
			if err := decodeStrict(req, &b); err != nil {
				requireClientError(t, err)
				return
			}
			reqs = b.Txs
		} else {
			var one TxRequest
			if err := decodeStrict(req, &one); err != nil {
				requireClientError(t, err)
				return
			}
			reqs = []TxRequest{one}
		}
		for i := range reqs {
			tx, err := reqs[i].toTx()
			if err == nil {
				err = tx.CheckFormat(g.ChainID, params.RequireSignatures)
			}
			if err == nil {
				err = params.CheckGas(&tx)
			}
			if err != nil {
				requireClientError(t, err)
				continue
			}
			// What passed is what the engine gets: it must hash and encode.
			raw, err := tx.AppendBinary(nil)
			require.NoError(t, err)
			var back chain.Tx
			require.NoError(t, back.UnmarshalBinary(raw))
			require.Equal(t, tx.Hash(), back.Hash())
		}
	})
}

func requireClientError(t *testing.T, err error) {
	t.Helper()
	status, body, _ := statusOf(err)
	require.GreaterOrEqual(t, status, 400, "%v", err)
	require.Less(t, status, 500, "bad input answered as a server error: %v", err)
	require.NotEmpty(t, body.Error)
}
