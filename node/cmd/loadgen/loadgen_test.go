package main

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chainotel/chainotel/internal/cluster"
)

func TestParseFlagsRefusesBadInput(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"no cluster", nil, "no cluster: give --targets"},
		{"both", []string{"--spawn", "--targets", "http://x:1"}, "--spawn and --targets exclude each other"},
		{"bad target", []string{"--targets", "localhost:8080"}, `--targets: "localhost:8080" is not an http(s)://host:port URL`},
		{"bad mode", []string{"--spawn", "--modes", "single,burst"}, `--modes: unknown mode "burst"`},
		{"zero clients", []string{"--spawn", "--clients", "0"}, "--clients: must be >= 1, got 0"},
		{"zero batch", []string{"--spawn", "--batch-size", "0"}, "--batch-size: must be >= 1, got 0"},
		{"negative duration", []string{"--spawn", "--duration", "-1s"}, "--duration: must be > 0, got -1s"},
		{"compare without collector", []string{"--spawn", "--compare-telemetry"}, "--compare-telemetry needs --collector"},
		{"collector without spawn", []string{"--targets", "http://x:1", "--collector", "c"}, "work with --spawn only"},
		{"zero rounds", []string{"--spawn", "--collector", "c", "--compare-telemetry", "--rounds", "0"}, "--rounds: must be >= 1, got 0"},
		{"negative rounds", []string{"--spawn", "--collector", "c", "--compare-telemetry", "--rounds", "-2"}, "--rounds: must be >= 1, got -2"},
		{"rounds without compare", []string{"--spawn", "--rounds", "3"}, "--rounds 3 works with --compare-telemetry only"},
		{"head sampling zero", []string{"--spawn", "--head-sampling", "0"}, "--head-sampling: must be a probability in (0, 1], got 0"},
		{"head sampling above one", []string{"--spawn", "--head-sampling", "1.5"}, "--head-sampling: must be a probability in (0, 1], got 1.5"},
		{"stray argument", []string{"--spawn", "now"}, `unexpected argument "now"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseFlags(tc.args, io.Discard)
			require.ErrorContains(t, err, tc.wantErr)
		})
	}
	c, err := parseFlags([]string{"--targets", "http://a:1/, http://b:2", "--modes", "batch"}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, []string{"http://a:1", "http://b:2"}, c.targets)
	assert.Equal(t, []string{modeBatch}, c.modes)
	assert.Equal(t, 256, c.clients)
	assert.Equal(t, 1, c.rounds, "one round unless asked")

	c, err = parseFlags([]string{"--spawn", "--collector", "c", "--compare-telemetry", "--rounds", "3"}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, 3, c.rounds)
}

func TestCountBatch(t *testing.T) {
	acked, fails, err := countBatch(json.RawMessage(`{"results":[{"tx_hash":"0x1","block_hash":"0xb","height":3,"status":200},`+
		`{"status":422,"error":"insufficient funds","field":"amount"}]}`), 2)
	require.NoError(t, err)
	assert.Equal(t, 1, acked)
	assert.Equal(t, map[string]uint64{"422 insufficient funds (in a batch)": 1}, fails)

	_, _, err = countBatch(json.RawMessage(`{"results":[{"block_hash":"0xb"}]}`), 2)
	require.ErrorContains(t, err, "1 outcomes for 2 transactions")
	_, _, err = countBatch(json.RawMessage(`"nope"`), 1)
	require.ErrorContains(t, err, "unreadable answer")
}

func TestClassify(t *testing.T) {
	he := &cluster.HTTPError{Method: "POST", URL: "http://x/tx", Status: 429, Body: `{"error":"mempool full"}`}
	assert.Equal(t, "429 mempool full", classify(he))
	assert.Equal(t, "transport: connection refused", classify(errors.New(`Post "http://x/tx": dial tcp: connection refused`)))
}

func TestPercentile(t *testing.T) {
	r := result{latencies: []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}}
	assert.Equal(t, time.Duration(5), r.percentile(50))
	assert.Equal(t, time.Duration(9), r.percentile(99))
	assert.Zero(t, result{}.percentile(50))
}

// TestLoadAgainstAnHTTPServer runs both modes against a server that answers
// like a node, refuses every second request, and checks the counts add up.
func TestLoadAgainstAnHTTPServer(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1)%2 == 0 {
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = io.WriteString(w, `{"error":"mempool full"}`)
			return
		}
		switch r.URL.Path {
		case "/tx":
			_, _ = io.WriteString(w, `{"tx_hash":"0x1","block_hash":"0xb","height":1}`)
		case "/txs":
			var req batchRequest
			if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			one := `{"tx_hash":"0x1","block_hash":"0xb","height":1,"status":200},`
			_, _ = io.WriteString(w, `{"results":[`+strings.TrimSuffix(strings.Repeat(one, len(req.Txs)), ",")+"]}")
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()

	cfg, err := parseFlags([]string{"--targets", srv.URL, "--clients", "4", "--batch-clients", "2", "--batch-size", "5",
		"--duration", "300ms"}, io.Discard)
	require.NoError(t, err)
	l := &load{cfg: cfg, client: cluster.NewClient(8, time.Second), targets: cfg.targets}
	var refused uint64
	for _, mode := range []string{modeSingle, modeBatch} {
		var c counters
		r := l.run(t.Context(), mode, &c)
		require.Positive(t, r.sent, mode)
		assert.Equal(t, r.sent, r.acked+r.errCount(), mode)
		assert.Len(t, r.latencies, int(r.acked), mode)
		assert.Equal(t, c.errs.Load(), r.errCount(), mode)
		refused += r.errs["429 mempool full"]
	}
	require.GreaterOrEqual(t, calls.Load(), int64(2))
	assert.Positive(t, refused, "the refused requests are counted by kind")
}

func TestProcCPUReadsAProcess(t *testing.T) {
	// Burn a little CPU so the count is not zero at a 10ms resolution.
	x := 0
	for deadline := time.Now().Add(50 * time.Millisecond); time.Now().Before(deadline); {
		x++
	}
	d, err := procCPU(os.Getpid())
	require.NoError(t, err)
	assert.Positive(t, d)
	_, err = procCPU(0)
	require.Error(t, err)
}

func TestParseBusy(t *testing.T) {
	// user nice system idle iowait irq softirq steal guest guest_nice
	d, err := parseBusy("cpu  151744 10 68732 107771 1518 5 2641 3 0 0")
	require.NoError(t, err)
	assert.Equal(t, time.Duration(151744+10+68732+5+2641+3)*clockTick, d, "all but idle and iowait")

	for line, wantErr := range map[string]string{
		"cpu0 1 2 3 4 5 6 7 8":   `first line "cpu0 1 2 3 4 5 6 7 8" is not the cpu total`,
		"cpu  1 2 3":             "is not the cpu total",
		"cpu  1 2 x 4 5 6 7 8 9": `cpu system: "x" is not a number`,
	} {
		_, err := parseBusy(line)
		require.ErrorContains(t, err, wantErr, line)
	}
	d, err = machineBusy()
	require.NoError(t, err)
	assert.Positive(t, d)
}

func TestFormatCoresPutsLoadgenFirst(t *testing.T) {
	got := formatCores(map[string]float64{"node1": 0.5, "loadgen": 0.25, "node0": 1})
	assert.True(t, strings.HasPrefix(got, "loadgen 0.25, node0 1.00, node1 0.50 (total 1.75 of "), got)
}
