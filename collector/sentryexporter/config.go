package sentryexporter

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/getsentry/sentry-go"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/chainotel/chainotel/semconv"
)

// DSNEnv is the environment variable the DSN comes from when the config has
// none.
const DSNEnv = "SENTRY_DSN"

// Config is the chainsentry exporter's configuration.
type Config struct {
	// DSN is the Sentry project's DSN. Empty: read SENTRY_DSN.
	DSN configopaque.String `mapstructure:"dsn"`
	// Tags are the attributes (span or log first, then resource) copied
	// into event tags; a name ending in '*' is a prefix.
	Tags []string `mapstructure:"tags"`
	// RateLimit bounds bursts of the same error (per fingerprint).
	RateLimit RateLimitConfig `mapstructure:"rate_limit"`

	// TimeoutConfig bounds one push of a batch (one request per event).
	exporterhelper.TimeoutConfig `mapstructure:",squash"`
	// QueueConfig is the sending queue (set storage for a persistent queue
	// on a file_storage extension).
	QueueConfig configoptional.Optional[exporterhelper.QueueBatchConfig] `mapstructure:"sending_queue"`
	// BackOffConfig is the retry policy while Sentry is down or limits us.
	BackOffConfig configretry.BackOffConfig `mapstructure:"retry_on_failure"`
}

var _ component.Config = (*Config)(nil)

// RateLimitConfig is a token bucket per fingerprint.
type RateLimitConfig struct {
	// Burst is how many events of one fingerprint go through at once; 0
	// turns the rate limit off.
	Burst int `mapstructure:"burst"`
	// Interval is how long the bucket takes to refill completely.
	Interval time.Duration `mapstructure:"interval"`
	// MaxFingerprints bounds the fingerprints remembered.
	MaxFingerprints int `mapstructure:"max_fingerprints"`
}

func defaultConfig() *Config {
	queue := exporterhelper.NewDefaultQueueConfig()
	backoff := configretry.NewDefaultBackOffConfig()
	// Nothing accepted is given up while Sentry is down: the queue's size
	// bounds what is held, not a retry deadline.
	backoff.MaxElapsedTime = 0
	timeout := exporterhelper.NewDefaultTimeoutConfig()
	timeout.Timeout = 30 * time.Second
	return &Config{
		Tags: []string{
			"chain.*", "consensus.*", "p2p.*", "sync.*", semconv.ErrorTypeKey,
			semconv.RPCMethodKey, semconv.HTTPRouteKey, semconv.ServiceNameKey,
		},
		RateLimit: RateLimitConfig{Burst: 10, Interval: time.Minute, MaxFingerprints: 10_000},

		TimeoutConfig: timeout,
		QueueConfig:   configoptional.Some(queue),
		BackOffConfig: backoff,
	}
}

// dsn is the configured DSN, else SENTRY_DSN.
func (cfg *Config) dsn() string {
	if cfg.DSN != "" {
		return string(cfg.DSN)
	}
	return os.Getenv(DSNEnv)
}

// Validate checks the configuration, naming the key and the bad value (the
// DSN's secret is never printed).
func (cfg *Config) Validate() error {
	var errs []error
	switch dsn := cfg.dsn(); dsn {
	case "":
		errs = append(errs, fmt.Errorf("dsn: %w: set dsn or the %s environment variable", errMissingDSN, DSNEnv))
	default:
		if _, err := sentry.NewDsn(dsn); err != nil {
			errs = append(errs, fmt.Errorf("dsn: %w: %w", errMalformedDSN, err))
		}
	}
	if cfg.RateLimit.Burst < 0 {
		errs = append(errs, fmt.Errorf("rate_limit.burst: must be >= 0, got %d", cfg.RateLimit.Burst))
	}
	if cfg.RateLimit.Burst > 0 {
		if cfg.RateLimit.Interval <= 0 {
			errs = append(errs, fmt.Errorf("rate_limit.interval: must be > 0, got %v", cfg.RateLimit.Interval))
		}
		if cfg.RateLimit.MaxFingerprints <= 0 {
			errs = append(errs, fmt.Errorf("rate_limit.max_fingerprints: must be > 0, got %d", cfg.RateLimit.MaxFingerprints))
		}
	}
	for i, t := range cfg.Tags {
		if t == "" || t == "*" {
			errs = append(errs, fmt.Errorf("tags[%d]: must name an attribute or a prefix, got %q", i, t))
		}
	}
	return errors.Join(errs...)
}
