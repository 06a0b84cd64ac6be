package telemetry

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"unicode"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/log/embedded"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// What changes while the node runs (SIGHUP reloads): the environment on
// every signal, and the baggage deny-list.
//
// The resource is built once per environment by newResource, the one
// description of the node. The SDK fixes a provider's resource when the
// provider is made, so:
//   - spans: liveSpans, in front of the span batcher, hands on the spans
//     that end after a change with the resource in force (reResourced);
//     until the first change it hands them on as they are;
//   - logs: liveLoggerProvider serves loggers that emit through the
//     sdklog.LoggerProvider in force; a change makes a new one with the
//     new resource and the same processor (gate, batch processor, exporter);
//   - chainotel_build_info: buildInfo reads its labels at each scrape.

// ValidateEnvironment checks a deployment.environment.name value: empty
// (no attribute), or text without control characters and without leading
// or trailing white space. The error says what is wrong, not the value.
func ValidateEnvironment(env string) error {
	if env != strings.TrimSpace(env) {
		return errors.New("leading or trailing white space")
	}
	if i := strings.IndexFunc(env, unicode.IsControl); i >= 0 {
		return fmt.Errorf("control character at byte %d", i)
	}
	return nil
}

// liveEnv is the environment in force and what carries it.
type liveEnv struct {
	mu    sync.Mutex // serialises changes
	cfg   Config     // what newResource builds from; Environment is the one in force
	start string     // the environment at Setup

	// Nil when the SDK is disabled.
	spanRes   *atomic.Pointer[resource.Resource] // nil: the provider's own (the start environment)
	logs      *liveLoggerProvider
	firstLogs *sdklog.LoggerProvider // the provider at Setup, whose processor every later one shares
	logProc   sdklog.Processor

	info *buildInfo
}

// Environment returns deployment.environment.name in force.
func (t *Telemetry) Environment() string {
	t.env.mu.Lock()
	defer t.env.mu.Unlock()
	return t.env.cfg.Environment
}

// SetEnvironment makes env the deployment.environment.name of the spans
// that end and the log records emitted from now on, and the environment
// label of chainotel_build_info. What was queued before keeps the value it
// was made with. OTEL_RESOURCE_ATTRIBUTES, when it sets the attribute,
// still wins on the resource, as at start. On error nothing changes.
func (t *Telemetry) SetEnvironment(ctx context.Context, env string) error {
	if err := ValidateEnvironment(env); err != nil {
		return fmt.Errorf("%w: environment %q: %w", errInvalidConfig, env, err)
	}
	e := &t.env
	e.mu.Lock()
	defer e.mu.Unlock()
	if env == e.cfg.Environment {
		return nil
	}
	next := e.cfg
	next.Environment = env
	if e.spanRes != nil {
		if env == e.start {
			e.spanRes.Store(nil)
			e.logs.cur.Store(e.firstLogs)
		} else {
			res, err := newResource(ctx, next)
			if err != nil {
				return err
			}
			e.spanRes.Store(res)
			e.logs.cur.Store(sdklog.NewLoggerProvider(sdklog.WithResource(res), sdklog.WithProcessor(e.logProc)))
		}
	}
	e.info.setEnvironment(env)
	e.cfg = next
	return nil
}

// SetBaggageDenyKeys puts denyKeys in force for the requests extracted from
// now on (nil: DefaultBaggageDenyKeys; empty: nothing is removed). A
// fragment that is empty once normalised is an error, and nothing changes.
func (t *Telemetry) SetBaggageDenyKeys(denyKeys []string) error {
	if err := validateBaggageDenyKeys(denyKeys); err != nil {
		return fmt.Errorf("%w: baggage deny keys: %w", errInvalidConfig, err)
	}
	t.baggage.set(denyKeys)
	return nil
}

// liveSpans hands ended spans on to next with the resource in force.
type liveSpans struct {
	next sdktrace.SpanProcessor
	res  *atomic.Pointer[resource.Resource]
}

var _ sdktrace.SpanProcessor = (*liveSpans)(nil)

func (p *liveSpans) OnStart(ctx context.Context, s sdktrace.ReadWriteSpan) { p.next.OnStart(ctx, s) }

func (p *liveSpans) OnEnd(s sdktrace.ReadOnlySpan) {
	// A span the node wrote itself began under the resource in force and
	// needs no wrapper (an allocation a span).
	if res := p.res.Load(); res != nil && s.Resource() != res {
		s = reResourced{ReadOnlySpan: s, res: res}
	}
	p.next.OnEnd(s)
}

func (p *liveSpans) Shutdown(ctx context.Context) error   { return p.next.Shutdown(ctx) }
func (p *liveSpans) ForceFlush(ctx context.Context) error { return p.next.ForceFlush(ctx) }

// reResourced is an ended span under another resource. Every span of one
// change shares res, so the encoder still groups them in one ResourceSpans.
type reResourced struct {
	sdktrace.ReadOnlySpan
	res *resource.Resource
}

func (s reResourced) Resource() *resource.Resource { return s.res }

// liveLoggerProvider serves loggers that emit through the provider in
// force.
type liveLoggerProvider struct {
	embedded.LoggerProvider
	cur atomic.Pointer[sdklog.LoggerProvider]
}

var _ log.LoggerProvider = (*liveLoggerProvider)(nil)

func newLiveLoggerProvider(lp *sdklog.LoggerProvider) *liveLoggerProvider {
	p := new(liveLoggerProvider)
	p.cur.Store(lp)
	return p
}

func (p *liveLoggerProvider) Logger(name string, opts ...log.LoggerOption) log.Logger {
	l := &liveLogger{p: p, name: name, opts: opts}
	l.get() // the provider warns about a bad name now, not at the first record
	return l
}

// liveLogger is one scope's logger; it asks the provider in force for its
// own logger after a change.
type liveLogger struct {
	embedded.Logger
	p      *liveLoggerProvider
	name   string
	opts   []log.LoggerOption
	cached atomic.Pointer[providerLogger]
}

type providerLogger struct {
	lp *sdklog.LoggerProvider
	l  log.Logger
}

var _ log.Logger = (*liveLogger)(nil)

func (l *liveLogger) get() log.Logger {
	lp := l.p.cur.Load()
	if c := l.cached.Load(); c != nil && c.lp == lp {
		return c.l
	}
	c := &providerLogger{lp: lp, l: lp.Logger(l.name, l.opts...)}
	l.cached.Store(c)
	return c.l
}

func (l *liveLogger) Emit(ctx context.Context, r log.Record) { l.get().Emit(ctx, r) }

func (l *liveLogger) Enabled(ctx context.Context, p log.EnabledParameters) bool {
	return l.get().Enabled(ctx, p)
}

// buildInfo is chainotel_build_info: 1, labelled with the build and the
// environment in force, read at each scrape so that a scrape sees exactly
// one series, before or after a change.
type buildInfo struct {
	desc  *prometheus.Desc
	build [3]string // version, revision, goversion
	env   atomic.Pointer[string]
}

var _ prometheus.Collector = (*buildInfo)(nil)

func newBuildInfo(c Config) *buildInfo {
	b := &buildInfo{
		desc: prometheus.NewDesc(metricBuildInfo,
			"1, labelled with the node's release, VCS revision, Go version and deployment environment.",
			[]string{"version", "revision", "goversion", "environment"}, nil),
		build: [3]string{c.ServiceVersion, c.Revision, c.GoVersion},
	}
	b.setEnvironment(c.Environment)
	return b
}

func (b *buildInfo) setEnvironment(env string) { b.env.Store(&env) }

func (b *buildInfo) Describe(ch chan<- *prometheus.Desc) { ch <- b.desc }

func (b *buildInfo) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(b.desc, prometheus.GaugeValue, 1, b.build[0], b.build[1], b.build[2], *b.env.Load())
}
