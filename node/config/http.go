package config

import (
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// Paths of the health-port endpoints.
const (
	PathConfig   = "/config"
	PathLogLevel = "/loglevel"
)

// maxSpecBody bounds a PUT /loglevel body.
const maxSpecBody = 4 << 10

// ErrForbidden is why a change request from outside loopback without a
// cluster certificate is refused.
var ErrForbidden = errors.New("changes are accepted from loopback, or over mutual TLS with a certificate from the cluster CA")

// LevelBody is the body of PUT /loglevel and the answer of GET /loglevel
// (Fabric's /logspec shape).
type LevelBody struct {
	Spec string `json:"spec"`
}

// View is the answer of GET /config.
type View struct {
	// Values are every key's value in force; secrets are redacted.
	Values map[string]string `json:"values"`
	// Reloadable are the keys that SIGHUP applies without a restart.
	Reloadable []string `json:"reloadable"`
}

type errorBody struct {
	Error string `json:"error"`
}

// Routes are the reloader's health-port endpoints by ServeMux pattern:
// GET /config, GET /loglevel and PUT /loglevel.
func (r *Reloader) Routes() map[string]http.Handler {
	return map[string]http.Handler{
		"GET " + PathConfig:   http.HandlerFunc(r.getConfig),
		"GET " + PathLogLevel: http.HandlerFunc(r.getLogLevel),
		"PUT " + PathLogLevel: http.HandlerFunc(r.putLogLevel),
	}
}

func (r *Reloader) getConfig(w http.ResponseWriter, _ *http.Request) {
	vals := r.InForce()
	for k, v := range vals {
		vals[k] = Redact(k, v)
	}
	writeJSON(w, http.StatusOK, View{Values: vals, Reloadable: ReloadableKeys()})
}

func (r *Reloader) getLogLevel(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, LevelBody{Spec: r.LogSpec().String()})
}

func (r *Reloader) putLogLevel(w http.ResponseWriter, req *http.Request) {
	who, err := Authorize(req, r.roots)
	if err != nil {
		r.refuse("PUT "+PathLogLevel, who, err)
		writeJSON(w, http.StatusForbidden, errorBody{Error: err.Error()})
		return
	}
	var body LevelBody
	dec := json.NewDecoder(io.LimitReader(req.Body, maxSpecBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		err = fmt.Errorf("body: want {\"spec\": \"info:raft=debug\"}: %w", err)
		r.Invalid(err, who)
		writeJSON(w, http.StatusBadRequest, errorBody{Error: err.Error()})
		return
	}
	spec, err := ParseLogSpec(body.Spec)
	if err != nil {
		err = fmt.Errorf("spec: %w", err)
		r.Invalid(err, who)
		writeJSON(w, http.StatusBadRequest, errorBody{Error: err.Error()})
		return
	}
	c := r.SetLogSpec(spec, who)
	writeJSON(w, http.StatusOK, LevelBody{Spec: c.To})
}

// Authorize decides whether req may change the configuration. It may when
// it came over TLS with a client certificate that roots (the cluster CA)
// issued for client authentication, or from a loopback address. who names
// the caller for the log either way: the remote address, and the
// certificate subject when there is one.
func Authorize(req *http.Request, roots *x509.CertPool) (who string, err error) {
	who = "remote=" + req.RemoteAddr
	if req.TLS != nil && len(req.TLS.PeerCertificates) > 0 {
		leaf := req.TLS.PeerCertificates[0]
		who += " subject=" + leaf.Subject.String()
		if roots == nil {
			return who, fmt.Errorf("%w: no cluster CA is configured to check the certificate", ErrForbidden)
		}
		inter := x509.NewCertPool()
		for _, c := range req.TLS.PeerCertificates[1:] {
			inter.AddCert(c)
		}
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
			return who, fmt.Errorf("%w: the client certificate %q does not verify: %v", ErrForbidden, leaf.Subject, err)
		}
		return who, nil
	}
	host, _, err := net.SplitHostPort(req.RemoteAddr)
	if err != nil {
		host = req.RemoteAddr
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return who, nil
	}
	return who, fmt.Errorf("%w; %s is not loopback and presented no certificate", ErrForbidden, req.RemoteAddr)
}

// secretFragments mark a key whose value GET /config never shows.
var secretFragments = []string{"password", "passwd", "secret", "token", "apikey", "api-key", "credential", "private"}

// Redact hides a secret value: the whole value of a key named like a secret,
// the user information of a URL.
func Redact(key, value string) string {
	k := strings.ToLower(key)
	if slices.ContainsFunc(secretFragments, func(f string) bool { return strings.Contains(k, f) }) {
		if value == "" {
			return ""
		}
		return "[redacted]"
	}
	if strings.Contains(value, "@") && strings.Contains(value, "://") {
		// A user name alone may be a token (https://TOKEN@host): hide both.
		if u, err := url.Parse(value); err == nil && u.User != nil {
			u.User = url.User("xxxxx")
			return u.String()
		}
	}
	return value
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
