package chainpolicypreviewextension

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/chainotel/chainotel/extensions/chainpolicypreviewextension/internal/metadata"
	"github.com/chainotel/chainotel/extensions/chainpolicypreviewextension/internal/metadatatest"
	"github.com/chainotel/chainotel/internal/testproc"
	"github.com/chainotel/chainotel/processors/chainsamplingprocessor"
	"github.com/chainotel/chainotel/processors/chainsamplingprocessor/preview"
	"github.com/chainotel/chainotel/semconv"
)

// host is what the collector gives components at Start: its extensions.
type host map[component.ID]component.Component

func (h host) GetExtensions() map[component.ID]component.Component { return h }

// startExtension builds the extension through its factory and starts it on
// a free port; it returns the extension, its host and the preview URL.
func startExtension(t *testing.T, tel *componenttest.Telemetry) (extension.Extension, host, string) {
	t.Helper()
	port := testproc.FreePorts(t, 1)[0]
	cfg := createDefaultConfig().(*Config)
	cfg.HTTP.NetAddr.Endpoint = fmt.Sprintf("127.0.0.1:%d", port)
	cfg.MaxPolicyBytes = 4096
	require.NoError(t, cfg.Validate())
	ext, err := NewFactory().Create(t.Context(), metadatatest.NewSettings(tel), cfg)
	require.NoError(t, err)
	h := host{component.NewID(metadata.Type): ext}
	require.NoError(t, ext.Start(t.Context(), h))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, ext.Shutdown(ctx))
	})
	return ext, h, fmt.Sprintf("http://127.0.0.1:%d%s", port, PreviewPath)
}

const livePolicy = `rules:
  - name: transfers
    match: {tx_type: transfer}
    keep: 0.5
  - name: default
    keep: 0.1
`

// startProcessor builds a chainsampling processor through its factory,
// deciding traces 10 ms after their first span, and starts it with h.
func startProcessor(t *testing.T, h host, name string) processor.Traces {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sampling-policies.yaml")
	require.NoError(t, os.WriteFile(path, []byte(livePolicy), 0o600))
	f := chainsamplingprocessor.NewFactory()
	cfg := f.CreateDefaultConfig().(*chainsamplingprocessor.Config)
	cfg.PolicyFile = path
	cfg.DecisionWait = 10 * time.Millisecond
	cfg.WatchPolicyFile = false
	set := processortest.NewNopSettings(f.Type())
	set.ID = component.NewIDWithName(f.Type(), name)
	p, err := f.CreateTraces(t.Context(), set, cfg, new(consumertest.TracesSink))
	require.NoError(t, err)
	require.NoError(t, p.Start(t.Context(), h))
	return p
}

// sendTraces sends n traces of one span each, every other one a transfer.
func sendTraces(t *testing.T, p processor.Traces, n int) {
	t.Helper()
	td := ptrace.NewTraces()
	spans := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans()
	for i := range n {
		s := spans.AppendEmpty()
		s.SetTraceID(pcommon.TraceID{0: 0xab, 15: byte(i + 1)})
		s.SetSpanID(pcommon.SpanID{7: byte(i + 1)})
		s.SetName("mempool.add")
		if i%2 == 0 {
			s.Attributes().PutStr(semconv.TxTypeKey, "transfer")
		}
	}
	require.NoError(t, p.ConsumeTraces(t.Context(), td))
}

func do(t *testing.T, method, url, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	return resp.StatusCode, b
}

func TestPreviewOverHTTP(t *testing.T) {
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	_, h, url := startExtension(t, tel)

	code, body := do(t, http.MethodGet, url, "")
	require.Equal(t, http.StatusServiceUnavailable, code, string(body))
	require.Contains(t, string(body), "no chainsampling processor")

	p := startProcessor(t, h, "")
	sendTraces(t, p, 10)
	var live preview.Report
	require.Eventually(t, func() bool {
		code, body := do(t, http.MethodGet, url, "")
		require.Equal(t, http.StatusOK, code, string(body))
		require.NoError(t, json.Unmarshal(body, &live))
		return live.Traces == 10
	}, 10*time.Second, 10*time.Millisecond, "the processor decides the ten traces")
	require.Len(t, live.Rules, 2)
	require.Equal(t, 5, live.Rules[0].Matched)
	require.InDelta(t, 2.5+0.5, live.KeptTraces, 1e-9)

	// A candidate keeping every transfer keeps more, over the same traces.
	code, body = do(t, http.MethodPost, url, "rules:\n  - {name: transfers, match: {tx_type: transfer}, keep: 1}\n  - {name: default, keep: 0}\n")
	require.Equal(t, http.StatusOK, code, string(body))
	var cmp preview.Comparison
	require.NoError(t, json.Unmarshal(body, &cmp))
	require.Equal(t, live.KeptTraces, cmp.Live.KeptTraces)
	require.Equal(t, "candidate.yaml", cmp.Candidate.File)
	require.InDelta(t, 5, cmp.Candidate.Rules[0].KeptTraces, 1e-9)
	require.InDelta(t, 5, cmp.Candidate.KeptSpans, 1e-9)

	// A bad candidate: 400, with file, line and column.
	code, body = do(t, http.MethodPost, url+"?file=edit.yaml", "rules:\n  - name: transfers\n    keep: 2\n  - {name: default, keep: 0}\n")
	require.Equal(t, http.StatusBadRequest, code, string(body))
	var prob struct {
		Error  string `json:"error"`
		File   string `json:"file"`
		Line   int    `json:"line"`
		Column int    `json:"column"`
	}
	require.NoError(t, json.Unmarshal(body, &prob))
	require.Equal(t, "edit.yaml", prob.File)
	require.Equal(t, 3, prob.Line)
	require.Equal(t, 11, prob.Column)
	require.True(t, strings.HasPrefix(prob.Error, "edit.yaml:3:11: "), prob.Error)

	code, body = do(t, http.MethodPost, url, strings.Repeat("#", 5000))
	require.Equal(t, http.StatusRequestEntityTooLarge, code, string(body))
	code, _ = do(t, http.MethodDelete, url, "")
	require.Equal(t, http.StatusMethodNotAllowed, code)

	// Two processors: the request names one.
	p2 := startProcessor(t, h, "second")
	code, body = do(t, http.MethodGet, url, "")
	require.Equal(t, http.StatusBadRequest, code)
	require.Contains(t, string(body), "chainsampling, chainsampling/second")
	code, body = do(t, http.MethodGet, url+"?processor=chainsampling/second", "")
	require.Equal(t, http.StatusOK, code, string(body))
	require.NoError(t, json.Unmarshal(body, &live))
	require.Zero(t, live.Traces, "the second processor decided nothing")
	code, _ = do(t, http.MethodGet, url+"?processor=chainsampling/third", "")
	require.Equal(t, http.StatusNotFound, code)

	// Shut down, the processors leave the registry.
	require.NoError(t, p.Shutdown(t.Context()))
	require.NoError(t, p2.Shutdown(t.Context()))
	code, _ = do(t, http.MethodGet, url, "")
	require.Equal(t, http.StatusServiceUnavailable, code)

	// Every answer was counted, by status code.
	m, err := tel.GetMetric("otelcol_extension_chainpolicypreview_requests")
	require.NoError(t, err)
	require.NotNil(t, m)
}

func TestRegisterRefusesADuplicate(t *testing.T) {
	ext, _, _ := startExtension(t, componenttest.NewTelemetry())
	reg := ext.(preview.Registry)
	id := component.MustNewID("chainsampling")
	unregister, err := reg.Register(id, nil)
	require.NoError(t, err)
	_, err = reg.Register(id, nil)
	require.ErrorIs(t, err, preview.ErrDuplicate)
	unregister()
	_, err = reg.Register(id, nil)
	require.NoError(t, err, "unregistering frees the id")
}
