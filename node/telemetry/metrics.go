package telemetry

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chainotel/chainotel/node/telemetry/internal/otlpexport"
)

// Self-metric names, exposed on the node's /metrics.
const (
	MetricDroppedSpans      = "chainotel_telemetry_dropped_spans_total"
	MetricDroppedLogRecords = "chainotel_telemetry_dropped_log_records_total"
	MetricExportedSpans     = "chainotel_telemetry_exported_spans_total"
	MetricExportedLogs      = "chainotel_telemetry_exported_log_records_total"
	MetricExportFailures    = "chainotel_telemetry_export_failures_total"
	MetricQueued            = "chainotel_telemetry_queued"
)

// Label values of the self-metrics.
const (
	// ReasonQueueFull: the bounded queue was full when the span or record
	// ended, so it was dropped there rather than block the caller.
	ReasonQueueFull = "queue_full"
	// ReasonExportFailed: the export that carried it failed after the OTLP
	// exporter's own retries (collector down, refusing, or too slow); the
	// batch processor then moves on to the next batch.
	ReasonExportFailed = "export_failed"

	SignalTraces = "traces"
	SignalLogs   = "logs"
)

// metricSet holds both signals' self-metrics and their collectors.
type metricSet struct {
	spans, logs otlpexport.Counters
	collectors  []prometheus.Collector
}

// newMetricSet builds the self-metrics. spansQueued and logsQueued hold what
// is held in each pipeline, read at scrape time.
func newMetricSet(spansQueued, logsQueued *otlpexport.Slots) *metricSet {
	droppedSpans := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: MetricDroppedSpans,
		Help: "Spans the node dropped instead of exporting, by reason (queue_full, export_failed).",
	}, []string{"reason"})
	droppedLogs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: MetricDroppedLogRecords,
		Help: "Log records the node dropped instead of exporting over OTLP, by reason (queue_full, export_failed).",
	}, []string{"reason"})
	exportedSpans := prometheus.NewCounter(prometheus.CounterOpts{
		Name: MetricExportedSpans,
		Help: "Spans the collector accepted.",
	})
	exportedLogs := prometheus.NewCounter(prometheus.CounterOpts{
		Name: MetricExportedLogs,
		Help: "Log records the collector accepted.",
	})
	failures := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: MetricExportFailures,
		Help: "Failed OTLP export calls, by signal (traces, logs).",
	}, []string{"signal"})
	queued := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name:        MetricQueued,
		Help:        "Spans or log records held by the node waiting for export, by signal.",
		ConstLabels: prometheus.Labels{"signal": SignalTraces},
	}, func() float64 { return float64(spansQueued.Held()) })
	queuedLogs := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name:        MetricQueued,
		Help:        "Spans or log records held by the node waiting for export, by signal.",
		ConstLabels: prometheus.Labels{"signal": SignalLogs},
	}, func() float64 { return float64(logsQueued.Held()) })

	return &metricSet{
		spans: otlpexport.Counters{
			DroppedFull:   droppedSpans.WithLabelValues(ReasonQueueFull),
			DroppedExport: droppedSpans.WithLabelValues(ReasonExportFailed),
			Exported:      exportedSpans,
			Failures:      failures.WithLabelValues(SignalTraces),
		},
		logs: otlpexport.Counters{
			DroppedFull:   droppedLogs.WithLabelValues(ReasonQueueFull),
			DroppedExport: droppedLogs.WithLabelValues(ReasonExportFailed),
			Exported:      exportedLogs,
			Failures:      failures.WithLabelValues(SignalLogs),
		},
		collectors: []prometheus.Collector{droppedSpans, droppedLogs, exportedSpans, exportedLogs, failures, queued, queuedLogs},
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
