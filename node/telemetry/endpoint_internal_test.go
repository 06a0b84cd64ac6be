package telemetry

import (
	"crypto/tls"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestResolveTarget(t *testing.T) {
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS13}
	tests := []struct {
		name         string
		flag         string
		tls          *tls.Config
		env          map[string]string
		wantEndpoint string
		wantInsecure bool
	}{
		{name: "nothing set: the local collector in plain text", wantEndpoint: "localhost:4317", wantInsecure: true},
		{name: "nothing set, TLS given", tls: tlsCfg, wantEndpoint: "localhost:4317"},
		{name: "nothing set, env asks for TLS", env: map[string]string{envOTLPCertificate: "/ca.pem"}, wantEndpoint: "localhost:4317"},
		{name: "nothing set, traces env asks for TLS", env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE": "/ca.pem"}, wantEndpoint: "localhost:4317"},
		{name: "nothing set, traces env decides on plain text", env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_INSECURE": "false"}, wantEndpoint: "localhost:4317"},
		{name: "flag host:port", flag: "collector:4317", wantEndpoint: "collector:4317", wantInsecure: true},
		{name: "flag host:port with TLS", flag: "collector:4317", tls: tlsCfg, wantEndpoint: "collector:4317"},
		{name: "flag http URL", flag: "http://collector:4317", wantEndpoint: "collector:4317", wantInsecure: true},
		{name: "flag https URL", flag: "https://collector:4317", wantEndpoint: "collector:4317"},
		{name: "flag wins over env", flag: "a:1", env: map[string]string{envOTLPEndpoint: "http://b:2"}, wantEndpoint: "a:1", wantInsecure: true},
		{name: "env left to the exporters", env: map[string]string{envOTLPEndpoint: "http://b:2"}},
		{name: "per-signal env left to the exporters", env: map[string]string{envOTLPTraces: "https://b:2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range append([]string{envOTLPEndpoint, envOTLPTraces, envOTLPLogs}, envTransportSecurity...) {
				t.Setenv(k, "")
			}
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			got, err := Config{OTLPEndpoint: tt.flag, TLS: tt.tls}.resolveTarget()
			require.NoError(t, err)
			require.Equal(t, tt.wantEndpoint, got.endpoint)
			require.Equal(t, tt.wantInsecure, got.insecure)
			require.NotEmpty(t, got.describe)
		})
	}
}

func TestSetupFailsOnBadExporterVariable(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "")
	t.Setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "brotli")
	_, err := Setup(t.Context(), Config{NodeID: "node0", Exit: func(int) {}})
	require.ErrorIs(t, err, errInvalidEnv)
	require.ErrorContains(t, err, `OTEL_EXPORTER_OTLP_COMPRESSION: want gzip or none, got "brotli"`)
}
