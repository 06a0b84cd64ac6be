package chainheadsamplingextension

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/chainotel/chainotel/extensions/chainheadsamplingextension/internal/metadata"
	"github.com/chainotel/chainotel/extensions/chainheadsamplingextension/internal/metadatatest"
	"github.com/chainotel/chainotel/extensions/chainheadsamplingextension/internal/strategy"
	"github.com/chainotel/chainotel/internal/testproc"
)

// harness is the extension built through its factory and started on a free
// port, with its policy file in a temporary folder.
type harness struct {
	policy string // path of the policy file
	url    string // the strategy endpoint: http://127.0.0.1:PORT/sampling
	tel    *componenttest.Telemetry
	logs   *observer.ObservedLogs
}

func startExtension(t *testing.T, policy string) *harness {
	t.Helper()
	h := &harness{policy: filepath.Join(t.TempDir(), "sampling-policies.yaml"), tel: componenttest.NewTelemetry()}
	h.write(t, policy)
	port := testproc.FreePorts(t, 1)[0]
	cfg := createDefaultConfig().(*Config)
	cfg.HTTP.NetAddr.Endpoint = fmt.Sprintf("127.0.0.1:%d", port)
	cfg.PolicyFile = h.policy
	require.NoError(t, cfg.Validate())
	h.url = fmt.Sprintf("http://127.0.0.1:%d%s", port, SamplingPath)

	set := metadatatest.NewSettings(h.tel)
	core, logs := observer.New(zapcore.InfoLevel)
	set.Logger = zap.New(core)
	h.logs = logs

	ext, err := NewFactory().Create(t.Context(), set, cfg)
	require.NoError(t, err)
	require.NoError(t, ext.Start(t.Context(), componenttest.NewNopHost()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, ext.Shutdown(ctx))
		require.NoError(t, h.tel.Shutdown(ctx))
	})
	return h
}

// write replaces the policy file the way an editor does: a new file renamed
// over the old one.
func (h *harness) write(t *testing.T, content string) {
	t.Helper()
	tmp := h.policy + ".tmp"
	require.NoError(t, os.WriteFile(tmp, []byte(content), 0o600))
	require.NoError(t, os.Rename(tmp, h.policy))
}

// get fetches url and returns the status code and body.
func get(t *testing.T, method, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, http.NoBody)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(body)
}

// strategyOf fetches the strategy of service.
func (h *harness) strategyOf(t *testing.T, service string) strategy.Response {
	t.Helper()
	code, body := get(t, http.MethodGet, h.url+"?service="+service)
	require.Equal(t, http.StatusOK, code, body)
	var r strategy.Response
	require.NoError(t, json.Unmarshal([]byte(body), &r))
	return r
}

// counter returns the value of one of the extension's counters, summed over
// its attributes (0 before the first count).
func (h *harness) counter(t *testing.T, name string) int64 {
	t.Helper()
	m, err := h.tel.GetMetric("otelcol_extension_chainheadsampling_" + name)
	if err != nil {
		return 0
	}
	var n int64
	for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
		n += dp.Value
	}
	return n
}

func writeTemp(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sampling-policies.yaml")
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	return path
}

func extensiontestSettings() extension.Settings {
	return extensiontest.NewNopSettings(metadata.Type)
}
