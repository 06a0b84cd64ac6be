package otlpexport

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// ErrInvalidEnv reports an OTEL_* environment variable with a value the node
// cannot use; the errors that wrap it name the variable.
var ErrInvalidEnv = errors.New("invalid telemetry environment variable")

// DefaultEndpoint is where spans go when nothing names a collector, as
// otlptracegrpc's default.
const DefaultEndpoint = "localhost:4317"

// Target is what the node's flags decide about where spans go. What it leaves
// unset, the OTEL_EXPORTER_OTLP_* variables decide.
type Target struct {
	// Endpoint is "host:port", or "" to leave it to the environment.
	Endpoint string
	// Insecure asks for plain text.
	Insecure bool
	// TLS, when set, is the client TLS config, and wins over everything else.
	TLS *tls.Config
}

// spanExporterSettings is where and how the span exporter sends.
type spanExporterSettings struct {
	endpoint string
	plain    bool        // no TLS
	tls      *tls.Config // unless plain; nil: TLS with the system roots
	headers  map[string]string
	gzip     bool
	timeout  time.Duration
}

// The OTLP exporter variables, each read as OTEL_EXPORTER_OTLP_TRACES_<key>
// if set, else OTEL_EXPORTER_OTLP_<key>.
const (
	envOTLPPrefix       = "OTEL_EXPORTER_OTLP_"
	envOTLPTracesPrefix = "OTEL_EXPORTER_OTLP_TRACES_"

	otlpKeyEndpoint    = "ENDPOINT"
	otlpKeyInsecure    = "INSECURE"
	otlpKeyCertificate = "CERTIFICATE"
	otlpKeyClientCert  = "CLIENT_CERTIFICATE"
	otlpKeyClientKey   = "CLIENT_KEY"
	otlpKeyHeaders     = "HEADERS"
	otlpKeyCompression = "COMPRESSION"
	otlpKeyTimeout     = "TIMEOUT"

	// otlpDefaultTimeout bounds one export, retries included.
	otlpDefaultTimeout = 10 * time.Second
)

// resolveSettings resolves the exporter's settings as otlptracegrpc did with
// the options the node gave it: first the environment, then what t decides.
// Transport security, in order: t.TLS; else TLS with the environment's
// certificates if any are set; else plain text if t asks for it, or the
// environment does (_INSECURE, else the endpoint's http scheme); else TLS
// with the system roots.
func resolveSettings(t Target) (spanExporterSettings, error) {
	s := spanExporterSettings{endpoint: DefaultEndpoint, timeout: otlpDefaultTimeout}
	plain := false
	if name, v, ok := otlpEnv(otlpKeyEndpoint); ok {
		host, scheme, err := parseEnvEndpoint(name, v)
		if err != nil {
			return s, err
		}
		s.endpoint = host
		if scheme != "" {
			plain = scheme == "http"
		}
	}
	if name, v, ok := otlpEnv(otlpKeyInsecure); ok {
		b, err := ParseEnvBool(name, v)
		if err != nil {
			return s, err
		}
		plain = b
	}
	envTLS, err := envTLSConfig()
	if err != nil {
		return s, err
	}
	if name, v, ok := otlpEnv(otlpKeyHeaders); ok {
		if s.headers, err = parseEnvHeaders(name, v); err != nil {
			return s, err
		}
	}
	if name, v, ok := otlpEnv(otlpKeyCompression); ok {
		switch v {
		case "gzip":
			s.gzip = true
		case "none":
		default:
			return s, fmt.Errorf("%w: %s: want gzip or none, got %q", ErrInvalidEnv, name, v)
		}
	}
	if name, v, ok := otlpEnv(otlpKeyTimeout); ok {
		ms, err := strconv.Atoi(v)
		if err != nil || ms < 0 {
			return s, fmt.Errorf("%w: %s: want milliseconds (an integer >= 0; 0 is no limit), got %q", ErrInvalidEnv, name, v)
		}
		s.timeout = time.Duration(ms) * time.Millisecond
	}

	if t.Endpoint != "" {
		s.endpoint = t.Endpoint
	}
	switch {
	case t.TLS != nil:
		s.tls = t.TLS.Clone()
	case envTLS != nil:
		s.tls = envTLS
	default:
		s.plain = plain || t.Insecure
	}
	return s, nil
}

// otlpEnv returns the traces variable for key if it is set, else the
// general one, trimmed; ok is false when neither is set (or both are blank).
func otlpEnv(key string) (name, value string, ok bool) {
	for _, prefix := range []string{envOTLPTracesPrefix, envOTLPPrefix} {
		name = prefix + key
		if v := strings.TrimSpace(os.Getenv(name)); v != "" {
			return name, v, true
		}
	}
	return "", "", false
}

// parseEnvEndpoint reads an endpoint variable (see ParseEndpoint). A URL
// with a path is refused: that is an OTLP/HTTP URL, which gRPC cannot reach.
func parseEnvEndpoint(name, raw string) (host, scheme string, err error) {
	host, scheme, path, err := ParseEndpoint(raw)
	if err != nil {
		return "", "", fmt.Errorf("%w: %s: %v", ErrInvalidEnv, name, err)
	}
	if path != "" && path != "/" {
		return "", "", fmt.Errorf("%w: %s: %q has a path, which OTLP/gRPC does not take (an OTLP/HTTP URL?)", ErrInvalidEnv, name, raw)
	}
	return host, scheme, nil
}

// parseEnvHeaders reads key=value pairs separated by commas; values are
// URL-decoded. An error names the entry by position and key, never its
// value, which is often a credential.
func parseEnvHeaders(name, raw string) (map[string]string, error) {
	h := make(map[string]string)
	for i, entry := range strings.Split(raw, ",") {
		if strings.TrimSpace(entry) == "" {
			continue
		}
		k, v, found := strings.Cut(entry, "=")
		k = strings.TrimSpace(k)
		if !found {
			return nil, fmt.Errorf("%w: %s: entry %d has no '=' (want key=value,...)", ErrInvalidEnv, name, i+1)
		}
		if !validHeaderKey(k) {
			return nil, fmt.Errorf("%w: %s: entry %d: %q is not a valid header name", ErrInvalidEnv, name, i+1, k)
		}
		val, err := url.PathUnescape(v)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: value of %q is not URL-encoded correctly", ErrInvalidEnv, name, k)
		}
		h[k] = strings.TrimSpace(val)
	}
	return h, nil
}

// validHeaderKey accepts an HTTP token (RFC 9110), as otlptracegrpc does.
func validHeaderKey(k string) bool {
	if k == "" {
		return false
	}
	for _, c := range k {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.ContainsRune("!#$%&'*+-.^_`|~", c):
		default:
			return false
		}
	}
	return true
}

// envTLSConfig is the TLS configuration the certificate variables ask for,
// or nil when none is set.
func envTLSConfig() (*tls.Config, error) {
	var cfg tls.Config
	if name, path, ok := otlpEnv(otlpKeyCertificate); ok {
		raw, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrInvalidEnv, name, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(raw) {
			return nil, fmt.Errorf("%w: %s: no PEM certificate in %q", ErrInvalidEnv, name, path)
		}
		cfg.RootCAs = pool
	}
	for _, prefix := range []string{envOTLPTracesPrefix, envOTLPPrefix} {
		certName, keyName := prefix+otlpKeyClientCert, prefix+otlpKeyClientKey
		certPath, keyPath := strings.TrimSpace(os.Getenv(certName)), strings.TrimSpace(os.Getenv(keyName))
		if certPath == "" && keyPath == "" {
			continue
		}
		if certPath == "" || keyPath == "" {
			return nil, fmt.Errorf("%w: %s and %s go together; only one is set", ErrInvalidEnv, certName, keyName)
		}
		cert, err := tls.LoadX509KeyPair(certPath, keyPath)
		if err != nil {
			return nil, fmt.Errorf("%w: %s=%q, %s=%q: %v", ErrInvalidEnv, certName, certPath, keyName, keyPath, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
		break
	}
	if cfg.RootCAs == nil && cfg.Certificates == nil {
		return nil, nil
	}
	return &cfg, nil
}

// ParseEndpoint reads an OTLP/gRPC endpoint as --otlp-endpoint and the
// endpoint variables give it: host:port, or an http or https URL whose
// scheme (lowercase; "" for host:port) decides transport security. Its
// errors say what is wrong with raw; the caller says where raw came from.
func ParseEndpoint(raw string) (host, scheme, path string, err error) {
	if !strings.Contains(raw, "://") {
		if _, _, err := net.SplitHostPort(raw); err != nil {
			return "", "", "", fmt.Errorf("want host:port or a URL, got %q: %v", raw, err)
		}
		return raw, "", "", nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", "", fmt.Errorf("%q: %v", raw, err)
	}
	scheme = strings.ToLower(u.Scheme)
	switch {
	case scheme != "http" && scheme != "https":
		return "", "", "", fmt.Errorf("scheme %q of %q: want http or https", u.Scheme, raw)
	case u.Host == "":
		return "", "", "", fmt.Errorf("%q has no host", raw)
	}
	return u.Host, scheme, u.Path, nil
}

// ParseEnvBool reads a boolean variable: true or false, in any case.
func ParseEnvBool(name, raw string) (bool, error) {
	switch {
	case strings.EqualFold(raw, "true"):
		return true, nil
	case strings.EqualFold(raw, "false"):
		return false, nil
	}
	return false, fmt.Errorf("%w: %s: want true or false, got %q", ErrInvalidEnv, name, raw)
}
