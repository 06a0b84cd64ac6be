package telemetry

import (
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/chainotel/chainotel/node/telemetry/internal/otlpexport"
	"github.com/chainotel/chainotel/semconv"
)

// Defaults of Config (its field comments give the values). Queue and batch
// sizes follow the SDK's own defaults (larger batches cost the collector less
// per span but leave more spans unexported when a node dies: README.md, "What
// it costs"); the batch timeout is shorter than the SDK's 5 s so that the
// collector's tail sampler sees a transaction's spans soon after it commits.
const (
	defaultQueueSize         = 2048
	defaultBatchSize         = 512
	defaultBatchTimeout      = time.Second
	defaultExportTimeout     = 10 * time.Second
	defaultPanicFlushTimeout = 5 * time.Second
	defaultLogLevel          = "info"
	defaultOTLPEndpoint      = otlpexport.DefaultEndpoint

	// PanicExitCode is the exit code after a recovered panic, the same code
	// the Go runtime uses for an unrecovered one.
	PanicExitCode = 2
)

// Standard OpenTelemetry environment variables read here. The span
// exporter's OTEL_EXPORTER_OTLP_* variables are read by internal/otlpexport, and the
// log exporter (otlploggrpc) reads its own; these are the ones that decide
// the target both share (resolveTarget).
const (
	envSDKDisabled     = "OTEL_SDK_DISABLED"
	envBSPQueueSize    = "OTEL_BSP_MAX_QUEUE_SIZE"
	envBSPBatchSize    = "OTEL_BSP_MAX_EXPORT_BATCH_SIZE"
	envBSPDelay        = "OTEL_BSP_SCHEDULE_DELAY"
	envBSPTimeout      = "OTEL_BSP_EXPORT_TIMEOUT"
	envBLRPQueueSize   = "OTEL_BLRP_MAX_QUEUE_SIZE"
	envBLRPBatchSize   = "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE"
	envBLRPDelay       = "OTEL_BLRP_SCHEDULE_DELAY"
	envBLRPTimeout     = "OTEL_BLRP_EXPORT_TIMEOUT"
	envOTLPEndpoint    = "OTEL_EXPORTER_OTLP_ENDPOINT"
	envOTLPTraces      = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	envOTLPLogs        = "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT"
	envOTLPInsecure    = "OTEL_EXPORTER_OTLP_INSECURE"
	envOTLPCertificate = "OTEL_EXPORTER_OTLP_CERTIFICATE"
)

// envTransportSecurity are the variables with which the environment, for
// both signals or one, decides between TLS and plain text.
var envTransportSecurity = []string{
	envOTLPInsecure, envOTLPCertificate,
	"OTEL_EXPORTER_OTLP_TRACES_INSECURE", "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
	"OTEL_EXPORTER_OTLP_LOGS_INSECURE", "OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE",
}

// Config says what Setup builds. Zero values mean the documented default.
type Config struct {
	// NodeID is the node's id, the resource's service.instance.id. Required.
	NodeID string
	// ChainID is the genesis-derived chain id (chain.id).
	ChainID string
	// Consensus is semconv.ConsensusRaft or semconv.ConsensusPoW (chain.consensus).
	Consensus string
	// ServiceVersion is the release (service.version), used by Sentry and
	// the chainotel_build_info metric; main passes buildinfo.Read's.
	ServiceVersion string
	// Revision is the VCS revision of the build ("-dirty" when modified),
	// GoVersion the toolchain's: labels of chainotel_build_info.
	Revision, GoVersion string
	// Environment is deployment.environment.name, e.g. "dev"; empty: none.
	// No control characters, no leading or trailing white space. It changes while
	// the node runs with Telemetry.SetEnvironment.
	Environment string

	// OTLPEndpoint is the --otlp-endpoint flag: "host:port" (plain text unless
	// TLS is set) or a URL whose scheme says it ("http://", "https://").
	// Empty: OTEL_EXPORTER_OTLP_ENDPOINT and its per-signal variants as the
	// exporters read them, else localhost:4317 in plain text.
	OTLPEndpoint string
	// TLS, when set, is the client TLS config for the collector connection,
	// typically mutual TLS with the cluster's certificates.
	TLS *tls.Config

	// LogLevel is debug, info, warn or error. Default info.
	LogLevel string
	// LogFile is the JSON log file, created with its folder if missing and
	// appended to. Empty: no file.
	LogFile string
	// Stderr receives the same JSON lines as LogFile. Nil: none.
	Stderr io.Writer

	// Registerer receives the telemetry self-metrics (drops, export
	// failures). Nil: the metrics are kept but not registered anywhere.
	Registerer prometheus.Registerer

	// Exit ends the process after a recovered panic has been recorded and
	// flushed; main passes os.Exit. Required: the library never exits itself.
	Exit func(code int)
	// PanicFlushTimeout bounds the flush after a panic. Default 5s.
	PanicFlushTimeout time.Duration

	// BaggageDenyKeys are the fragments of baggage keys removed from incoming
	// baggage: a key is removed when, lowercased and without "-", "_", "." and
	// spaces, it contains one of them. Nil: authorization, cookie, token,
	// password, passwd, secret, apikey, session, credential, privatekey,
	// bearer and jwt. Empty: nothing is removed. A fragment empty once
	// normalised is an error (it would remove every key). It changes while
	// the node runs with Telemetry.SetBaggageDenyKeys.
	BaggageDenyKeys []string

	// QueueSize bounds the spans, and separately the log records, held in
	// memory waiting for export; beyond it they are dropped and counted.
	// Default OTEL_BSP_MAX_QUEUE_SIZE / OTEL_BLRP_MAX_QUEUE_SIZE, else 2048.
	QueueSize int
	// BatchSize is the most spans or log records in one export. Default
	// OTEL_BSP_MAX_EXPORT_BATCH_SIZE / OTEL_BLRP_MAX_EXPORT_BATCH_SIZE, else
	// 512; never more than QueueSize.
	BatchSize int
	// BatchTimeout is the longest a span or record waits for a batch. Default
	// OTEL_BSP_SCHEDULE_DELAY / OTEL_BLRP_SCHEDULE_DELAY, else 1s.
	BatchTimeout time.Duration
	// ExportTimeout bounds one export, retries included. Default
	// OTEL_BSP_EXPORT_TIMEOUT / OTEL_BLRP_EXPORT_TIMEOUT, else 10s.
	ExportTimeout time.Duration

	// SpanExporter replaces the OTLP span exporter, for tests (for example
	// tracetest.NewInMemoryExporter). It still goes through the bounded queue.
	SpanExporter sdktrace.SpanExporter
	// LogExporter replaces the OTLP log exporter, for tests.
	LogExporter sdklog.Exporter
}

// batchEnv names the environment variables of one signal's batch processor.
type batchEnv struct {
	queueSize, batchSize, delay, timeout string
}

// spanBatchEnv names the batch span processor's variables (OTEL_BSP_*).
func spanBatchEnv() batchEnv {
	return batchEnv{envBSPQueueSize, envBSPBatchSize, envBSPDelay, envBSPTimeout}
}

// logBatchEnv names the batch log record processor's variables (OTEL_BLRP_*).
func logBatchEnv() batchEnv {
	return batchEnv{envBLRPQueueSize, envBLRPBatchSize, envBLRPDelay, envBLRPTimeout}
}

// validate checks c and reports the first field that is wrong.
func (c Config) validate() error {
	if strings.TrimSpace(c.NodeID) == "" {
		return fmt.Errorf("%w: NodeID is empty", errInvalidConfig)
	}
	switch c.Consensus {
	case "", semconv.ConsensusRaft, semconv.ConsensusPoW:
	default:
		return fmt.Errorf("%w: Consensus: want %q or %q, got %q",
			errInvalidConfig, semconv.ConsensusRaft, semconv.ConsensusPoW, c.Consensus)
	}
	if c.Exit == nil {
		return fmt.Errorf("%w: Exit is nil (pass os.Exit from main)", errInvalidConfig)
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		return err
	}
	if err := ValidateEnvironment(c.Environment); err != nil {
		return fmt.Errorf("%w: Environment %q: %w", errInvalidConfig, c.Environment, err)
	}
	if err := validateBaggageDenyKeys(c.BaggageDenyKeys); err != nil {
		return fmt.Errorf("%w: BaggageDenyKeys: %w", errInvalidConfig, err)
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"QueueSize", c.QueueSize}, {"BatchSize", c.BatchSize}} {
		if f.v < 0 {
			return fmt.Errorf("%w: %s: must be >= 0, got %d", errInvalidConfig, f.name, f.v)
		}
	}
	for _, f := range []struct {
		name string
		v    time.Duration
	}{{"BatchTimeout", c.BatchTimeout}, {"ExportTimeout", c.ExportTimeout}, {"PanicFlushTimeout", c.PanicFlushTimeout}} {
		if f.v < 0 {
			return fmt.Errorf("%w: %s: must be >= 0, got %s", errInvalidConfig, f.name, f.v)
		}
	}
	return nil
}

// parseLevel turns a --log-level value into a slog level.
func parseLevel(s string) (slog.Level, error) {
	if s == "" {
		s = defaultLogLevel
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("%w: LogLevel: want debug, info, warn or error, got %q", errInvalidConfig, s)
	}
	return l, nil
}

// batch resolves one signal's queue settings: Config, else environment, else
// the package defaults.
func (c Config) batch(env batchEnv) (otlpexport.BatchSettings, error) {
	var (
		s   otlpexport.BatchSettings
		err error
	)
	if s.QueueSize, err = pickInt(c.QueueSize, env.queueSize, defaultQueueSize); err != nil {
		return s, err
	}
	if s.BatchSize, err = pickInt(c.BatchSize, env.batchSize, defaultBatchSize); err != nil {
		return s, err
	}
	s.BatchSize = min(s.BatchSize, s.QueueSize)
	if s.BatchTimeout, err = pickMillis(c.BatchTimeout, env.delay, defaultBatchTimeout); err != nil {
		return s, err
	}
	if s.ExportTimeout, err = pickMillis(c.ExportTimeout, env.timeout, defaultExportTimeout); err != nil {
		return s, err
	}
	return s, nil
}

func pickInt(v int, envName string, def int) (int, error) {
	if v > 0 {
		return v, nil
	}
	raw, ok := os.LookupEnv(envName)
	if !ok || raw == "" {
		return def, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%w: %s: want a positive integer, got %q", errInvalidEnv, envName, raw)
	}
	return n, nil
}

// pickMillis reads durations the way the specification writes them in the
// environment: an integer number of milliseconds.
func pickMillis(v time.Duration, envName string, def time.Duration) (time.Duration, error) {
	if v > 0 {
		return v, nil
	}
	raw, ok := os.LookupEnv(envName)
	if !ok || raw == "" {
		return def, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%w: %s: want a positive number of milliseconds, got %q", errInvalidEnv, envName, raw)
	}
	return time.Duration(n) * time.Millisecond, nil
}

// sdkDisabled reports OTEL_SDK_DISABLED=true, rejecting values that are
// neither true nor false rather than guessing.
func sdkDisabled() (bool, error) {
	raw := strings.TrimSpace(os.Getenv(envSDKDisabled))
	if raw == "" {
		return false, nil
	}
	return otlpexport.ParseEnvBool(envSDKDisabled, raw)
}
