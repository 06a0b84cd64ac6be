package chainsamplingprocessor

import (
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chainotel/chainotel/semconv"
)

const (
	keepErrorsOnly = `
rules:
  - name: errors
    match: {error: true}
    keep: 1
  - name: default
    keep: 0
`
	keepTransfers = `
rules:
  - name: errors
    match: {error: true}
    keep: 1
  - name: transfers
    match: {tx_type: transfer}
    keep: 1
  - name: default
    keep: 0
`
)

// probe sends a fresh root span of a transfer, decided as soon as it
// arrives (decision_wait_after_root is tiny), and reports whether it was kept.
type prober struct {
	h    *harness
	next atomic.Uint64
}

func (p *prober) keptNow(t *testing.T) bool {
	const decided = "otelcol_processor_chainsampling_traces_decided"
	// Only probes are decided while the test runs (the buffered trace waits
	// for shutdown), so the kept counter moving says what became of this one;
	// the sink may receive it a moment after the counter moves.
	keptBefore := p.h.counterWhere(decided, "outcome", "kept")
	id := 1_000_000 + p.next.Add(1)
	p.h.send(spans(t, spanSpec{id: id, root: true, attrs: map[string]any{semconv.TxTypeKey: semconv.TxTypeTransfer}}))
	require.Eventually(t, func() bool {
		return p.h.counter(decided) >= int64(p.next.Load())
	}, waitFor, 2*time.Millisecond)
	return p.h.counterWhere(decided, "outcome", "kept") > keptBefore
}

// reloadCase edits the policy file in one of the ways files change.
type reloadCase struct {
	name  string
	setup func(t *testing.T, dir string) string // returns the path to configure
	edit  func(t *testing.T, path, body string)
}

func reloadCases() []reloadCase {
	plain := func(t *testing.T, dir string) string {
		path := filepath.Join(dir, "policies.yaml")
		writePolicy(t, path, keepErrorsOnly)
		return path
	}
	return []reloadCase{
		{name: "write in place", setup: plain, edit: func(t *testing.T, path, body string) { writePolicy(t, path, body) }},
		{name: "editor rename", setup: plain, edit: func(t *testing.T, path, body string) {
			tmp := path + ".swp"
			writePolicy(t, tmp, body)
			require.NoError(t, os.Rename(tmp, path))
		}},
		{name: "configmap symlink swap", setup: func(t *testing.T, dir string) string {
			// The layout kubelet makes: policies.yaml -> ..data/policies.yaml,
			// ..data -> ..<version>, swapped by renaming a new link over ..data.
			v1 := filepath.Join(dir, "..v1")
			require.NoError(t, os.Mkdir(v1, 0o700))
			writePolicy(t, filepath.Join(v1, "policies.yaml"), keepErrorsOnly)
			require.NoError(t, os.Symlink("..v1", filepath.Join(dir, "..data")))
			require.NoError(t, os.Symlink(filepath.Join("..data", "policies.yaml"), filepath.Join(dir, "policies.yaml")))
			return filepath.Join(dir, "policies.yaml")
		}, edit: func(t *testing.T, path, body string) {
			dir := filepath.Dir(path)
			version, err := os.MkdirTemp(dir, "..v")
			require.NoError(t, err)
			writePolicy(t, filepath.Join(version, "policies.yaml"), body)
			tmpLink := filepath.Join(dir, "..data_tmp")
			require.NoError(t, os.Symlink(filepath.Base(version), tmpLink))
			require.NoError(t, os.Rename(tmpLink, filepath.Join(dir, "..data")))
		}},
	}
}

func TestReload(t *testing.T) {
	for _, tc := range reloadCases() {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.setup(t, t.TempDir())
			cfg := createDefaultConfig().(*Config)
			cfg.PolicyFile = path
			cfg.DecisionWait = time.Hour // buffered traces wait for shutdown
			cfg.DecisionWaitAfterRoot = time.Millisecond
			h := startHarness(t, cfg)
			p := &prober{h: h}

			// A buffered trace (no root: it waits an hour) that the first
			// policy would drop and the edited one keeps.
			h.send(spans(t, spanSpec{id: 500, attrs: map[string]any{semconv.TxTypeKey: semconv.TxTypeTransfer}}))
			require.False(t, p.keptNow(t), "transfers are dropped before the edit")

			tc.edit(t, path, keepTransfers)
			require.Eventually(t, func() bool { return p.keptNow(t) }, waitFor, time.Millisecond,
				"the edited policy comes into force without a restart")
			require.Equal(t, int64(1), h.counter("otelcol_processor_chainsampling_policy_reloads"))
			require.Equal(t, int64(2), h.gauge("otelcol_processor_chainsampling_policy_version"))

			// An invalid edit is refused with file, line and problem; the
			// previous policy stays in force and the failure is counted.
			tc.edit(t, path, strings.Replace(keepTransfers, "keep: 1\n  - name: default", "keep: 7\n  - name: default", 1))
			require.Eventually(t, func() bool {
				return h.counter("otelcol_processor_chainsampling_policy_reload_failures") == 1
			}, waitFor, time.Millisecond)
			refused := h.logs.FilterMessageSnippet("sampling policy refused").All()
			require.Len(t, refused, 1)
			require.Contains(t, refused[0].ContextMap()["error"], "policies.yaml:8:11: keep: must be a probability between 0 and 1, got 7")
			require.True(t, p.keptNow(t), "the previous policy is still in force")
			require.Equal(t, int64(2), h.gauge("otelcol_processor_chainsampling_policy_version"))
			require.Equal(t, int64(1), h.gauge("otelcol_processor_chainsampling_buffered_traces"), "the trace buffered before the edits is still there")

			h.shutdown()
			kept := h.kept()[traceID(500)]
			require.Len(t, kept, 1, "the trace buffered across both edits survived and got the new policy")
			require.Equal(t, "transfers", attr(kept[0], semconv.SamplingRuleKey))
		})
	}
}

func TestReloadResummarisesForNewKeys(t *testing.T) {
	// The first policy reads no attributes, so summaries hold none; the
	// edit matches on rpc.method, which must come from the held spans.
	h, path := newHarness(t, keepErrorsOnly, nil)
	h.send(spans(t, spanSpec{id: 600, attrs: map[string]any{semconv.RPCMethodKey: "chainotel.p2p.v1.Peer/Forward"}}))
	writePolicy(t, path, `
rules:
  - name: forwards
    match: {rpc_method: Forward}
    keep: 1
  - name: default
    keep: 0
`)
	require.Eventually(t, func() bool {
		return h.counter("otelcol_processor_chainsampling_policy_reloads") == 1
	}, waitFor, time.Millisecond)
	h.shutdown()
	require.Len(t, h.kept()[traceID(600)], 1)
	require.Equal(t, "forwards", attr(h.kept()[traceID(600)][0], semconv.SamplingRuleKey))
}
