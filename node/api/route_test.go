package api

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/chainotel/chainotel/node/consensus"
	"github.com/chainotel/chainotel/semconv"
)

// routeAPI is the part of an API that routes use: a tracer exporting to
// memory, the default propagator and the latency histogram.
func routeAPI(tp trace.TracerProvider) *API {
	return &API{
		log:     slog.New(slog.DiscardHandler),
		tracer:  tp.Tracer(TracerScope),
		cfg:     Config{Propagator: propagation.TraceContext{}},
		metrics: &metrics{latency: newLatency()},
	}
}

func serveOnce(t *testing.T, a *API, pattern string, h http.HandlerFunc, traceparent string) {
	t.Helper()
	method, path, _ := strings.Cut(pattern, " ")
	req := httptest.NewRequest(method, path, nil)
	req.RemoteAddr = "192.0.2.7:51000"
	if traceparent != "" {
		req.Header.Set("traceparent", traceparent)
	}
	a.newRoute(pattern, h).ServeHTTP(httptest.NewRecorder(), req)
}

func attrs(s tracetest.SpanStub) map[string]any {
	m := map[string]any{}
	for _, kv := range s.Attributes {
		m[string(kv.Key)] = kv.Value.AsInterface()
	}
	return m
}

func TestRouteServerSpan(t *testing.T) {
	const (
		traceID = "4bf92f3577b34da6a3ce929e0e4736aa"
		parent  = "00f067aa0ba902b7"
	)
	cases := []struct {
		name       string
		h          func(a *API) http.HandlerFunc
		wantAttrs  map[string]any // beyond the request's own
		wantStatus codes.Code
		wantMsg    string
	}{
		{
			name: "ok",
			h: func(*API) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) {
					// The handler runs inside the server span.
					trace.SpanFromContext(r.Context()).SetAttributes(attribute.String(semconv.TxTypeKey, "stake"))
					writeJSON(w, http.StatusOK, struct{}{})
				}
			},
			wantAttrs:  map[string]any{semconv.HTTPResponseStatusCodeKey: int64(200), semconv.TxTypeKey: "stake"},
			wantStatus: codes.Unset,
		},
		{
			name: "client error keeps the handler's category",
			h: func(a *API) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) {
					a.writeError(r.Context(), w, badRequest("amount", "amount is required"))
				}
			},
			wantAttrs:  map[string]any{semconv.HTTPResponseStatusCodeKey: int64(400), semconv.ErrorTypeKey: semconv.ErrorValidation},
			wantStatus: codes.Error, wantMsg: "amount is required",
		},
		{
			name: "5xx the handler explained keeps its cause",
			h: func(a *API) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) {
					a.writeError(r.Context(), w, fmt.Errorf("%w: lost the leader", consensus.ErrNoQuorum))
				}
			},
			wantAttrs:  map[string]any{semconv.HTTPResponseStatusCodeKey: int64(503), semconv.ErrorTypeKey: semconv.ErrorConsensusTimeout},
			wantStatus: codes.Error, wantMsg: consensus.ErrNoQuorum.Error() + ": lost the leader",
		},
		{
			name: "bare 5xx is an error with the status code as its type",
			h: func(*API) http.HandlerFunc {
				return func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusBadGateway) }
			},
			wantAttrs:  map[string]any{semconv.HTTPResponseStatusCodeKey: int64(502), semconv.ErrorTypeKey: "502"},
			wantStatus: codes.Error, wantMsg: "Bad Gateway",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			exp := tracetest.NewInMemoryExporter()
			tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
			a := routeAPI(tp)
			serveOnce(t, a, "POST /tx", tc.h(a), "00-"+traceID+"-"+parent+"-01")

			spans := exp.GetSpans()
			require.Len(t, spans, 1)
			s := spans[0]
			require.Equal(t, "POST /tx", s.Name)
			require.Equal(t, trace.SpanKindServer, s.SpanKind)
			require.Equal(t, traceID, s.SpanContext.TraceID().String(), "continues the caller's trace")
			require.Equal(t, parent, s.Parent.SpanID().String())
			require.Equal(t, TracerScope, s.InstrumentationScope.Name)
			want := map[string]any{
				semconv.HTTPRequestMethodKey: "POST", semconv.HTTPRouteKey: "/tx", semconv.URLPathKey: "/tx",
				semconv.URLSchemeKey: "http", semconv.ClientAddressKey: "192.0.2.7",
			}
			for k, v := range tc.wantAttrs {
				want[k] = v
			}
			require.Equal(t, want, attrs(s), "exactly these attributes")
			require.Equal(t, tc.wantStatus, s.Status.Code)
			require.Equal(t, tc.wantMsg, s.Status.Description)
		})
	}
}

// A GET route also serves HEAD (net/http's mux matches it): the span and the
// latency series name the method the client sent.
func TestRouteNamesHEADAsHEAD(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	a := routeAPI(sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp)))
	rt := a.newRoute("GET /status", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	rt.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodHead, "/status", nil))

	spans := exp.GetSpans()
	require.Len(t, spans, 1)
	require.Equal(t, "HEAD /status", spans[0].Name)
	require.Equal(t, "HEAD", attrs(spans[0])[semconv.HTTPRequestMethodKey])
	var m dto.Metric
	h := a.metrics.latency.With(prometheus.Labels{"route": "GET /status", "method": "head", "code": "200"})
	require.NoError(t, h.(prometheus.Metric).Write(&m))
	require.Equal(t, uint64(1), m.GetHistogram().GetSampleCount())
}

func TestRouteTimesEveryRequest(t *testing.T) {
	for name, tp := range map[string]trace.TracerProvider{
		"traced":             sdktrace.NewTracerProvider(),
		"telemetry disabled": noop.NewTracerProvider(),
	} {
		t.Run(name, func(t *testing.T) {
			a := routeAPI(tp)
			ok := func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }
			gone := func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNotFound) }
			serveOnce(t, a, "GET /tx/{hash}", ok, "")
			serveOnce(t, a, "GET /tx/{hash}", ok, "")
			serveOnce(t, a, "GET /tx/{hash}", gone, "")

			count := func(code string) int {
				h := a.metrics.latency.With(prometheus.Labels{"route": "GET /tx/{hash}", "method": "get", "code": code})
				var m dto.Metric
				require.NoError(t, h.(prometheus.Metric).Write(&m))
				return int(m.GetHistogram().GetSampleCount())
			}
			require.Equal(t, 2, count("200"))
			require.Equal(t, 1, count("404"))
		})
	}
}

// The baggage a request brings, as the propagator left it, is on its server
// span, one attribute per member; a request without baggage gets none.
func TestRouteServerSpanBaggage(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	a := routeAPI(tp)
	a.cfg.Propagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	ok := func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, struct{}{}) }
	for _, b := range []string{"tenant=acme,region=eu%20west", ""} {
		req := httptest.NewRequest(http.MethodGet, "/status", nil)
		if b != "" {
			req.Header.Set("baggage", b)
		}
		a.newRoute("GET /status", ok).ServeHTTP(httptest.NewRecorder(), req)
	}
	spans := exp.GetSpans()
	require.Len(t, spans, 2)
	got := attrs(spans[0])
	require.Equal(t, "acme", got[semconv.BaggageAttributePrefix+"tenant"])
	require.Equal(t, "eu west", got[semconv.BaggageAttributePrefix+"region"])
	for k := range attrs(spans[1]) {
		require.False(t, strings.HasPrefix(k, semconv.BaggageAttributePrefix), "%s without baggage", k)
	}
}
