package telemetry

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"

	"github.com/chainotel/chainotel/internal/otlpsink"
	"github.com/chainotel/chainotel/semconv"
)

// testCA is a throwaway cluster CA, standing in for the certificates that
// node/pki makes, so that mutual TLS to the collector is tested for real.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "chainotel test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

// issue signs a certificate for name, valid for 127.0.0.1, as server and client.
func (ca *testCA) issue(t *testing.T, name string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	require.NoError(t, err)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func clientTLS(t *testing.T, ca *testCA) *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{ca.issue(t, "node0")},
		RootCAs:      ca.pool,
		MinVersion:   tls.VersionTLS13,
	}
}

// exportOneTrace ends a parent and child span and logs inside the child.
func exportOneTrace(t *testing.T, tel *Telemetry) (traceID string) {
	t.Helper()
	tracer := tel.TracerProvider.Tracer("test")
	ctx, parent := tracer.Start(context.Background(), semconv.SpanConsensusCommit)
	parent.SetAttributes(attribute.Int64(semconv.BlockHeightKey, 7))
	cctx, child := tracer.Start(ctx, semconv.SpanBlockApply)
	tel.Logger.InfoContext(cctx, "block applied", semconv.BlockHeightKey, 7)
	child.End()
	parent.End()
	return parent.SpanContext().TraceID().String()
}

func waitExported(t *testing.T, r *otlpsink.Sink, traceID string) {
	t.Helper()
	require.Eventually(t, func() bool { return len(r.Spans()) == 2 && len(r.Logs()) == 1 },
		waitFor, 10*time.Millisecond, "spans and log record never reached the receiver")
	for _, s := range r.Spans() {
		require.Equal(t, traceID, s.TraceID().String())
		v, ok := s.ResourceAttr(semconv.ServiceInstanceIDKey)
		require.True(t, ok)
		require.Equal(t, "node0", v)
	}
	lr := r.Logs()[0]
	require.Equal(t, traceID, lr.TraceID().String())
	require.Equal(t, "block applied", lr.Body().Str())
}

func TestExportsOverOTLPgRPC(t *testing.T) {
	r := otlpsink.Start(t)
	c := baseConfig(t)
	c.OTLPEndpoint = r.Addr()
	c.BatchTimeout = 20 * time.Millisecond
	tel, err := Setup(context.Background(), c)
	require.NoError(t, err)
	shutdownAtCleanup(t, tel)
	require.Equal(t, r.Addr(), tel.Endpoint)

	// No flush: the batch timeout alone must send them.
	waitExported(t, r, exportOneTrace(t, tel))
	var kinds []ptrace.SpanKind
	for _, s := range r.Spans() {
		kinds = append(kinds, s.Kind())
	}
	require.Len(t, kinds, 2)
}

func TestEndpointFromEnvironment(t *testing.T) {
	r := otlpsink.Start(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+r.Addr())
	c := baseConfig(t)
	tel, err := Setup(context.Background(), c)
	require.NoError(t, err)
	shutdownAtCleanup(t, tel)
	require.Contains(t, tel.Endpoint, "OTEL_EXPORTER_OTLP_ENDPOINT")

	traceID := exportOneTrace(t, tel)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	require.NoError(t, tel.forceFlush(ctx))
	waitExported(t, r, traceID)
}

func TestExportsOverMutualTLS(t *testing.T) {
	ca := newTestCA(t)
	r := otlpsink.StartWith(t, otlpsink.Options{TLS: &tls.Config{
		Certificates: []tls.Certificate{ca.issue(t, "collector")},
		ClientCAs:    ca.pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS13,
	}})

	// With the cluster certificate the collector accepts the node.
	c := baseConfig(t)
	c.OTLPEndpoint = r.Addr()
	c.TLS = clientTLS(t, ca)
	tel, err := Setup(context.Background(), c)
	require.NoError(t, err)
	shutdownAtCleanup(t, tel)
	traceID := exportOneTrace(t, tel)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	require.NoError(t, tel.forceFlush(ctx))
	waitExported(t, r, traceID)

	// Without a client certificate it is refused, and the loss is counted.
	c = baseConfig(t)
	c.OTLPEndpoint = r.Addr()
	c.TLS = &tls.Config{RootCAs: ca.pool, MinVersion: tls.VersionTLS13}
	c.ExportTimeout = 300 * time.Millisecond
	c.BatchTimeout = time.Hour // only the flush below exports, so it sees the failure
	reg := prometheus.NewRegistry()
	c.Registerer = reg
	stranger, err := Setup(context.Background(), c)
	require.NoError(t, err)
	_, span := stranger.TracerProvider.Tracer("test").Start(context.Background(), semconv.SpanBlockApply)
	span.End()
	ctx2, cancel2 := context.WithTimeout(context.Background(), waitFor)
	defer cancel2()
	require.Error(t, stranger.forceFlush(ctx2), "the collector refused the node: the flush must fail")
	require.Equal(t, 1.0, counterValue(t, reg, metricDroppedSpans, "reason", reasonExportFailed))
	require.Equal(t, 1.0, counterValue(t, reg, metricExportFailures, "signal", signalTraces))
	require.NoError(t, stranger.Shutdown(ctx2))
	require.Len(t, r.Spans(), 2, "the receiver must not have accepted the stranger's span")
}
