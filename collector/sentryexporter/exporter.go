package sentryexporter

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/getsentry/sentry-go"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/chainotel/chainotel/collector/sentryexporter/internal/event"
	"github.com/chainotel/chainotel/collector/sentryexporter/internal/limiter"
	"github.com/chainotel/chainotel/collector/sentryexporter/internal/metadata"
	"github.com/chainotel/chainotel/collector/sentryexporter/internal/transport"
)

// sdkName names this exporter to Sentry (envelope header and User-Agent).
const sdkName = "chainotel.sentryexporter"

// sentryExporter sends events one per request, in order, and on the first
// retryable failure hands back to the exporter helper only what was not
// delivered, so a retry never sends an event twice.
type sentryExporter struct {
	logger    *zap.Logger
	conv      *event.Converter
	sender    *transport.Sender
	limiter   *limiter.Limiter // nil: no rate limit
	telemetry *metadata.TelemetryBuilder
}

func newSentryExporter(set exporter.Settings, cfg *Config, now func() time.Time) (*sentryExporter, error) {
	// Validate ran already, but SENTRY_DSN may have changed since: check
	// again where it is used.
	sender, err := transport.New(cfg.dsn(), nil, cfg.Timeout)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", metadata.Type, err)
	}
	var lim *limiter.Limiter
	if cfg.RateLimit.Burst > 0 {
		lim, err = limiter.New(cfg.RateLimit.Burst, cfg.RateLimit.Interval, cfg.RateLimit.MaxFingerprints, now)
		if err != nil {
			return nil, fmt.Errorf("%s: rate_limit: %w", metadata.Type, err)
		}
	}
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, fmt.Errorf("%s: telemetry: %w", metadata.Type, err)
	}
	return &sentryExporter{
		logger:    set.Logger,
		conv:      event.NewConverter(cfg.Tags, sdkName, version()),
		sender:    sender,
		limiter:   lim,
		telemetry: tb,
	}, nil
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "devel"
}

func (e *sentryExporter) shutdown(context.Context) error {
	e.telemetry.Shutdown()
	return nil
}

// allow applies the per-fingerprint rate limit; the suppressed count it
// carries is returned for the event let through.
func (e *sentryExporter) allow(ctx context.Context, fp []string) (bool, int64) {
	if e.limiter == nil {
		return true, 0
	}
	ok, carried := e.limiter.Allow(fp)
	if !ok {
		e.telemetry.ExporterSentryEventsSuppressed.Add(ctx, 1)
	}
	return ok, carried
}

// deliver sends evs in order. It returns the index of the first event not
// delivered and the retryable error that stopped it, or len(evs) and nil.
// Events Sentry rejects for good are counted and skipped.
func (e *sentryExporter) deliver(ctx context.Context, evs []*sentry.Event) (int, error) {
	for i, ev := range evs {
		err := e.sender.Send(ctx, ev)
		switch {
		case err == nil:
			e.telemetry.ExporterSentryEventsSent.Add(ctx, 1)
		case consumererror.IsPermanent(err):
			e.telemetry.ExporterSentryEventsFailed.Add(ctx, 1,
				metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", reason(err)))))
			e.logger.Warn("Sentry rejected an event; dropping it", zap.Error(err))
		default:
			e.telemetry.ExporterSentrySendRetries.Add(ctx, 1)
			return i, err
		}
	}
	return len(evs), nil
}

// queued handles the outcome of queueing one event. A full queue (Sentry
// has been down long enough to fill it) is counted and logged, not returned:
// the error would travel back up the shared pipeline and make the senders
// retry whole batches that the other exporters already took, slowing the
// trace pipeline for the sake of Sentry.
func (e *sentryExporter) queued(ctx context.Context, err error) error {
	if err == nil || !errors.Is(err, exporterhelper.ErrQueueIsFull) {
		return err
	}
	e.telemetry.ExporterSentryEventsFailed.Add(ctx, 1,
		metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", reasonQueueFull))))
	e.logger.Warn("Sentry sending queue is full; dropping an error event", zap.Error(err))
	return nil
}

// Reasons of exporter_sentry_events_failed.
const (
	reasonRejected  = "rejected"
	reasonQueueFull = "queue_full"
	reasonEncode    = "encode"
)

func reason(err error) string {
	if errors.Is(err, transport.ErrRejected) {
		return reasonRejected
	}
	return reasonEncode
}
