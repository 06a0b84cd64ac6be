package telemetry

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/chainotel/chainotel/internal/otlpsink"
	"github.com/chainotel/chainotel/internal/testproc"
	"github.com/chainotel/chainotel/semconv"
)

// counterValue reads one counter (or gauge) of a gathered family; label ""
// means the family's only series with that label value, or unlabelled.
func counterValue(t *testing.T, g prometheus.Gatherer, name, label, value string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			match := label == ""
			for _, lp := range m.GetLabel() {
				if lp.GetName() == label && lp.GetValue() == value {
					match = true
				}
			}
			if !match {
				continue
			}
			if m.GetCounter() != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	t.Fatalf("no series %s{%s=%q}", name, label, value)
	return 0
}

// accounting is where every span or log record went, by the self-metrics.
type accounting struct {
	queueFull, exportFailed, exported, queued float64
}

func spanAccounting(t *testing.T, g prometheus.Gatherer) accounting {
	return accounting{
		queueFull:    counterValue(t, g, metricDroppedSpans, "reason", reasonQueueFull),
		exportFailed: counterValue(t, g, metricDroppedSpans, "reason", reasonExportFailed),
		exported:     counterValue(t, g, metricExportedSpans, "", ""),
		queued:       counterValue(t, g, metricQueued, "signal", signalTraces),
	}
}

func logAccounting(t *testing.T, g prometheus.Gatherer) accounting {
	return accounting{
		queueFull:    counterValue(t, g, metricDroppedLogRecords, "reason", reasonQueueFull),
		exportFailed: counterValue(t, g, metricDroppedLogRecords, "reason", reasonExportFailed),
		exported:     counterValue(t, g, metricExportedLogs, "", ""),
		queued:       counterValue(t, g, metricQueued, "signal", signalLogs),
	}
}

// burst ends n spans and logs n records inside them from another goroutine
// and fails the test if that does not finish while the collector is stuck or
// gone: ending a span or logging must never wait for the exporter.
func burst(t *testing.T, tel *Telemetry, n int) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		tracer := tel.TracerProvider.Tracer("test")
		for i := range n {
			ctx, span := tracer.Start(context.Background(), semconv.SpanMempoolAdd)
			tel.Logger.InfoContext(ctx, "tx added", "i", i)
			span.End()
		}
	}()
	select {
	case <-done:
	case <-time.After(waitFor):
		t.Fatalf("ending %d spans blocked on a collector that does not answer", n)
	}
}

func TestDropsCountedWhenCollectorIsStuck(t *testing.T) {
	const (
		queue = 16
		n     = 1000
	)
	r := otlpsink.StartWith(t, otlpsink.Options{Held: true})
	reg := prometheus.NewRegistry()
	c := baseConfig(t)
	c.OTLPEndpoint = r.Addr()
	c.Registerer = reg
	c.QueueSize, c.BatchSize = queue, 4
	c.BatchTimeout = 10 * time.Millisecond
	c.ExportTimeout = time.Minute // the collector is stuck, not failing
	tel, err := Setup(context.Background(), c)
	require.NoError(t, err)
	shutdownAtCleanup(t, tel)

	burst(t, tel, n)

	// While the collector holds every export, at most `queue` of each signal
	// are held and all the others were dropped at once, and counted.
	for name, acc := range map[string]accounting{"spans": spanAccounting(t, reg), "logs": logAccounting(t, reg)} {
		require.GreaterOrEqual(t, acc.queueFull, float64(n-queue), name)
		require.LessOrEqual(t, acc.queued, float64(queue), name)
		require.Zero(t, acc.exported, name)
	}

	// Once the collector answers, what was held is delivered, and every one
	// of the n is accounted for exactly once.
	r.Release()
	for name, get := range map[string]func(*testing.T, prometheus.Gatherer) accounting{
		"spans": spanAccounting, "logs": logAccounting,
	} {
		require.Eventually(t, func() bool {
			a := get(t, reg)
			return a.queued == 0 && a.queueFull+a.exportFailed+a.exported == n
		}, waitFor, 10*time.Millisecond, "%s: not all accounted for: %+v", name, get(t, reg))
		require.Positive(t, get(t, reg).exported, name)
	}
	require.Eventually(t, func() bool { return len(r.Spans()) == int(spanAccounting(t, reg).exported) },
		waitFor, 10*time.Millisecond)
}

func TestDropsCountedWhenCollectorIsUnreachable(t *testing.T) {
	const n = 200
	port := testproc.FreePorts(t, 1)[0] // free, so nothing listens there
	reg := prometheus.NewRegistry()
	c := baseConfig(t)
	c.OTLPEndpoint = fmt.Sprintf("127.0.0.1:%d", port)
	c.Registerer = reg
	c.QueueSize = 8
	c.BatchTimeout = 10 * time.Millisecond
	c.ExportTimeout = 200 * time.Millisecond
	tel, err := Setup(context.Background(), c)
	require.NoError(t, err)

	burst(t, tel, n)

	// Nothing is exported; every span and record is counted as dropped,
	// either at the full queue or with its failed export.
	for name, get := range map[string]func(*testing.T, prometheus.Gatherer) accounting{
		"spans": spanAccounting, "logs": logAccounting,
	} {
		require.Eventually(t, func() bool {
			a := get(t, reg)
			return a.queueFull+a.exportFailed == n
		}, waitFor, 10*time.Millisecond, "%s: drops not all counted: %+v", name, get(t, reg))
		a := get(t, reg)
		require.Zero(t, a.exported, name)
		require.Positive(t, a.exportFailed, name)
	}
	require.Positive(t, counterValue(t, reg, metricExportFailures, "signal", signalTraces))
	require.Positive(t, counterValue(t, reg, metricExportFailures, "signal", signalLogs))

	// Shutdown is bounded by its context even with the collector gone.
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	_ = tel.Shutdown(ctx)
	require.NoError(t, ctx.Err(), "shutdown used up its whole deadline")
}
