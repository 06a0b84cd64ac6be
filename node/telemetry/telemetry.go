package telemetry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploggrpc"
	"go.opentelemetry.io/otel/log"
	lognoop "go.opentelemetry.io/otel/log/noop"
	"go.opentelemetry.io/otel/propagation"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
	"golang.org/x/time/rate"

	"github.com/chainotel/chainotel/node/telemetry/internal/otlpexport"
)

// tracerScope is the instrumentation scope of the spans this package makes
// itself (recovered panics).
const tracerScope = "github.com/chainotel/chainotel/node/telemetry"

// errorLogInterval spaces out the log lines about failed exports: while the
// collector is down every batch fails, and the counters say how many.
const errorLogInterval = 10 * time.Second

// Telemetry is what the node plugs into its seams. Build it with Setup and
// call Shutdown before the process ends. Its fields are safe for concurrent
// use.
type Telemetry struct {
	// TracerProvider exports every span over OTLP; a no-op provider when
	// OTEL_SDK_DISABLED=true. Sampling is always on unless
	// OTEL_TRACES_SAMPLER says otherwise (sampler.go): by default the
	// collector's tail sampler decides.
	TracerProvider trace.TracerProvider
	// Propagator is OTEL_PROPAGATORS' propagator with the baggage filter.
	Propagator propagation.TextMapPropagator
	// Logger writes JSON to the log file and stderr and, unless disabled,
	// OTLP log records; records inside a span carry its trace and span ids.
	Logger *slog.Logger
	// Levels is Logger's level, by default and per component, changeable
	// while running (PUT /loglevel and SIGHUP reloads).
	Levels *Levels
	// Enabled is false when OTEL_SDK_DISABLED=true.
	Enabled bool
	// Endpoint says where telemetry is sent, for the startup log.
	Endpoint string

	// loggerProvider exports log records over OTLP; no-op when disabled.
	loggerProvider log.LoggerProvider
	// logLevel is the level of Logger.
	logLevel *slog.LevelVar
	// res describes the node as it started (nil when disabled); env holds
	// the environment in force and what carries it (live.go).
	res *resource.Resource
	env liveEnv
	// baggage is Propagator: its deny-list changes with SetBaggageDenyKeys.
	baggage *baggageFilter

	local       *slog.Logger // JSON only: never feeds back into OTLP
	tracer      trace.Tracer
	tp          *sdktrace.TracerProvider
	lp          *sdklog.LoggerProvider
	logFile     io.Closer
	metrics     *metricSet
	reg         prometheus.Registerer
	exit        func(int)
	panicFlush  time.Duration
	exitOnce    sync.Once
	stopOnce    sync.Once
	stopErr     error
	errorLogger rate.Sometimes
}

// Setup builds the node's telemetry from c and the standard OTEL_*
// environment variables. It does not connect to the collector: exports start
// in the background and failures are counted, never returned here. On error
// nothing is left open or registered.
func Setup(ctx context.Context, c Config) (*Telemetry, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	lvl, _ := parseLevel(c.LogLevel) // validated above
	disabled, err := sdkDisabled()
	if err != nil {
		return nil, err
	}
	prop, err := newPropagator(c.BaggageDenyKeys)
	if err != nil {
		return nil, err
	}

	t := &Telemetry{
		Propagator:  prop,
		baggage:     prop,
		logLevel:    new(slog.LevelVar),
		Enabled:     !disabled,
		reg:         c.Registerer,
		exit:        c.Exit,
		panicFlush:  c.PanicFlushTimeout,
		errorLogger: rate.Sometimes{First: 1, Interval: errorLogInterval},
	}
	if t.panicFlush == 0 {
		t.panicFlush = defaultPanicFlushTimeout
	}
	t.logLevel.Set(lvl)
	t.Levels = newLevels(t.logLevel)

	local, closer, err := openLocalLog(c, t.Levels)
	if err != nil {
		return nil, err
	}
	t.logFile = closer
	t.local = slog.New(&componentHandler{next: local, levels: t.Levels}).With(ComponentKey, "telemetry")

	spanSlots, logSlots := new(otlpexport.Slots), new(otlpexport.Slots)
	t.metrics = newMetricSet(c, spanSlots, logSlots)
	t.env.cfg, t.env.start, t.env.info = c, c.Environment, t.metrics.info
	if err := t.metrics.register(c.Registerer); err != nil {
		_ = t.closeLog() // the registration error is the one worth returning
		return nil, err
	}

	if disabled {
		// Spans still carry incoming trace context through (the no-op
		// tracer returns the parent), so local log lines keep their ids.
		t.TracerProvider = tracenoop.NewTracerProvider()
		t.loggerProvider = lognoop.NewLoggerProvider()
		t.Endpoint = "none (" + envSDKDisabled + "=true)"
		t.Logger = newLogger(local, nil, t.Levels)
	} else {
		if err := t.buildProviders(ctx, c, spanSlots, logSlots); err != nil {
			t.metrics.unregister(c.Registerer)
			_ = t.closeLog() // the build error is the one worth returning
			return nil, err
		}
		t.Logger = newLogger(local, t.loggerProvider, t.Levels)
	}
	t.Logger = slog.New(&componentHandler{next: t.Logger.Handler(), levels: t.Levels})
	t.tracer = t.TracerProvider.Tracer(tracerScope)
	return t, nil
}

// buildProviders makes the exporting TracerProvider and LoggerProvider.
func (t *Telemetry) buildProviders(ctx context.Context, c Config, spanSlots, logSlots *otlpexport.Slots) error {
	res, err := newResource(ctx, c)
	if err != nil {
		return err
	}
	spanBatch, err := c.batch(spanBatchEnv())
	if err != nil {
		return err
	}
	logBatch, err := c.batch(logBatchEnv())
	if err != nil {
		return err
	}
	tgt, err := c.resolveTarget()
	if err != nil {
		return err
	}
	spanSlots.Limit, logSlots.Limit = int64(spanBatch.QueueSize), int64(logBatch.QueueSize)

	spanExp := c.SpanExporter
	if spanExp == nil {
		if spanExp, err = otlpexport.NewSpanExporter(c.exportTarget(tgt)); err != nil {
			return fmt.Errorf("otlp trace exporter (%s): %w", tgt.describe, err)
		}
	}
	logExp := c.LogExporter
	if logExp == nil {
		if logExp, err = otlploggrpc.New(ctx, c.logOptions(tgt)...); err != nil {
			return errors.Join(fmt.Errorf("otlp log exporter (%s): %w", tgt.describe, err), spanExp.Shutdown(ctx))
		}
	}

	// OTEL_TRACES_SAMPLER (sampler.go); always on unless set.
	sampler, sampling, err := samplerOptions(res)
	if err != nil {
		return errors.Join(err, spanExp.Shutdown(ctx), logExp.Shutdown(ctx))
	}
	spanRes := new(atomic.Pointer[resource.Resource])
	// Every span passes liveSpans, the SDK's and those the node writes
	// itself (StartSpanAt), so both carry the environment in force.
	spans := &liveSpans{
		next: otlpexport.NewSpanBatcher(spanExp, spanBatch, spanSlots, t.metrics.spans),
		res:  spanRes,
	}
	t.tp = sdktrace.NewTracerProvider(append([]sdktrace.TracerProviderOption{
		sdktrace.WithResource(res),
		sdktrace.WithSpanProcessor(spans),
	}, sampling...)...)
	logProc := otlpexport.NewLogPipeline(logExp, logBatch, logSlots, t.metrics.logs)
	t.lp = sdklog.NewLoggerProvider(sdklog.WithResource(res), sdklog.WithProcessor(logProc))
	t.env.spanRes, t.env.firstLogs, t.env.logProc = spanRes, t.lp, logProc
	t.env.logs = newLiveLoggerProvider(t.lp)
	t.TracerProvider = nodeProvider{TracerProvider: t.tp, w: newSpanWriter(sampler, res, spans)}
	t.loggerProvider, t.res = t.env.logs, res
	t.Endpoint = tgt.describe
	if c.SpanExporter != nil {
		t.Endpoint = "in-process exporter"
	}
	return nil
}

// SetGlobals installs the providers and propagator as OpenTelemetry's
// globals, for instrumentation that is not handed them explicitly, and routes
// the SDK's internal errors (failed exports) to the local JSON log, at most
// one line per errorLogInterval. main calls it once.
func (t *Telemetry) SetGlobals() {
	otel.SetTracerProvider(t.TracerProvider)
	otel.SetTextMapPropagator(t.Propagator)
	otel.SetLoggerProvider(t.loggerProvider)
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		t.errorLogger.Do(func() {
			t.local.Warn("telemetry export error (more are counted, not logged: see chainotel_telemetry_* metrics)",
				"error", err, "endpoint", t.Endpoint)
		})
	}))
}

// forceFlush exports what is queued now, within ctx's deadline.
func (t *Telemetry) forceFlush(ctx context.Context) error {
	if t.tp == nil {
		return nil
	}
	return errors.Join(t.tp.ForceFlush(ctx), t.lp.ForceFlush(ctx))
}

// Shutdown flushes and stops the providers within ctx's deadline, removes
// the self-metrics from the registerer and closes the log file. Calls after
// the first return the first call's result.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	t.stopOnce.Do(func() {
		var errs []error
		if t.tp != nil {
			if err := t.tp.Shutdown(ctx); err != nil {
				errs = append(errs, fmt.Errorf("shutdown tracer provider: %w", err))
			}
			if err := t.lp.Shutdown(ctx); err != nil {
				errs = append(errs, fmt.Errorf("shutdown logger provider: %w", err))
			}
		}
		t.metrics.unregister(t.reg)
		if err := t.closeLog(); err != nil {
			errs = append(errs, err)
		}
		t.stopErr = errors.Join(errs...)
	})
	return t.stopErr
}

func (t *Telemetry) closeLog() error {
	if t.logFile == nil {
		return nil
	}
	if err := t.logFile.Close(); err != nil {
		return fmt.Errorf("close log file: %w", err)
	}
	return nil
}
