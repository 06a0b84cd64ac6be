package telemetry

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/chainotel/chainotel/internal/otlpsink"
	"github.com/chainotel/chainotel/semconv"
)

func envOf(t *testing.T, res *resource.Resource) string {
	t.Helper()
	v, ok := res.Set().Value(semconv.DeploymentEnvironmentKey)
	require.True(t, ok, "no %s on %v", semconv.DeploymentEnvironmentKey, res)
	return v.AsString()
}

// buildInfoEnvironment is the environment label of the one
// chainotel_build_info series.
func buildInfoEnvironment(t *testing.T, g prometheus.Gatherer) string {
	t.Helper()
	mfs, err := g.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != metricBuildInfo {
			continue
		}
		require.Len(t, mf.GetMetric(), 1)
		for _, lp := range mf.GetMetric()[0].GetLabel() {
			if lp.GetName() == "environment" {
				return lp.GetValue()
			}
		}
	}
	t.Fatalf("no %s", metricBuildInfo)
	return ""
}

// A span and a log record made under each environment carry it; what
// else the resource says stays.
func TestSetEnvironmentOnEverySignal(t *testing.T) {
	h := newHarness(t, nil)
	tracer := h.tel.TracerProvider.Tracer("test")
	emit := func(name string) {
		ctx, span := tracer.Start(context.Background(), name)
		h.tel.Logger.InfoContext(ctx, name)
		// A span the node writes itself (StartSpanAt) takes the same way.
		_, late := StartSpanAt(ctx, tracer, name+"/late", time.Now())
		late.End(time.Now(), codes.Unset, "")
		span.End()
	}
	require.Equal(t, "dev", h.tel.Environment())
	emit("before")
	require.NoError(t, h.tel.SetEnvironment(context.Background(), "staging"))
	require.Equal(t, "staging", h.tel.Environment())
	require.Equal(t, "staging", buildInfoEnvironment(t, h.reg))
	emit("after")
	require.NoError(t, h.tel.SetEnvironment(context.Background(), "dev"))
	require.Equal(t, "dev", buildInfoEnvironment(t, h.reg))
	emit("back")
	h.flush(t)

	want := map[string]string{"before": "dev", "after": "staging", "back": "dev"}
	spans := h.spans.GetSpans()
	require.Len(t, spans, 6)
	for _, s := range spans {
		require.Equal(t, want[strings.TrimSuffix(s.Name, "/late")], envOf(t, s.Resource), "span %s", s.Name)
		id, _ := s.Resource.Set().Value(semconv.ServiceInstanceIDKey)
		require.Equal(t, "node0", id.AsString(), "the rest of the resource stays")
	}
	records := h.logs.Records()
	require.Len(t, records, 3)
	for _, r := range records {
		require.Equal(t, want[r.Body().AsString()], envOf(t, r.Resource()), "log %s", r.Body().AsString())
	}
}

// Over OTLP, through the node's own span encoder and the SDK's log
// exporter, to a receiver.
func TestSetEnvironmentOverOTLP(t *testing.T) {
	r := otlpsink.Start(t)
	c := baseConfig(t)
	c.OTLPEndpoint = r.Addr()
	c.BatchTimeout = 20 * time.Millisecond
	tel, err := Setup(context.Background(), c)
	require.NoError(t, err)
	shutdownAtCleanup(t, tel)

	require.NoError(t, tel.SetEnvironment(context.Background(), "prod-eu"))
	waitExported(t, r, exportOneTrace(t, tel))
	for _, s := range r.Spans() {
		env, _ := s.ResourceAttr(semconv.DeploymentEnvironmentKey)
		require.Equal(t, "prod-eu", env, "span %s", s.Name())
	}
	env, _ := r.Logs()[0].Resource.Attributes().Get(semconv.DeploymentEnvironmentKey)
	require.Equal(t, "prod-eu", env.AsString())
}

func TestSetEnvironmentRefusesBadValues(t *testing.T) {
	h := newHarness(t, nil)
	for _, bad := range []string{" staging", "staging\n", "a\x00b"} {
		require.ErrorIs(t, h.tel.SetEnvironment(context.Background(), bad), errInvalidConfig, "%q", bad)
	}
	require.Equal(t, "dev", h.tel.Environment())
	require.Equal(t, "dev", buildInfoEnvironment(t, h.reg))

	_, err := Setup(context.Background(), func() Config { c := baseConfig(t); c.Environment = "d\tev"; return c }())
	require.ErrorContains(t, err, `Environment "d\tev": control character at byte 1`)
}

// OTEL_RESOURCE_ATTRIBUTES still wins on the resource, as at start; the
// metric label follows the flag.
func TestSetEnvironmentUnderResourceAttributes(t *testing.T) {
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=pinned")
	h := newHarness(t, nil)
	require.NoError(t, h.tel.SetEnvironment(context.Background(), "staging"))
	_, span := h.tel.TracerProvider.Tracer("test").Start(context.Background(), "s")
	span.End()
	h.flush(t)
	require.Equal(t, "pinned", envOf(t, h.spans.GetSpans()[0].Resource))
	require.Equal(t, "staging", buildInfoEnvironment(t, h.reg))
}

// Spans end and records are emitted while the environment changes (run
// with -race); each carries one of the values, and those made after the
// last change carry it.
func TestSetEnvironmentConcurrently(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.QueueSize = 100000 })
	tracer := h.tel.TracerProvider.Tracer("test")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				ctx, span := tracer.Start(context.Background(), "busy")
				h.tel.Logger.InfoContext(ctx, "busy")
				span.End()
			}
		}()
	}
	for i := range 50 {
		env := []string{"a", "b"}[i%2]
		require.NoError(t, h.tel.SetEnvironment(context.Background(), env))
	}
	close(stop)
	wg.Wait()
	require.NoError(t, h.tel.SetEnvironment(context.Background(), "final"))
	ctx, span := tracer.Start(context.Background(), "last")
	h.tel.Logger.InfoContext(ctx, "last")
	span.End()
	h.flush(t)

	allowed := map[string]bool{"dev": true, "a": true, "b": true}
	for _, s := range h.spans.GetSpans() {
		env := envOf(t, s.Resource)
		if s.Name == "last" {
			require.Equal(t, "final", env)
			continue
		}
		require.True(t, allowed[env], "span with environment %q", env)
	}
	records := h.logs.Records()
	require.Equal(t, "final", envOf(t, records[len(records)-1].Resource()))
}

// With the SDK disabled only the metric carries the environment.
func TestSetEnvironmentSDKDisabled(t *testing.T) {
	t.Setenv(envSDKDisabled, "true")
	c := baseConfig(t)
	reg := prometheus.NewRegistry()
	c.Registerer = reg
	tel, err := Setup(context.Background(), c)
	require.NoError(t, err)
	shutdownAtCleanup(t, tel)
	require.NoError(t, tel.SetEnvironment(context.Background(), "staging"))
	require.Equal(t, "staging", buildInfoEnvironment(t, reg))
}

func keptBaggage(p propagation.TextMapPropagator, header string) []string {
	ctx := p.Extract(context.Background(), propagation.MapCarrier{"baggage": header})
	var kept []string
	for _, m := range baggage.FromContext(ctx).Members() {
		kept = append(kept, m.Key())
	}
	return kept
}

func TestSetBaggageDenyKeys(t *testing.T) {
	h := newHarness(t, nil)
	const header = "tenant=acme,customer_id=c1,auth_token=t"
	require.ElementsMatch(t, []string{"tenant", "customer_id"}, keptBaggage(h.tel.Propagator, header), "the defaults")

	require.NoError(t, h.tel.SetBaggageDenyKeys([]string{"Customer-ID"}))
	require.ElementsMatch(t, []string{"tenant", "auth_token"}, keptBaggage(h.tel.Propagator, header), "the new list replaces the defaults")

	require.ErrorContains(t, h.tel.SetBaggageDenyKeys([]string{"tenant", " - "}), `fragment 2 of 2 is " - "`)
	require.ElementsMatch(t, []string{"tenant", "auth_token"}, keptBaggage(h.tel.Propagator, header), "a refused list changes nothing")

	require.NoError(t, h.tel.SetBaggageDenyKeys([]string{}))
	require.ElementsMatch(t, []string{"tenant", "customer_id", "auth_token"}, keptBaggage(h.tel.Propagator, header), "empty removes none")

	require.NoError(t, h.tel.SetBaggageDenyKeys(nil))
	require.ElementsMatch(t, []string{"tenant", "customer_id"}, keptBaggage(h.tel.Propagator, header), "nil: the defaults again")
}

// Extracts run while the list changes (run with -race): each sees one list
// whole, never a mix.
func TestSetBaggageDenyKeysConcurrently(t *testing.T) {
	f := newBaggageFilter(propagation.Baggage{}, []string{"alpha", "beta"})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan []string, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				// Either list removes both alpha and beta or keeps both.
				kept := keptBaggage(f, "alpha=1,beta=2")
				if len(kept) == 1 {
					errs <- kept
					return
				}
			}
		}()
	}
	for i := range 200 {
		f.set([][]string{{"alpha", "beta"}, {"gamma"}}[i%2])
	}
	close(stop)
	wg.Wait()
	close(errs)
	for kept := range errs {
		t.Fatalf("an Extract saw half a list: kept %v", kept)
	}
}

func TestParseBaggageDenyKeys(t *testing.T) {
	for in, want := range map[string][]string{
		"":                 {},
		"  ":               {},
		"token":            {"token"},
		" token , api-key": {"token", "api-key"},
	} {
		got, err := ParseBaggageDenyKeys(in)
		require.NoError(t, err, "%q", in)
		require.NotNil(t, got, "%q: empty, not the defaults", in)
		require.Equal(t, want, got, "%q", in)
	}
	for in, msg := range map[string]string{
		"token,,secret": `fragment 2 of 3 is ""`,
		"token,":        `fragment 2 of 2 is ""`,
		"_.":            `fragment 1 of 1 is "_."`,
	} {
		_, err := ParseBaggageDenyKeys(in)
		require.ErrorContains(t, err, msg, "%q", in)
	}
	_, err := Setup(context.Background(), func() Config { c := baseConfig(t); c.BaggageDenyKeys = []string{"ok", ""}; return c }())
	require.ErrorContains(t, err, `BaggageDenyKeys: fragment 2 of 2 is ""`)
}
