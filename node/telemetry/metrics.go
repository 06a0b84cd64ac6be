package telemetry

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chainotel/chainotel/node/telemetry/internal/otlpexport"
)

// Self-metric names, exposed on the node's /metrics.
const (
	metricDroppedSpans      = "chainotel_telemetry_dropped_spans_total"
	metricDroppedLogRecords = "chainotel_telemetry_dropped_log_records_total"
	metricExportedSpans     = "chainotel_telemetry_exported_spans_total"
	metricExportedLogs      = "chainotel_telemetry_exported_log_records_total"
	metricExportFailures    = "chainotel_telemetry_export_failures_total"
	metricQueued            = "chainotel_telemetry_queued"
	metricBuildInfo         = "chainotel_build_info"
)

// Label values of the self-metrics.
const (
	// reasonQueueFull: the bounded queue was full when the span or record
	// ended, so it was dropped there rather than block the caller.
	reasonQueueFull = "queue_full"
	// reasonExportFailed: the export that carried it failed after the OTLP
	// exporter's own retries (collector down, refusing, or too slow); the
	// batch processor then moves on to the next batch.
	reasonExportFailed = "export_failed"
	// reasonShutdown: it ended after the telemetry shut down (a goroutine
	// still running while the node exits), so nothing was left to export it.
	reasonShutdown = "shutdown"

	signalTraces = "traces"
	signalLogs   = "logs"
)

// metricSet holds both signals' self-metrics and their collectors.
type metricSet struct {
	spans, logs otlpexport.Counters
	info        *buildInfo // its environment label changes with SetEnvironment
	collectors  []prometheus.Collector
}

// newMetricSet builds the self-metrics and chainotel_build_info from c.
// spansQueued and logsQueued hold what is held in each pipeline, read at
// scrape time.
func newMetricSet(c Config, spansQueued, logsQueued *otlpexport.Slots) *metricSet {
	droppedSpans := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: metricDroppedSpans,
		Help: "Spans the node dropped instead of exporting, by reason (queue_full, export_failed, shutdown).",
	}, []string{"reason"})
	droppedLogs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: metricDroppedLogRecords,
		Help: "Log records the node dropped instead of exporting over OTLP, by reason (queue_full, export_failed, shutdown).",
	}, []string{"reason"})
	exportedSpans := prometheus.NewCounter(prometheus.CounterOpts{
		Name: metricExportedSpans,
		Help: "Spans the collector accepted.",
	})
	exportedLogs := prometheus.NewCounter(prometheus.CounterOpts{
		Name: metricExportedLogs,
		Help: "Log records the collector accepted.",
	})
	failures := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: metricExportFailures,
		Help: "Failed OTLP export calls, by signal (traces, logs).",
	}, []string{"signal"})
	queued := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name:        metricQueued,
		Help:        "Spans or log records held by the node waiting for export, by signal.",
		ConstLabels: prometheus.Labels{"signal": signalTraces},
	}, func() float64 { return float64(spansQueued.Held()) })
	queuedLogs := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name:        metricQueued,
		Help:        "Spans or log records held by the node waiting for export, by signal.",
		ConstLabels: prometheus.Labels{"signal": signalLogs},
	}, func() float64 { return float64(logsQueued.Held()) })
	// Always 1: the labels are the information, joined onto other series
	// with `* on(instance) group_left(version) chainotel_build_info`.
	info := newBuildInfo(c)

	return &metricSet{
		spans: otlpexport.Counters{
			DroppedFull:     droppedSpans.WithLabelValues(reasonQueueFull),
			DroppedExport:   droppedSpans.WithLabelValues(reasonExportFailed),
			DroppedShutdown: droppedSpans.WithLabelValues(reasonShutdown),
			Exported:        exportedSpans,
			Failures:        failures.WithLabelValues(signalTraces),
		},
		logs: otlpexport.Counters{
			DroppedFull:     droppedLogs.WithLabelValues(reasonQueueFull),
			DroppedExport:   droppedLogs.WithLabelValues(reasonExportFailed),
			DroppedShutdown: droppedLogs.WithLabelValues(reasonShutdown),
			Exported:        exportedLogs,
			Failures:        failures.WithLabelValues(signalLogs),
		},
		info:       info,
		collectors: []prometheus.Collector{droppedSpans, droppedLogs, exportedSpans, exportedLogs, failures, queued, queuedLogs, info},
	}
}

// register adds the self-metrics to reg; on failure none stays registered.
func (m *metricSet) register(reg prometheus.Registerer) error {
	if reg == nil {
		return nil
	}
	for i, c := range m.collectors {
		if err := reg.Register(c); err != nil {
			for _, done := range m.collectors[:i] {
				reg.Unregister(done)
			}
			var already prometheus.AlreadyRegisteredError
			if errors.As(err, &already) {
				return fmt.Errorf("register telemetry metrics: already registered (one Setup per registry): %w", err)
			}
			return fmt.Errorf("register telemetry metrics: %w", err)
		}
	}
	return nil
}

// unregister removes the self-metrics from reg, so that a later Setup on the
// same registry works (tests, restarts within one process).
func (m *metricSet) unregister(reg prometheus.Registerer) {
	if reg == nil {
		return
	}
	for _, c := range m.collectors {
		reg.Unregister(c)
	}
}
