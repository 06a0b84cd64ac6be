package chainheadsamplingextension

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/contrib/samplers/jaegerremote"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// sampledOf returns how many of n root spans named op the sampler keeps.
// The trace ids come from a fixed seed, so the count is the same each run.
func sampledOf(s sdktrace.Sampler, op string, n int) int {
	rng := rand.New(rand.NewPCG(1, 2))
	kept := 0
	for range n {
		var id trace.TraceID
		binary.BigEndian.PutUint64(id[:8], rng.Uint64())
		binary.BigEndian.PutUint64(id[8:], rng.Uint64())
		r := s.ShouldSample(sdktrace.SamplingParameters{TraceID: id, Name: op, Kind: trace.SpanKindInternal})
		if r.Decision == sdktrace.RecordAndSample {
			kept++
		}
	}
	return kept
}

// OpenTelemetry's Jaeger remote sampler, the one the node uses, reads what
// the extension serves and follows an edit on its next poll.
func TestJaegerRemoteSamplerFollowsEdits(t *testing.T) {
	h := startExtension(t, headPolicy)
	// The sampler polls once when it starts and then every hour: the test
	// drives the polls itself with UpdateSampler, which fetches and applies
	// synchronously.
	s := jaegerremote.New("blockchain",
		jaegerremote.WithSamplingServerURL(h.url),
		jaegerremote.WithSamplingRefreshInterval(time.Hour),
		jaegerremote.WithInitialSampler(sdktrace.NeverSample()))
	t.Cleanup(s.Close)
	s.UpdateSampler()

	const n = 2000
	require.Equal(t, n, sampledOf(s, "consensus.propose", n), "an operation at keep 1")
	require.InDelta(t, n/4, sampledOf(s, "block.apply", n), n/20, "the service's keep 0.25")

	h.write(t, `head:
  services:
    blockchain:
      keep: 0.01
      operations:
        - {span_name: consensus.propose, keep: 0}
        - {http_route: /tx, keep: 1}
rules:
  - {name: default, keep: 1}
`)
	s.UpdateSampler() // the next poll
	require.Zero(t, sampledOf(s, "consensus.propose", n))
	require.Equal(t, n, sampledOf(s, "POST /tx", n), "http_route covers the server span name")
	require.InDelta(t, n/100, sampledOf(s, "block.apply", n), n/100)

	// A bad edit keeps what the sampler had.
	h.write(t, "head: {keep: many}\nrules:\n  - {name: default, keep: 1}\n")
	s.UpdateSampler()
	require.Equal(t, n, sampledOf(s, "POST /tx", n))

	// A head section without operations: the sampler goes back to one
	// probability for every operation.
	h.write(t, "head: {keep: 0}\nrules:\n  - {name: default, keep: 1}\n")
	s.UpdateSampler()
	require.Zero(t, sampledOf(s, "POST /tx", n))
}
