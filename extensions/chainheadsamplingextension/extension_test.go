package chainheadsamplingextension

import (
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chainotel/chainotel/extensions/chainheadsamplingextension/internal/strategy"
)

const headPolicy = `head:
  keep: 0.5
  services:
    blockchain:
      keep: 0.25
      operations:
        - {span_name: consensus.propose, keep: 1}
rules:
  - {name: default, keep: 1}
`

func TestServesStrategies(t *testing.T) {
	h := startExtension(t, headPolicy)

	require.Equal(t, strategy.Response{
		StrategyType:          "PROBABILISTIC",
		ProbabilisticSampling: &strategy.Probabilistic{SamplingRate: 0.25},
		OperationSampling: &strategy.PerOperation{
			DefaultSamplingProbability: 0.25,
			PerOperationStrategies: []strategy.Operation{
				{Operation: "consensus.propose", ProbabilisticSampling: strategy.Probabilistic{SamplingRate: 1}},
			},
		},
	}, h.strategyOf(t, "blockchain"))
	require.Equal(t, strategy.Response{
		StrategyType:          "PROBABILISTIC",
		ProbabilisticSampling: &strategy.Probabilistic{SamplingRate: 0.5},
	}, h.strategyOf(t, "wallet"), "a service the file does not name gets head.keep")

	code, body := get(t, http.MethodGet, h.url)
	require.Equal(t, http.StatusBadRequest, code)
	require.Contains(t, body, "the service query parameter is required")
	code, _ = get(t, http.MethodPost, h.url+"?service=blockchain")
	require.Equal(t, http.StatusMethodNotAllowed, code)

	require.Equal(t, int64(4), h.counter(t, "requests"))
	require.Equal(t, int64(0), h.counter(t, "policy_reloads"), "nothing changed since start")
	require.Equal(t, 1, h.logs.FilterMessage("serving head sampling strategies").Len())
}

func TestWithoutHeadKeepsEverything(t *testing.T) {
	h := startExtension(t, "rules:\n  - {name: default, keep: 0.01}\n")
	require.Equal(t, strategy.Response{
		StrategyType:          "PROBABILISTIC",
		ProbabilisticSampling: &strategy.Probabilistic{SamplingRate: 1},
	}, h.strategyOf(t, "blockchain"), "no head section: keep everything, the tail rules decide")
}

func TestEditServedOnNextPoll(t *testing.T) {
	h := startExtension(t, headPolicy)
	require.Equal(t, 0.25, h.strategyOf(t, "blockchain").ProbabilisticSampling.SamplingRate)

	// No wait for the watch: the next request serves the edit.
	h.write(t, "head: {keep: 0.1}\nrules:\n  - {name: default, keep: 1}\n")
	got := h.strategyOf(t, "blockchain")
	require.Equal(t, 0.1, got.ProbabilisticSampling.SamplingRate)
	require.Nil(t, got.OperationSampling, "the edit dropped blockchain's operations")
	require.Equal(t, int64(1), h.counter(t, "policy_reloads"))
}

func TestBadEditKeepsPreviousStrategies(t *testing.T) {
	h := startExtension(t, headPolicy)

	h.write(t, "head:\n  keep: 1.5\nrules:\n  - {name: default, keep: 1}\n")
	for range 2 {
		require.Equal(t, 0.25, h.strategyOf(t, "blockchain").ProbabilisticSampling.SamplingRate, "previous strategies stay")
	}
	// The watch may also have seen the edit: either way it is refused,
	// logged and counted once.
	require.Equal(t, int64(1), h.counter(t, "policy_reload_failures"))
	refused := h.logs.FilterMessage("sampling policy refused; previous head strategies stay served").All()
	require.Len(t, refused, 1)
	require.Contains(t, refused[0].ContextMap()["error"], "sampling-policies.yaml:2:9: head.keep: must be a probability between 0 and 1, got 1.5")

	// A file that cannot be read is refused the same way.
	require.NoError(t, os.Remove(h.policy))
	require.Equal(t, 0.25, h.strategyOf(t, "blockchain").ProbabilisticSampling.SamplingRate)
	require.Equal(t, int64(2), h.counter(t, "policy_reload_failures"))

	// Fixed: served on the next poll.
	h.write(t, "head: {keep: 0.75}\nrules:\n  - {name: default, keep: 1}\n")
	require.Equal(t, 0.75, h.strategyOf(t, "blockchain").ProbabilisticSampling.SamplingRate)
	require.Equal(t, int64(1), h.counter(t, "policy_reloads"))
}

// The watch logs a refused edit without waiting for a poll.
func TestWatchLogsRefusedEditWithoutAPoll(t *testing.T) {
	h := startExtension(t, headPolicy)
	h.write(t, "head: {kep: 1}\nrules:\n  - {name: default, keep: 1}\n")
	require.Eventually(t, func() bool {
		return h.logs.FilterMessage("sampling policy refused; previous head strategies stay served").Len() == 1
	}, 10*time.Second, 5*time.Millisecond)
	require.Equal(t, int64(1), h.counter(t, "policy_reload_failures"))
}

func TestCreateRefusesInvalidPolicyFile(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.PolicyFile = writeTemp(t, "head: {keep: -1}\nrules:\n  - {name: default, keep: 1}\n")
	_, err := create(t.Context(), extensiontestSettings(), cfg)
	require.ErrorContains(t, err, "policy_file: ")
	require.ErrorContains(t, err, ":1:14: head.keep: must be a probability between 0 and 1, got -1")
}
