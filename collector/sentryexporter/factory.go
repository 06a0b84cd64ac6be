package sentryexporter

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/chainotel/chainotel/collector/sentryexporter/internal/metadata"
)

// NewFactory returns the factory of the chainsentry exporter.
func NewFactory() exporter.Factory {
	return exporter.NewFactory(
		metadata.Type,
		createDefaultConfig,
		exporter.WithTraces(createTraces, metadata.TracesStability),
		exporter.WithLogs(createLogs, metadata.LogsStability),
	)
}

func createDefaultConfig() component.Config { return defaultConfig() }

func helperOptions(cfg *Config, e *sentryExporter) []exporterhelper.Option {
	return []exporterhelper.Option{
		// The gate in front of the helper copies what it queues.
		exporterhelper.WithCapabilities(consumer.Capabilities{MutatesData: false}),
		exporterhelper.WithTimeout(cfg.TimeoutConfig),
		exporterhelper.WithRetry(cfg.BackOffConfig),
		exporterhelper.WithQueue(cfg.QueueConfig),
		exporterhelper.WithShutdown(e.shutdown),
	}
}

func createTraces(ctx context.Context, set exporter.Settings, c component.Config) (exporter.Traces, error) {
	cfg := c.(*Config)
	e, err := newSentryExporter(set, cfg, time.Now)
	if err != nil {
		return nil, err
	}
	helper, err := exporterhelper.NewTraces(ctx, set, cfg, e.pushTraces, helperOptions(cfg, e)...)
	if err != nil {
		_ = e.shutdown(ctx)
		return nil, fmt.Errorf("%s: traces exporter: %w", metadata.Type, err)
	}
	return &tracesGate{Traces: helper, e: e}, nil
}

func createLogs(ctx context.Context, set exporter.Settings, c component.Config) (exporter.Logs, error) {
	cfg := c.(*Config)
	e, err := newSentryExporter(set, cfg, time.Now)
	if err != nil {
		return nil, err
	}
	helper, err := exporterhelper.NewLogs(ctx, set, cfg, e.pushLogs, helperOptions(cfg, e)...)
	if err != nil {
		_ = e.shutdown(ctx)
		return nil, fmt.Errorf("%s: logs exporter: %w", metadata.Type, err)
	}
	return &logsGate{Logs: helper, e: e}, nil
}
