package chainsamplingprocessor

import (
	"fmt"
	"time"

	"go.opentelemetry.io/collector/component"
)

// Config is the chainsampling processor's configuration. The sampling rules
// themselves live in the policy file, which is reloaded when it changes.
type Config struct {
	// PolicyFile is the path of the YAML policy file (required). It is
	// watched and reloaded live; see README.md for its format.
	PolicyFile string `mapstructure:"policy_file"`

	// DecisionWait is how long after a trace's first span it is decided.
	DecisionWait time.Duration `mapstructure:"decision_wait"`

	// DecisionWaitAfterRoot decides a trace this long after its root span
	// arrived, when that is earlier than DecisionWait; 0 turns it off.
	DecisionWaitAfterRoot time.Duration `mapstructure:"decision_wait_after_root"`

	// CommitGrace decides a trace whose transaction committed this long
	// after the commit was seen (the first block.apply span linking to
	// it), when that is earlier than the waits above: the time the other
	// nodes' spans of the trace need to arrive. 0 turns it off.
	CommitGrace time.Duration `mapstructure:"commit_grace"`

	// MaxTraces bounds the traces buffered at once; when it is reached the
	// oldest traces are decided early (never dropped undecided).
	MaxTraces int `mapstructure:"max_traces"`

	// MaxBytes bounds the encoded span bytes buffered at once; when it is
	// reached the oldest traces are decided early.
	MaxBytes int64 `mapstructure:"max_bytes"`

	// DecisionCacheSize is how many decided trace ids are remembered so that
	// late spans follow their trace's decision.
	DecisionCacheSize int `mapstructure:"decision_cache_size"`

	// MaxSpansPerSecond is a global budget on kept spans: above it, the keep
	// probability of rules not marked always is scaled down, and back up
	// when the load falls. 0 means no budget.
	MaxSpansPerSecond int `mapstructure:"max_spans_per_second"`

	// Compression of the buffered spans: "none"; "s2" for about a third of
	// the memory per buffered span at about a quarter more CPU; or "auto", s2
	// only while more than half of max_bytes is in use.
	Compression string `mapstructure:"compression"`

	// WhenFull is what happens to a new batch while max_traces or max_bytes
	// is reached: "decide_early" decides the oldest traces before their
	// wait to make room; "refuse" refuses the batch with a retryable error
	// (gRPC UNAVAILABLE, HTTP 503 at the OTLP receiver) so that the sender
	// retries it later. Both are counted in the processor's metrics.
	WhenFull string `mapstructure:"when_full"`

	// WatchPolicyFile reloads the policy file when it changes.
	WatchPolicyFile bool `mapstructure:"watch_policy_file"`

	// PreviewTraces is how many recently decided traces (their summaries,
	// span counts and decision times) are kept for the policy preview served
	// by the chainpolicypreview extension; 0 keeps none and registers no
	// preview.
	PreviewTraces int `mapstructure:"preview_traces"`

	// prevent unkeyed literal initialization
	_ struct{}
}

var _ component.Config = (*Config)(nil)

// Values of compression.
const (
	compressionNone = "none"
	compressionS2   = "s2"
	compressionAuto = "auto"
)

// Values of when_full.
const (
	whenFullDecideEarly = "decide_early"
	whenFullRefuse      = "refuse"
)

// Validate checks each field and names the key and the bad value.
func (cfg *Config) Validate() error {
	switch {
	case cfg.PolicyFile == "":
		return fmt.Errorf("%w: policy_file: is required", errInvalidConfig)
	case cfg.DecisionWait <= 0:
		return fmt.Errorf("%w: decision_wait: must be > 0, got %s", errInvalidConfig, cfg.DecisionWait)
	case cfg.DecisionWaitAfterRoot < 0:
		return fmt.Errorf("%w: decision_wait_after_root: must be >= 0, got %s", errInvalidConfig, cfg.DecisionWaitAfterRoot)
	case cfg.CommitGrace < 0:
		return fmt.Errorf("%w: commit_grace: must be >= 0, got %s", errInvalidConfig, cfg.CommitGrace)
	case cfg.MaxTraces <= 0:
		return fmt.Errorf("%w: max_traces: must be > 0, got %d", errInvalidConfig, cfg.MaxTraces)
	case cfg.MaxBytes <= 0:
		return fmt.Errorf("%w: max_bytes: must be > 0, got %d", errInvalidConfig, cfg.MaxBytes)
	case cfg.DecisionCacheSize <= 0:
		return fmt.Errorf("%w: decision_cache_size: must be > 0, got %d", errInvalidConfig, cfg.DecisionCacheSize)
	case cfg.Compression != compressionNone && cfg.Compression != compressionS2 && cfg.Compression != compressionAuto:
		return fmt.Errorf("%w: compression: must be %q, %q or %q, got %q", errInvalidConfig, compressionNone, compressionS2, compressionAuto, cfg.Compression)
	case cfg.PreviewTraces < 0:
		return fmt.Errorf("%w: preview_traces: must be >= 0 (0 = no preview), got %d", errInvalidConfig, cfg.PreviewTraces)
	case cfg.WhenFull != whenFullDecideEarly && cfg.WhenFull != whenFullRefuse:
		return fmt.Errorf("%w: when_full: must be %q or %q, got %q", errInvalidConfig, whenFullDecideEarly, whenFullRefuse, cfg.WhenFull)
	case cfg.MaxSpansPerSecond < 0:
		return fmt.Errorf("%w: max_spans_per_second: must be >= 0 (0 = no budget), got %d", errInvalidConfig, cfg.MaxSpansPerSecond)
	}
	return nil
}
