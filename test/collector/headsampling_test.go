//go:build integration

package collector

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/contrib/samplers/jaegerremote"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/chainotel/chainotel/internal/collectorproc"
	"github.com/chainotel/chainotel/internal/testproc"
	"github.com/chainotel/chainotel/semconv"
)

// keeps reports whether s samples a root span named op (of a fixed trace).
func headKeeps(s sdktrace.Sampler, op string) bool {
	var id trace.TraceID
	binary.BigEndian.PutUint64(id[:8], 0x0123456789abcdef)
	binary.BigEndian.PutUint64(id[8:], 0xfedcba9876543210)
	r := s.ShouldSample(sdktrace.SamplingParameters{TraceID: id, Name: op, Kind: trace.SpanKindServer})
	return r.Decision == sdktrace.RecordAndSample
}

// errHeadNotYet makes testproc.WaitFor poll again.
var errHeadNotYet = errors.New("not yet")

func copyHeadPolicy(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", from))
	require.NoError(t, err)
	tmp := to + ".tmp"
	require.NoError(t, os.WriteFile(tmp, data, 0o600))
	require.NoError(t, os.Rename(tmp, to)) // as an editor saves
}

// The shipped configuration serves head strategies from the policy file, and
// the contrib jaegerremote sampler (the node's) follows an edit of the head:
// section within one poll; a bad edit keeps the previous strategies.
func TestHeadSamplingFollowsPolicyEdits(t *testing.T) {
	policy := filepath.Join(t.TempDir(), "sampling-policies.yaml")
	copyHeadPolicy(t, "head-policies.yaml", policy)
	col := collectorproc.Start(t, collectorproc.Options{
		ConfigFiles: collectorproc.Shipped(t),
		Env:         []string{"CHAINOTEL_POLICY_FILE=" + policy},
	})

	const poll = 200 * time.Millisecond
	s := jaegerremote.New(semconv.ServiceName,
		jaegerremote.WithSamplingServerURL(col.HeadSamplingURL),
		jaegerremote.WithSamplingRefreshInterval(poll),
		jaegerremote.WithInitialSampler(sdktrace.NeverSample()))
	t.Cleanup(s.Close)

	testproc.WaitFor(t, 10*time.Second, "the first strategy", func() error {
		if !headKeeps(s, semconv.SpanBlockApply) {
			return errHeadNotYet
		}
		return nil
	})
	require.False(t, headKeeps(s, "POST /tx"))

	copyHeadPolicy(t, "head-policies-edited.yaml", policy)
	start := time.Now()
	testproc.WaitFor(t, 10*time.Second, "the edited strategy", func() error {
		if !headKeeps(s, "POST /tx") || headKeeps(s, semconv.SpanBlockApply) {
			return errHeadNotYet
		}
		return nil
	})
	// One poll (at most two intervals after the edit), plus the time a loaded
	// machine takes to run it.
	require.Less(t, time.Since(start), 2*poll+2*time.Second, "followed within one poll")

	copyHeadPolicy(t, "head-policies-invalid.yaml", policy)
	testproc.WaitFor(t, 10*time.Second, "the refusal in the log", func() error {
		if log := col.Log(); !strings.Contains(log, "sampling policy refused; previous head strategies stay served") ||
			!strings.Contains(log, "head.keep: must be a probability") {
			return errHeadNotYet
		}
		return nil
	})
	// Several polls later the sampler still has the edited strategy.
	s.UpdateSampler()
	require.True(t, headKeeps(s, "POST /tx"))
	require.False(t, headKeeps(s, semconv.SpanBlockApply))
}
