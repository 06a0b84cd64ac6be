package main

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestProbe(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ready":
			w.WriteHeader(http.StatusNoContent)
		case "/busy":
			http.Error(w, `{"ready":false,"reason":"no leader elected yet"}`, http.StatusServiceUnavailable)
		case "/hang":
			<-r.Context().Done() // until the probe gives up
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	// A port nothing listens on: bind one, then close it.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := "http://" + l.Addr().String() + "/ready"
	require.NoError(t, l.Close())

	msg, err := probe(context.Background(), srv.URL+"/ready", time.Second)
	require.NoError(t, err)
	require.Contains(t, msg, "204 No Content")

	for _, tc := range []struct {
		name, url string
		timeout   time.Duration
		want      string
	}{
		{"503", srv.URL + "/busy", time.Second, `503 Service Unavailable: {"ready":false,"reason":"no leader elected yet"}`},
		{"404", srv.URL + "/nope", time.Second, "404 Not Found"},
		{"timeout", srv.URL + "/hang", 50 * time.Millisecond, "no answer within 50ms"},
		{"refused", closed, time.Second, "connection refused"},
		{"not a URL", "127.0.0.1:9090/ready", time.Second, `"127.0.0.1:9090/ready" is not an http(s)://host[:port]/path URL`},
		{"ftp", "ftp://127.0.0.1/", time.Second, "is not an http(s)"},
		{"zero timeout", srv.URL + "/ready", 0, "--timeout 0s: want > 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := probe(context.Background(), tc.url, tc.timeout)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestProbeCommandWantsOneURL(t *testing.T) {
	cmd := probeCommand()
	require.NoError(t, cmd.Parse([]string{"--timeout=1s"}))
	require.ErrorContains(t, cmd.Run(context.Background()), "probe: want one URL, got 0 arguments")
	cmd = probeCommand()
	require.NoError(t, cmd.Parse([]string{"http://a/", "http://b/"}))
	require.ErrorContains(t, cmd.Run(context.Background()), "got 2 arguments")
}
