package telemetry_test

import (
	"context"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"

	"github.com/chainotel/chainotel/node/telemetry"
	"github.com/chainotel/chainotel/semconv"
)

// How main wires the package (compiled, not run).
func ExampleSetup() {
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	tel, err := telemetry.Setup(ctx, telemetry.Config{
		NodeID:         "node0",
		ChainID:        "chainotel-dev",
		Consensus:      semconv.ConsensusRaft,
		ServiceVersion: "0.3.0",
		Environment:    "dev",
		OTLPEndpoint:   "", // --otlp-endpoint; empty: OTEL_EXPORTER_OTLP_ENDPOINT, else localhost:4317
		LogLevel:       "info",
		LogFile:        "logs/node0/app.log",
		Stderr:         os.Stderr,
		Registerer:     reg,
		Exit:           os.Exit,
	})
	if err != nil {
		os.Exit(1)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = tel.Shutdown(sctx)
	}()
	tel.SetGlobals()
	tel.Logger.Info("telemetry ready", "otlp", tel.Endpoint)

	// The HTTP API, with server spans joined to the caller's trace.
	api := otelhttp.NewHandler(http.NotFoundHandler(), "api",
		otelhttp.WithTracerProvider(tel.TracerProvider),
		otelhttp.WithPropagators(tel.Propagator))
	// /metrics in OpenMetrics, so that exemplars are exposed.
	metrics := promhttp.HandlerFor(reg, promhttp.HandlerOpts{EnableOpenMetrics: true})
	_, _ = api, metrics

	// Every long-lived goroutine runs under the panic guard.
	tel.Go(ctx, "raft.loop", func(ctx context.Context) { <-ctx.Done() })
}
