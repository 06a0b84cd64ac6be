package api

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/felixge/httpsnoop"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/chainotel/chainotel/node/telemetry"
	"github.com/chainotel/chainotel/semconv"
)

// TracerScope is the instrumentation scope of the API's spans: the HTTP
// server spans and the validation spans under them.
const TracerScope = "github.com/chainotel/chainotel/node/api"

// route serves one pattern of the client API ("POST /tx") inside its HTTP
// server span and times it in the latency histogram, with an exemplar that
// points at the span.
//
// Why not otelhttp: it writes about fourteen attributes on every server span
// (peer and server addresses and ports, user agent, protocol version, body
// sizes) and records its own metrics, and POST /tx makes one server span per
// transaction. Encoding and exporting those attributes was the largest part
// of what telemetry cost the node per transaction (make bench-telemetry). The
// span here carries what the HTTP semantic conventions require of a server
// span (method, route, path, scheme, status code, error.type on a 5xx) plus
// the client address, and the chain attributes the handler adds.
type route struct {
	name   string // the pattern, which is also the span name (but for HEAD on a GET route)
	method string
	path   string // the route template: http.route
	h      http.HandlerFunc
	tracer trace.Tracer
	prop   propagation.TextMapPropagator
	obs    prometheus.ObserverVec // the latency histogram curried with this route
	series sync.Map               // seriesKey → *telemetry.ExemplarObserver of obs
}

// seriesKey names one series of a route's latency histogram.
type seriesKey struct {
	method string // as received: a "GET" route also serves HEAD
	code   int
}

func (a *API) newRoute(pattern string, h http.HandlerFunc) *route {
	method, path, _ := strings.Cut(pattern, " ")
	return &route{
		name: pattern, method: method, path: path,
		// Inside the server span, so a panic makes it an error and a 500.
		h:      Recover("http "+pattern, h, a.cfg.OnPanic, a.log).ServeHTTP,
		tracer: a.tracer, prop: a.cfg.Propagator,
		// The label set is fixed, so currying cannot fail.
		obs: a.metrics.latency.MustCurryWith(prometheus.Labels{"route": pattern}),
	}
}

func (rt *route) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := rt.prop.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	name := rt.name
	if r.Method != rt.method { // HEAD, which the mux serves with a GET route
		name = r.Method + " " + rt.path
	}
	ctx, span := rt.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindServer))
	defer span.End()
	recording := span.IsRecording()
	if recording {
		span.SetAttributes(
			attribute.String(semconv.HTTPRequestMethodKey, r.Method),
			attribute.String(semconv.HTTPRouteKey, rt.path),
			attribute.String(semconv.URLPathKey, r.URL.Path),
			attribute.String(semconv.URLSchemeKey, scheme(r)),
			attribute.String(semconv.ClientAddressKey, clientIP(r)),
		)
		setBaggage(ctx, span)
	}

	got := httpsnoop.CaptureMetrics(rt.h, w, r.WithContext(ctx))

	rt.observer(r.Method, got.Code).Observe(ctx, got.Duration.Seconds())
	if !recording {
		return
	}
	span.SetAttributes(attribute.Int(semconv.HTTPResponseStatusCodeKey, got.Code))
	// A 5xx makes the server span an error. writeError has already set the
	// status and error.type when the handler knew the cause; this covers the
	// rest without overwriting that message and category.
	if got.Code >= 500 && !hasStatus(span) {
		span.SetStatus(codes.Error, http.StatusText(got.Code))
		span.SetAttributes(attribute.String(semconv.ErrorTypeKey, strconv.Itoa(got.Code)))
	}
}

// setBaggage records the request's baggage, as the propagator's deny-list
// left it, on its server span: one attribute per member.
func setBaggage(ctx context.Context, span trace.Span) {
	b := baggage.FromContext(ctx)
	if b.Len() == 0 {
		return
	}
	attrs := make([]attribute.KeyValue, 0, b.Len())
	for _, m := range b.Members() {
		attrs = append(attrs, attribute.String(semconv.BaggageAttributePrefix+m.Key(), m.Value()))
	}
	span.SetAttributes(attrs...)
}

// observer is the latency series of this route's responses to method with
// code, labelled as promhttp.InstrumentHandlerDuration labels them. Looking
// it up once per series, not per request, keeps the label hashing and the
// exemplar thinning's state out of the request path.
func (rt *route) observer(method string, code int) *telemetry.ExemplarObserver {
	key := seriesKey{method, code}
	if o, ok := rt.series.Load(key); ok {
		return o.(*telemetry.ExemplarObserver)
	}
	o := telemetry.NewExemplarObserver(rt.obs.WithLabelValues(strings.ToLower(method), strconv.Itoa(code)), latencyBuckets)
	actual, _ := rt.series.LoadOrStore(key, o)
	return actual.(*telemetry.ExemplarObserver)
}

// hasStatus reports whether the handler already marked span as an error
// (writeError does, with the cause and its category).
func hasStatus(span trace.Span) bool {
	s, ok := span.(sdktrace.ReadOnlySpan)
	return ok && s.Status().Code == codes.Error
}

func scheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}
