package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chainotel/chainotel/node"
	"github.com/chainotel/chainotel/node/buildinfo"
	"github.com/chainotel/chainotel/node/chain"
	"github.com/chainotel/chainotel/node/config"
	"github.com/chainotel/chainotel/node/pki"
	"github.com/chainotel/chainotel/node/telemetry"
)

// telemetryShutdownTimeout bounds the final flush of spans and logs on exit.
const telemetryShutdownTimeout = 5 * time.Second

// telemetryFlags are the command line's telemetry settings.
type telemetryFlags struct {
	endpoint    string // --otlp-endpoint
	tls         bool   // --otlp-tls: mutual TLS with the cluster certificates
	environment string // --environment
	// baggageDenyKeys is --baggage-deny-keys, comma-separated.
	baggageDenyKeys string
	logLevel        string
	logFile         logFileFlags
}

// setupTelemetry builds the node's telemetry from the flags and OTEL_*
// and plugs it into cfg's seams. The genesis names the chain on the
// resource; a genesis that does not load is left for node.New to report.
// The returned closer closes the log file after the telemetry's shutdown.
func setupTelemetry(ctx context.Context, cfg *node.Config, f telemetryFlags, reg prometheus.Registerer) (*telemetry.Telemetry, io.Closer, error) {
	spec, err := config.ParseLogSpec(f.logLevel)
	if err != nil {
		return nil, nil, fmt.Errorf("--log-level %q: %w", f.logLevel, err)
	}
	denyKeys, err := telemetry.ParseBaggageDenyKeys(f.baggageDenyKeys)
	if err != nil {
		return nil, nil, fmt.Errorf("--baggage-deny-keys %q: %w", f.baggageDenyKeys, err)
	}
	chainID := ""
	if g, err := chain.LoadGenesis(cfg.GenesisPath); err == nil {
		chainID = g.ChainID
	}
	var tlsCfg *tls.Config
	if f.tls {
		b, err := pki.LoadNode(cfg.TLSDir, cfg.NodeID)
		if err != nil {
			return nil, nil, fmt.Errorf("--otlp-tls: %w (certificates are read from --tls-dir %s)", err, cfg.TLSDir)
		}
		// The collector's certificate must come from the cluster CA (make
		// certs NODES=node0,node1,node2,collector); the node presents its own.
		tlsCfg = b.ClientConfig("")
	}
	// The rotated log file goes in beside stderr, so telemetry.Config's
	// LogFile (a file without rotation) stays empty.
	logOut, logCloser, err := f.logFile.open(cfg.NodeID)
	if err != nil {
		return nil, nil, err
	}
	build := buildinfo.Read()
	tel, err := telemetry.Setup(ctx, telemetry.Config{
		NodeID:          cfg.NodeID,
		ChainID:         chainID,
		Consensus:       cfg.Consensus,
		ServiceVersion:  build.Version,
		Revision:        build.RevisionLabel(),
		GoVersion:       build.GoVersion,
		Environment:     f.environment,
		BaggageDenyKeys: denyKeys,
		OTLPEndpoint:    f.endpoint,
		TLS:             tlsCfg,
		LogLevel:        spec.Default.String(),
		Stderr:          logOut,
		Registerer:      reg,
		Exit:            os.Exit,
	})
	if err != nil {
		_ = logCloser.Close()
		return nil, nil, fmt.Errorf("telemetry: %w", err)
	}
	tel.Levels.Set(spec.Default, spec.Components)
	tel.SetGlobals()
	cfg.Logger, cfg.TracerProvider, cfg.Propagator, cfg.Go = tel.Logger, tel.TracerProvider, tel.Propagator, tel.Go
	cfg.OnPanic = tel.RecordPanic
	return tel, logCloser, nil
}

// shutdownTelemetry flushes what is queued, within telemetryShutdownTimeout
// even when ctx has ended (it has, on Ctrl-C).
func shutdownTelemetry(ctx context.Context, tel *telemetry.Telemetry) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), telemetryShutdownTimeout)
	defer cancel()
	if err := tel.Shutdown(sctx); err != nil {
		fmt.Fprintln(os.Stderr, "blockchain: flush telemetry:", err)
	}
}
