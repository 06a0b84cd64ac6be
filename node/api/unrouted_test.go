package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/trace/noop"
)

func TestUnroutedAnswers(t *testing.T) {
	a := routeAPI(noop.NewTracerProvider())
	a.limiter = newClientLimiter(DefaultMaxClientRequests, a.log, prometheus.NewCounter(prometheus.CounterOpts{Name: "throttled"}))
	client := a.Handler()
	health := a.HealthHandler()

	tests := []struct {
		name    string
		h       http.Handler
		method  string
		path    string
		status  int
		allow   string
		errText string
	}{
		{"GET on a POST route", client, http.MethodGet, "/tx", http.StatusMethodNotAllowed, "POST", "method GET not allowed on /tx; allowed: POST"},
		{"DELETE on a GET route with a wildcard", client, http.MethodDelete, "/blocks/7", http.StatusMethodNotAllowed, "GET, HEAD", "method DELETE not allowed on /blocks/7"},
		{"PUT on /status", client, http.MethodPut, "/status", http.StatusMethodNotAllowed, "GET, HEAD", ""},
		{"unknown path", client, http.MethodGet, "/nope", http.StatusNotFound, "", "no route for GET /nope"},
		{"unknown path, POST", client, http.MethodPost, "/blocks", http.StatusNotFound, "", "no route for POST /blocks"},
		{"POST on /health", health, http.MethodPost, "/health", http.StatusMethodNotAllowed, "GET, HEAD", "method POST not allowed on /health"},
		{"unknown health path", health, http.MethodGet, "/healthz", http.StatusNotFound, "", "no route for GET /healthz"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(tc.method, tc.path, nil)
			req.RemoteAddr = "192.0.2.7:51000"
			tc.h.ServeHTTP(rec, req)
			require.Equal(t, tc.status, rec.Code, rec.Body.String())
			require.Equal(t, tc.allow, rec.Header().Get("Allow"))
			require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
			var body ErrorBody
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
			require.Contains(t, body.Error, tc.errText)
		})
	}
}
