package config

import (
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chainotel/chainotel/node/pki"
)

func TestAuthorizeByRemoteAddress(t *testing.T) {
	for _, tc := range []struct {
		remote string
		ok     bool
	}{
		{"127.0.0.1:5000", true},
		{"[::1]:5000", true},
		{"127.9.9.9:5000", true},
		{"10.0.0.7:5000", false},
		{"[2001:db8::1]:5000", false},
		{"192.168.1.2:5000", false},
	} {
		t.Run(tc.remote, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPut, PathLogLevel, nil)
			req.RemoteAddr = tc.remote
			who, err := Authorize(req, nil)
			require.Equal(t, "remote="+tc.remote, who)
			if tc.ok {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrForbidden)
			require.ErrorContains(t, err, tc.remote+" is not loopback and presented no certificate")
		})
	}
}

// TestPutLogLevelFromOutsideLoopback: the handler refuses a change from a
// non-loopback address with 403 and a JSON error, changes nothing, counts it.
func TestPutLogLevelFromOutsideLoopback(t *testing.T) {
	h := newHarness(t)
	req := httptest.NewRequest(http.MethodPut, PathLogLevel, strings.NewReader(`{"spec":"debug"}`))
	req.RemoteAddr = "10.0.0.7:40000"
	rec := httptest.NewRecorder()
	h.r.putLogLevel(rec, req)
	require.Equal(t, http.StatusForbidden, rec.Code)
	require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	var body map[string]string
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
	require.Contains(t, body["error"], "changes are accepted from loopback")
	require.Equal(t, "info", h.r.LogSpec().String())
	require.Equal(t, 1.0, h.count(ResultRefused))
	require.Contains(t, h.log(), `"msg":"config change refused","what":"PUT /loglevel","by":"remote=10.0.0.7:40000"`)
}

func TestPutLogLevel(t *testing.T) {
	h := newHarness(t)
	for _, tc := range []struct {
		body   string
		status int
		want   string
	}{
		{`{"spec":"info:raft,p2p=debug"}`, http.StatusOK, `{"spec":"info:p2p=debug:raft=debug"}`},
		{`{"spec":"loud"}`, http.StatusBadRequest, `spec: term 1 \"loud\": level \"loud\"`},
		{`{"level":"debug"}`, http.StatusBadRequest, `unknown field \"level\"`},
		{`debug`, http.StatusBadRequest, `body: want {\"spec\": \"info:raft=debug\"}`},
	} {
		req := httptest.NewRequest(http.MethodPut, PathLogLevel, strings.NewReader(tc.body))
		req.RemoteAddr = "127.0.0.1:40000"
		rec := httptest.NewRecorder()
		h.r.putLogLevel(rec, req)
		require.Equal(t, tc.status, rec.Code, tc.body)
		require.Contains(t, rec.Body.String(), tc.want, tc.body)
	}
	require.Equal(t, "info:p2p=debug:raft=debug", h.r.LogSpec().String(), "the bad requests changed nothing")
	require.Equal(t, 1.0, h.count(ResultApplied))
	require.Equal(t, 3.0, h.count(ResultInvalid))

	rec := httptest.NewRecorder()
	h.r.getConfig(rec, httptest.NewRequest(http.MethodGet, PathConfig, nil))
	var v View
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &v))
	require.Equal(t, "info:p2p=debug:raft=debug", v.Values[KeyLogLevel])
	require.Equal(t, "8080", v.Values["port"])
	require.Equal(t, ReloadableKeys(), v.Reloadable)
}

// TestAuthorizeMutualTLS serves the check over TLS: a client certificate
// from the cluster CA may change the level from anywhere; one from another
// CA may not, nor may a caller without one.
func TestAuthorizeMutualTLS(t *testing.T) {
	dir := t.TempDir()
	cluster, other := filepath.Join(dir, "cluster"), filepath.Join(dir, "other")
	for _, d := range []string{cluster, other} {
		_, err := pki.WriteCluster(d, []string{"node0"}, pki.Options{})
		require.NoError(t, err)
	}
	mine, err := pki.LoadNode(cluster, "node0")
	require.NoError(t, err)
	theirs, err := pki.LoadNode(other, "node0")
	require.NoError(t, err)

	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The connection comes from loopback: pretend it did not, so only
		// the certificate can allow it.
		r.RemoteAddr = "10.0.0.7:40000"
		who, err := Authorize(r, mine.CAPool)
		if err != nil {
			http.Error(w, who+": "+err.Error(), http.StatusForbidden)
			return
		}
		_, _ = w.Write([]byte(who))
	}))
	// Request, not require: the check is Authorize's.
	srv.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
	srv.StartTLS()
	t.Cleanup(srv.Close)

	call := func(cert *tls.Certificate) (int, string) {
		tr := srv.Client().Transport.(*http.Transport).Clone()
		if cert != nil {
			tr.TLSClientConfig.Certificates = []tls.Certificate{*cert}
		}
		c := &http.Client{Transport: tr}
		t.Cleanup(tr.CloseIdleConnections)
		resp, err := c.Get(srv.URL)
		require.NoError(t, err)
		defer func() { _ = resp.Body.Close() }() // read to the end below
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(b)
	}
	status, body := call(&mine.Cert)
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, "subject=CN=node0")

	status, body = call(&theirs.Cert)
	require.Equal(t, http.StatusForbidden, status)
	require.Contains(t, body, `the client certificate "CN=node0`)
	require.Contains(t, body, "does not verify")

	status, body = call(nil)
	require.Equal(t, http.StatusForbidden, status)
	require.Contains(t, body, "is not loopback and presented no certificate")
}
