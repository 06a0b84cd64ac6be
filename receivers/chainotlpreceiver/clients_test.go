package chainotlpreceiver

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configtls"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/credentials"

	"github.com/chainotel/chainotel/semconv"
)

// selfSigned writes a certificate for 127.0.0.1 and its key into dir and
// returns their paths and a pool that trusts it.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "chainotlp test"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600))
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestRealClientsOverTLS: the OpenTelemetry Go SDK's OTLP/gRPC exporter
// (gzip) and an HTTP client post to chainotlp over TLS; every span of the
// keep-all policy comes out, decoded, stamped with its rule.
func TestRealClientsOverTLS(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t)
	tlsCfg := configtls.ServerConfig{Config: configtls.Config{CertFile: certFile, KeyFile: keyFile}}
	sink := new(consumertest.TracesSink)
	ep := startChain(t, sink, func(cfg *Config) {
		cfg.Protocols.GRPC.Get().TLS = configoptional.Some(tlsCfg)
		cfg.Protocols.HTTP.Get().ServerConfig.TLS = configoptional.Some(tlsCfg)
	})

	ctx := context.Background()
	exp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(ep.grpc),
		otlptracegrpc.WithTLSCredentials(credentials.NewClientTLSFromCert(pool, "")),
		otlptracegrpc.WithCompressor("gzip"))
	require.NoError(t, err)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	tr := tp.Tracer("chainotlp-test")
	for range 5 {
		_, root := tr.Start(ctx, "root")
		_, child := tr.Start(trace.ContextWithSpan(ctx, root), "child")
		child.End()
		root.End()
	}
	require.NoError(t, tp.Shutdown(ctx))

	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "https://"+ep.http+"/v1/traces",
		bytes.NewReader(encode(t, sampleTraces(4))))
	require.NoError(t, err)
	req.Header.Set("Content-Type", pbContentType)
	resp, err := client.Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusOK, resp.StatusCode)

	require.Eventually(t, func() bool { return sink.SpanCount() == 5*2+4 }, 30*time.Second, 10*time.Millisecond,
		"spans out: %d", sink.SpanCount())
	for _, td := range sink.AllTraces() {
		rss := td.ResourceSpans()
		for i := 0; i < rss.Len(); i++ {
			sss := rss.At(i).ScopeSpans()
			for j := 0; j < sss.Len(); j++ {
				spans := sss.At(j).Spans()
				for k := 0; k < spans.Len(); k++ {
					rule, ok := spans.At(k).Attributes().Get(semconv.SamplingRuleKey)
					require.True(t, ok)
					require.Equal(t, "all", rule.AsString())
				}
			}
		}
	}
}
