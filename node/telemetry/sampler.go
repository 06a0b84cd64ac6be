package telemetry

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/contrib/samplers/jaegerremote"

	"github.com/chainotel/chainotel/node/telemetry/internal/otlpexport"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/chainotel/chainotel/semconv"
)

// The sampler's standard environment variables and the values read here.
const (
	envTracesSampler    = "OTEL_TRACES_SAMPLER"
	envTracesSamplerArg = "OTEL_TRACES_SAMPLER_ARG"

	samplerAlwaysOn                = "always_on"
	samplerAlwaysOff               = "always_off"
	samplerTraceIDRatio            = "traceidratio"
	samplerParentAlwaysOn          = "parentbased_always_on"
	samplerParentAlwaysOff         = "parentbased_always_off"
	samplerParentTraceIDRatio      = "parentbased_traceidratio"
	samplerJaegerRemote            = "jaeger_remote"
	samplerParentJaegerRemote      = "parentbased_jaeger_remote"
	jaegerArgEndpoint              = "endpoint"
	jaegerArgPollingIntervalMs     = "pollingIntervalMs"
	jaegerArgInitialSamplingRate   = "initialSamplingRate"
	samplerValues                  = "always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off, parentbased_traceidratio, jaeger_remote, parentbased_jaeger_remote"
	defaultJaegerRemoteInitialRate = 0.001
)

// Defaults of jaeger_remote's OTEL_TRACES_SAMPLER_ARG keys: the collector's
// chainheadsampling extension on this host, the contrib sampler's polling
// interval, and the specification's initial rate (used until the first
// strategy arrives).
const (
	DefaultJaegerRemoteEndpoint        = "http://localhost:5778/sampling"
	DefaultJaegerRemotePollingInterval = time.Minute
)

// samplerOptions returns the tracer provider options for the sampler
// OTEL_TRACES_SAMPLER names (always_on when unset: every span goes to the
// collector, whose tail sampler decides). jaeger_remote follows the strategies the collector serves from the
// head: section of its policy file; it is parent-based, so a trace started
// elsewhere keeps its parent's decision and stays whole across nodes. Its
// polling stops when the tracer provider shuts down.
// It also returns the sampler, which the node's tracers call for the spans
// they write themselves (finished.go).
func samplerOptions(res *resource.Resource) (sdktrace.Sampler, []sdktrace.TracerProviderOption, error) {
	name := strings.ToLower(strings.TrimSpace(os.Getenv(envTracesSampler)))
	arg := strings.TrimSpace(os.Getenv(envTracesSamplerArg))
	one := func(s sdktrace.Sampler) (sdktrace.Sampler, []sdktrace.TracerProviderOption, error) {
		return s, []sdktrace.TracerProviderOption{sdktrace.WithSampler(s)}, nil
	}
	switch name {
	case "", samplerAlwaysOn:
		return one(sdktrace.AlwaysSample())
	case samplerAlwaysOff:
		return one(sdktrace.NeverSample())
	case samplerParentAlwaysOn:
		return one(sdktrace.ParentBased(sdktrace.AlwaysSample()))
	case samplerParentAlwaysOff:
		return one(sdktrace.ParentBased(sdktrace.NeverSample()))
	case samplerTraceIDRatio, samplerParentTraceIDRatio:
		ratio, err := ratioArg(arg)
		if err != nil {
			return nil, nil, err
		}
		s := sdktrace.TraceIDRatioBased(ratio)
		if name == samplerParentTraceIDRatio {
			s = sdktrace.ParentBased(s)
		}
		return one(s)
	case samplerJaegerRemote, samplerParentJaegerRemote:
		jc, err := parseJaegerRemoteArg(arg)
		if err != nil {
			return nil, nil, err
		}
		service := semconv.ServiceName
		if v, ok := res.Set().Value(semconv.ServiceNameKey); ok && v.AsString() != "" {
			service = v.AsString()
		}
		remote := jaegerremote.New(service,
			jaegerremote.WithSamplingServerURL(jc.endpoint),
			jaegerremote.WithSamplingRefreshInterval(jc.interval),
			jaegerremote.WithInitialSampler(sdktrace.TraceIDRatioBased(jc.initialRate)))
		s := sdktrace.ParentBased(remote)
		return s, []sdktrace.TracerProviderOption{
			sdktrace.WithSampler(s),
			sdktrace.WithSpanProcessor(closeOnShutdown{remote}),
		}, nil
	}
	return nil, nil, fmt.Errorf("%w: %s: want one of %s, got %q", otlpexport.ErrInvalidEnv, envTracesSampler, samplerValues, name)
}

// ratioArg reads traceidratio's argument: a probability, 1 when unset.
func ratioArg(arg string) (float64, error) {
	if arg == "" {
		return 1, nil
	}
	f, err := strconv.ParseFloat(arg, 64)
	if err != nil || f < 0 || f > 1 {
		return 0, fmt.Errorf("%w: %s: want a probability between 0 and 1, got %q", otlpexport.ErrInvalidEnv, envTracesSamplerArg, arg)
	}
	return f, nil
}

type jaegerRemoteConfig struct {
	endpoint    string
	interval    time.Duration
	initialRate float64
}

// parseJaegerRemoteArg reads jaeger_remote's OTEL_TRACES_SAMPLER_ARG:
// comma-separated key=value pairs among endpoint, pollingIntervalMs and
// initialSamplingRate, as the specification lists them. Unknown keys and
// bad values are errors (the contrib sampler would only drop them).
func parseJaegerRemoteArg(arg string) (jaegerRemoteConfig, error) {
	c := jaegerRemoteConfig{endpoint: DefaultJaegerRemoteEndpoint, interval: DefaultJaegerRemotePollingInterval, initialRate: defaultJaegerRemoteInitialRate}
	if arg == "" {
		return c, nil
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", otlpexport.ErrInvalidEnv, envTracesSamplerArg, fmt.Sprintf(format, args...))
	}
	seen := map[string]bool{}
	for pair := range strings.SplitSeq(arg, ",") {
		key, value, ok := strings.Cut(pair, "=")
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		if !ok || key == "" {
			return c, bad("want key=value pairs separated by commas, got %q", pair)
		}
		if seen[key] {
			return c, bad("%s given twice", key)
		}
		seen[key] = true
		switch key {
		case jaegerArgEndpoint:
			u, err := url.Parse(value)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return c, bad("endpoint: want an http(s) URL such as %s, got %q", DefaultJaegerRemoteEndpoint, value)
			}
			c.endpoint = value
		case jaegerArgPollingIntervalMs:
			ms, err := strconv.Atoi(value)
			if err != nil || ms <= 0 {
				return c, bad("pollingIntervalMs: want a positive number of milliseconds, got %q", value)
			}
			c.interval = time.Duration(ms) * time.Millisecond
		case jaegerArgInitialSamplingRate:
			f, err := strconv.ParseFloat(value, 64)
			if err != nil || f < 0 || f > 1 {
				return c, bad("initialSamplingRate: want a probability between 0 and 1, got %q", value)
			}
			c.initialRate = f
		default:
			return c, bad("unknown key %q (known: %s, %s, %s)", key, jaegerArgEndpoint, jaegerArgPollingIntervalMs, jaegerArgInitialSamplingRate)
		}
	}
	return c, nil
}

// closeOnShutdown stops the remote sampler's polling when the tracer
// provider shuts down; it sees no spans.
type closeOnShutdown struct{ s *jaegerremote.Sampler }

var _ sdktrace.SpanProcessor = closeOnShutdown{}

func (closeOnShutdown) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (closeOnShutdown) OnEnd(sdktrace.ReadOnlySpan)                     {}
func (closeOnShutdown) ForceFlush(context.Context) error                { return nil }
func (c closeOnShutdown) Shutdown(context.Context) error {
	c.s.Close()
	return nil
}
