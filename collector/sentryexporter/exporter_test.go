package sentryexporter

import (
	"context"
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/getsentry/sentry-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/chainotel/chainotel/collector/sentryexporter/internal/metadatatest"
	"github.com/chainotel/chainotel/internal/sentrytest"
	"github.com/chainotel/chainotel/semconv"
)

const waitEvents = 20 * time.Second

func TestSpanEventFields(t *testing.T) {
	srv := sentrytest.NewServer(t)
	exp := start(t, testConfig(srv))
	require.NoError(t, exp.traces.ConsumeTraces(context.Background(), errorSpans(1, semconv.SpanBlockApply, semconv.ErrorGoroutinePanic)))

	evs := srv.WaitForEvents(t, 1, waitEvents)
	require.Empty(t, srv.Problems())
	require.Len(t, evs, 1, "the non-error span must not become an event")
	ev := evs[0]

	assert.Len(t, string(ev.EventID), 32)
	assert.Equal(t, sdkName, ev.Envelope.SDK["name"])
	assert.Contains(t, ev.UserAgent, sdkName+"/")
	assert.Equal(t, sentry.LevelFatal, ev.Level, "a goroutine panic is fatal")
	assert.Equal(t, "0.3.0", ev.Release)
	assert.Equal(t, "dev", ev.Environment)
	assert.Equal(t, "node1", ev.ServerName)
	assert.Equal(t, "go", ev.Platform)
	assert.Equal(t, semconv.SpanBlockApply, ev.Transaction)
	assert.Equal(t, time.Date(2026, 11, 24, 18, 0, 0, 5e6, time.UTC), ev.Timestamp.UTC())
	assert.Equal(t, []string{semconv.ErrorGoroutinePanic, semconv.SpanBlockApply}, ev.Fingerprint)

	assert.Equal(t, map[string]string{
		semconv.ErrorTypeKey:   semconv.ErrorGoroutinePanic,
		semconv.ChainIDKey:     "chainotel-dev",
		semconv.BlockHeightKey: "100",
		semconv.HeadHeightKey:  "99",
		semconv.HeadHashKey:    "0xhead",
		semconv.StateRootKey:   "0xroot",
		semconv.NodeIDKey:      "node1",
		semconv.PeerIDKey:      "node2",
		semconv.ServiceNameKey: semconv.ServiceName,
	}, ev.Tags)

	trace := ev.Contexts["trace"]
	assert.Equal(t, traceID(1).String(), trace["trace_id"])
	assert.Equal(t, spanID(1).String(), trace["span_id"])
	assert.Equal(t, spanID(1000).String(), trace["parent_span_id"])
	assert.Equal(t, semconv.SpanBlockApply, trace["op"])
	otelAttrs := ev.Contexts["otel"]["attributes"].(map[string]any)
	assert.Equal(t, "not a tag", otelAttrs["internal.detail"], "attributes that are not tags ride in contexts.otel")

	require.Len(t, ev.Exception, 1)
	exc := ev.Exception[0]
	assert.Equal(t, "runtime.Error", exc.Type)
	assert.Equal(t, "index out of range [5] with length 3", exc.Value)
	require.NotNil(t, exc.Mechanism)
	require.NotNil(t, exc.Mechanism.Handled)
	assert.False(t, *exc.Mechanism.Handled, "a panic is unhandled")
	require.NotNil(t, exc.Stacktrace)
	// Oldest call first; only the panicking goroutine.
	assert.Equal(t, []sentry.Frame{
		{Function: "(*Raft).run", Module: "github.com/chainotel/chainotel/node/consensus", AbsPath: "/src/node/consensus/raft.go", Filename: "raft.go", Lineno: 301, InApp: true},
		{Function: "(*Applier).Apply", Module: "github.com/chainotel/chainotel/node/chain", AbsPath: "/src/node/chain/apply.go", Filename: "apply.go", Lineno: 120, InApp: true},
		{Function: "panic", Module: "", AbsPath: "/usr/local/go/src/runtime/panic.go", Filename: "panic.go", Lineno: 785, InApp: false},
		{Function: "(*Applier).Apply.func1", Module: "github.com/chainotel/chainotel/node/chain", AbsPath: "/src/node/chain/apply.go", Filename: "apply.go", Lineno: 88, InApp: true},
		{Function: "Stack", Module: "runtime/debug", AbsPath: "/usr/local/go/src/runtime/debug/stack.go", Filename: "stack.go", Lineno: 26, InApp: false},
	}, exc.Stacktrace.Frames)

	exp.stopTraces(t) // the push that sent it has returned
	metadatatest.AssertEqualExporterSentryEventsSent(t, exp.tt,
		[]metricdata.DataPoint[int64]{{Value: 1}}, metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars())
}

func TestLogEventFields(t *testing.T) {
	srv := sentrytest.NewServer(t)
	exp := start(t, testConfig(srv))
	require.NoError(t, exp.logs.ConsumeLogs(context.Background(), errorLogs(2)))

	evs := srv.WaitForEvents(t, 2, waitEvents)
	require.Empty(t, srv.Problems())
	require.Len(t, evs, 2, "the INFO log must not become an event")
	sort.Slice(evs, func(i, j int) bool { return evs[i].Message < evs[j].Message })
	ev := evs[0]
	assert.Equal(t, "peer node0 disconnected (0)", ev.Message)
	assert.Equal(t, sentry.LevelError, ev.Level)
	assert.Equal(t, "0.3.0", ev.Release)
	assert.Equal(t, "dev", ev.Environment)
	assert.Equal(t, "node2", ev.ServerName)
	assert.Equal(t, "p2p", ev.Logger)
	assert.Equal(t, []string{semconv.ErrorP2PDisconnect, "log:p2p"}, ev.Fingerprint)
	assert.Equal(t, semconv.ErrorP2PDisconnect, ev.Tags[semconv.ErrorTypeKey])
	assert.Equal(t, "node0", ev.Tags[semconv.PeerIDKey])
	assert.Equal(t, "77", ev.Tags[semconv.HeadHeightKey])
	assert.Equal(t, traceID(500).String(), ev.Contexts["trace"]["trace_id"])
	assert.Equal(t, spanID(500).String(), ev.Contexts["trace"]["span_id"])
	assert.NotEqual(t, evs[0].EventID, evs[1].EventID)
}

// eventsBySpan counts accepted events per span id and fails on any
// duplicate.
func eventsBySpan(t *testing.T, evs []sentrytest.Event) map[string]int {
	t.Helper()
	seen := map[string]int{}
	for _, ev := range evs {
		id, _ := ev.Contexts["trace"]["span_id"].(string)
		seen[id]++
		assert.Equalf(t, 1, seen[id], "span %s delivered more than once", id)
	}
	return seen
}

// TestSentryDownThenUp: Sentry accepts a few events, then is down (503) for
// a while, then up again. Every event must arrive exactly once: what was
// delivered before the outage is not resent with the rest of its batch.
// The queue batches the errors so the exporter gets them as one batch and
// the outage hits it midway.
func TestSentryDownThenUp(t *testing.T) {
	srv := sentrytest.NewServer(t)
	srv.Respond(func(n int) sentrytest.Response {
		if n >= 4 && n <= 12 {
			return sentrytest.Response{Status: http.StatusServiceUnavailable}
		}
		return sentrytest.Response{Status: http.StatusOK}
	})
	cfg := sequential(testConfig(srv))
	cfg.QueueConfig.Get().Batch = configoptional.Some(exporterhelper.BatchConfig{
		FlushTimeout: 100 * time.Millisecond, Sizer: exporterhelper.RequestSizerTypeItems, MinSize: 25, MaxSize: 25,
	})
	exp := start(t, cfg)
	const n = 25
	require.NoError(t, exp.traces.ConsumeTraces(context.Background(), errorSpans(n, semconv.SpanConsensusCommit, semconv.ErrorConsensusTimeout)))

	srv.WaitForEvents(t, n, waitEvents)
	// Shutting down drains the queue: anything sent twice has arrived.
	exp.stopTraces(t)
	evs := srv.Events()
	require.Empty(t, srv.Problems())
	require.Len(t, evs, n)
	seen := eventsBySpan(t, evs)
	for i := 1; i <= n; i++ {
		assert.Equalf(t, 1, seen[spanID(i).String()], "span %d", i)
	}
	assert.GreaterOrEqual(t, srv.Requests(), n+9, "the 503s were retried")
}

// TestRetryAfterHonoured: a 429 with Retry-After: 1 holds every send back
// for at least that second, then everything arrives once.
func TestRetryAfterHonoured(t *testing.T) {
	srv := sentrytest.NewServer(t)
	var mu sync.Mutex
	var limitedAt, nextAt time.Time
	srv.Respond(func(n int) sentrytest.Response {
		mu.Lock()
		defer mu.Unlock()
		switch n {
		case 1:
			limitedAt = time.Now()
			return sentrytest.Response{Status: http.StatusTooManyRequests, Header: http.Header{"Retry-After": {"1"}}}
		case 2:
			nextAt = time.Now()
		}
		return sentrytest.Response{Status: http.StatusOK}
	})
	exp := start(t, sequential(testConfig(srv)))
	require.NoError(t, exp.traces.ConsumeTraces(context.Background(), errorSpans(3, semconv.SpanBlockApply, semconv.ErrorStorage)))

	evs := srv.WaitForEvents(t, 3, waitEvents)
	exp.stopTraces(t)
	require.Len(t, srv.Events(), 3)
	eventsBySpan(t, evs)
	mu.Lock()
	defer mu.Unlock()
	// A lower bound on the wait (never an upper one): the exporter must
	// not come back before Sentry said it may.
	assert.GreaterOrEqual(t, nextAt.Sub(limitedAt), 950*time.Millisecond)
}

// TestSentryRateLimitsHeader: X-Sentry-Rate-Limits for the error category
// holds sends back just like Retry-After.
func TestSentryRateLimitsHeader(t *testing.T) {
	srv := sentrytest.NewServer(t)
	var mu sync.Mutex
	var limitedAt, nextAt time.Time
	srv.Respond(func(n int) sentrytest.Response {
		mu.Lock()
		defer mu.Unlock()
		switch n {
		case 1:
			limitedAt = time.Now()
			// Accepted, but no more errors for a second.
			return sentrytest.Response{Status: http.StatusOK, Header: http.Header{"X-Sentry-Rate-Limits": {"1:error;default:organization"}}}
		case 2:
			nextAt = time.Now()
		}
		return sentrytest.Response{Status: http.StatusOK}
	})
	exp := start(t, sequential(testConfig(srv)))
	require.NoError(t, exp.traces.ConsumeTraces(context.Background(), errorSpans(2, semconv.SpanBlockApply, semconv.ErrorStorage)))

	evs := srv.WaitForEvents(t, 2, waitEvents)
	exp.stopTraces(t)
	require.Len(t, srv.Events(), 2)
	eventsBySpan(t, evs)
	mu.Lock()
	defer mu.Unlock()
	assert.GreaterOrEqual(t, nextAt.Sub(limitedAt), 950*time.Millisecond)
}

// TestRejectedEventDropped: a 400 is final; the event is counted as failed
// and the rest of the batch still goes.
func TestRejectedEventDropped(t *testing.T) {
	srv := sentrytest.NewServer(t)
	srv.Respond(func(n int) sentrytest.Response {
		if n == 1 {
			return sentrytest.Response{Status: http.StatusBadRequest}
		}
		return sentrytest.Response{Status: http.StatusOK}
	})
	exp := start(t, sequential(testConfig(srv)))
	require.NoError(t, exp.traces.ConsumeTraces(context.Background(), errorSpans(3, semconv.SpanBlockApply, semconv.ErrorStorage)))
	srv.WaitForEvents(t, 2, waitEvents)
	exp.stopTraces(t)
	assert.Len(t, srv.Events(), 2)
	assert.Equal(t, 3, srv.Requests())
	metadatatest.AssertEqualExporterSentryEventsFailed(t, exp.tt,
		[]metricdata.DataPoint[int64]{{Value: 1, Attributes: attribute.NewSet(attribute.String("reason", "rejected"))}},
		metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars())
}

// TestBurstRateLimited: a burst of one error is cut to the bucket's size,
// and what was suppressed is reported on a later event of the same
// fingerprint, so sent + suppressed always adds up to what came in.
func TestBurstRateLimited(t *testing.T) {
	srv := sentrytest.NewServer(t)
	cfg := testConfig(srv)
	cfg.RateLimit.Burst = 3
	cfg.RateLimit.Interval = 600 * time.Millisecond // one token per 200ms
	exp := start(t, cfg)
	ctx := context.Background()

	const burst = 12
	require.NoError(t, exp.traces.ConsumeTraces(ctx, errorSpans(burst, semconv.SpanConsensusCommit, semconv.ErrorConsensusTimeout)))
	srv.WaitForEvents(t, 3, waitEvents)

	// Keep the error coming until an event reports the suppressed ones.
	in := burst
	require.Eventually(t, func() bool {
		require.NoError(t, exp.traces.ConsumeTraces(ctx, errorSpans(1, semconv.SpanConsensusCommit, semconv.ErrorConsensusTimeout)))
		in++
		for _, ev := range srv.Events() {
			if _, ok := ev.Contexts["rate_limit"]; ok {
				return true
			}
		}
		return false
	}, waitEvents, 20*time.Millisecond)
	exp.stopTraces(t)

	evs := srv.Events()
	require.Empty(t, srv.Problems())
	var reported int64
	for _, ev := range evs {
		if rl, ok := ev.Contexts["rate_limit"]; ok {
			reported += int64(rl["suppressed_events"].(float64))
		}
	}
	// Suppressed after the last event sent have not been reported yet: the
	// metric has them.
	got, err := exp.tt.GetMetric("otelcol_exporter_sentry_events_suppressed")
	require.NoError(t, err)
	suppressed := got.Data.(metricdata.Sum[int64]).DataPoints[0].Value
	assert.GreaterOrEqual(t, suppressed, int64(burst-3))
	assert.Equal(t, int64(in), int64(len(evs))+suppressed, "every error is either sent or counted as suppressed")
	assert.GreaterOrEqual(t, reported, int64(burst-3), "the burst's suppressed count rides on a later event")
	assert.LessOrEqual(t, reported, suppressed)
}

// TestQueueFullNotPropagated: when Sentry has been down long enough to
// fill the queue, further errors are dropped and counted, and the pipeline
// is not handed an error; everything queued still arrives once Sentry is up.
func TestQueueFullNotPropagated(t *testing.T) {
	srv := sentrytest.NewServer(t)
	srv.Respond(func(int) sentrytest.Response { return sentrytest.Response{Status: http.StatusServiceUnavailable} })
	cfg := sequential(testConfig(srv))
	cfg.QueueConfig.Get().QueueSize = 2
	exp := start(t, cfg)

	const n = 6
	require.NoError(t, exp.traces.ConsumeTraces(context.Background(), errorSpans(n, semconv.SpanBlockApply, semconv.ErrorStorage)),
		"a full Sentry queue must not fail the pipeline")
	got, err := exp.tt.GetMetric("otelcol_exporter_sentry_events_failed")
	require.NoError(t, err)
	dps := got.Data.(metricdata.Sum[int64]).DataPoints
	require.Len(t, dps, 1)
	reason, _ := dps[0].Attributes.Value("reason")
	assert.Equal(t, "queue_full", reason.AsString())
	dropped := int(dps[0].Value)
	require.Positive(t, dropped)

	srv.Respond(nil)
	srv.WaitForEvents(t, n-dropped, waitEvents)
	exp.stopTraces(t)
	assert.Len(t, srv.Events(), n-dropped, "every event the queue took arrives, once")
	eventsBySpan(t, srv.Events())
}
