package chainenrichprocessor

import (
	"errors"
	"fmt"

	"go.opentelemetry.io/collector/component"

	"github.com/chainotel/chainotel/processors/chainenrichprocessor/internal/classify"
	"github.com/chainotel/chainotel/processors/chainenrichprocessor/internal/redact"
	"github.com/chainotel/chainotel/semconv"
)

// Config is the chainenrich processor's configuration.
type Config struct {
	// Environment fills deployment.environment.name on resources that lack
	// it. Empty: leave resources as they are.
	Environment string `mapstructure:"environment"`
	// Release fills service.version on resources that lack it. Empty: leave
	// resources as they are.
	Release string `mapstructure:"release"`
	// Head configures chain head tracking.
	Head HeadConfig `mapstructure:"head"`
	// Classification configures how errors get their error.type.
	Classification ClassificationConfig `mapstructure:"classification"`
	// Redaction configures what is removed or masked before data leaves.
	Redaction RedactionConfig `mapstructure:"redaction"`
}

var _ component.Config = (*Config)(nil)

// HeadConfig says where heads come from and how many are kept.
type HeadConfig struct {
	// Sources are the span names (and log event names) that report a block
	// reaching a node: their chain.block.height, chain.block.hash and
	// chain.state_root move the head of the node's (chain.id,
	// service.instance.id) forward. Error spans never move it.
	Sources []string `mapstructure:"sources"`
	// MaxTracked bounds the number of (chain, node) heads kept; the least
	// recently updated is forgotten first.
	MaxTracked int `mapstructure:"max_tracked"`
}

// ClassificationConfig holds the ordered error.type rules.
type ClassificationConfig struct {
	// Rules are tried in order on every error without an error.type; the
	// first that matches sets it. Setting rules replaces the defaults.
	Rules []RuleConfig `mapstructure:"rules"`
	// Fallback is the error.type of an error no rule matches. Empty: leave
	// it unset.
	Fallback string `mapstructure:"fallback"`
}

// RuleConfig is one classification rule; all its conditions must match.
type RuleConfig struct {
	// ErrorType is the error.type given on a match.
	ErrorType string `mapstructure:"error_type"`
	// SpanName is a regular expression on the span name (never matches logs).
	SpanName string `mapstructure:"span_name"`
	// ExceptionType is a regular expression on exception.type.
	ExceptionType string `mapstructure:"exception_type"`
	// Message is a regular expression on exception.message, else the span
	// status message or the log body.
	Message string `mapstructure:"message"`
	// Attributes maps attribute keys (span/log first, then resource) to
	// regular expressions their values must match.
	Attributes map[string]string `mapstructure:"attributes"`
}

// RedactionConfig lists secrets to drop and value patterns to mask.
type RedactionConfig struct {
	// SecretKeys drop every attribute whose key contains one of them,
	// case-insensitively and ignoring '.', '_', '-' and spaces, at any
	// depth of nested maps. Setting it replaces the defaults.
	SecretKeys []string `mapstructure:"secret_keys"`
	// Patterns mask the parts of string values (attributes, log bodies,
	// span status messages) that match. Setting it replaces the defaults.
	Patterns []PatternConfig `mapstructure:"patterns"`
}

// PatternConfig is one value pattern to mask.
type PatternConfig struct {
	// Name names the pattern in metrics and the default replacement.
	Name string `mapstructure:"name"`
	// Regex is the RE2 regular expression of what to mask.
	Regex string `mapstructure:"regex"`
	// Luhn masks a match only if its digits pass the Luhn check (cards).
	Luhn bool `mapstructure:"luhn"`
	// Replacement replaces each match; default "[REDACTED:<name>]".
	Replacement string `mapstructure:"replacement"`
}

// Default value patterns. Phone numbers need an international "+" prefix,
// an area code in parentheses or the dashed/dotted 3-3-4 form, so bare
// numbers (heights, amounts, timestamps) and card-like digit groups are
// left to the card pattern and its Luhn check.
const (
	cardRegex  = `\b(?:\d[ -]?){12,18}\d\b`
	phoneRegex = `\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]\d{2,4}){1,3}\b` +
		`|\(\d{2,4}\)[ .-]?\d{3,4}[ .-]?\d{3,4}\b` +
		`|\b\d{3}[.-]\d{3}[.-]\d{4}\b`
	emailRegex = `[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}`
)

func defaultConfig() *Config {
	return &Config{
		Head: HeadConfig{
			Sources:    []string{semconv.SpanBlockApply, semconv.SpanConsensusCommit, semconv.SpanSyncApply},
			MaxTracked: 4096,
		},
		Classification: ClassificationConfig{
			Rules:    defaultRules(),
			Fallback: semconv.ErrorInternal,
		},
		Redaction: RedactionConfig{
			SecretKeys: []string{
				"authorization", "cookie", "set-cookie", "token", "api_key", "password",
				"passwd", "secret", "private_key", "mnemonic", "seed_phrase",
			},
			Patterns: []PatternConfig{
				{Name: "card", Regex: cardRegex, Luhn: true},
				{Name: "email", Regex: emailRegex},
				{Name: "phone", Regex: phoneRegex},
			},
		},
	}
}

// defaultRules map the node's errors (see semconv/CONVENTIONS.md): its own
// error spans first, then what its exceptions and messages say.
func defaultRules() []RuleConfig {
	return []RuleConfig{
		{ErrorType: semconv.ErrorGoroutinePanic, SpanName: `^goroutine\.panic$`},
		{ErrorType: semconv.ErrorGoroutinePanic, ExceptionType: `(?i)panic`},
		{ErrorType: semconv.ErrorConsensusTimeout, SpanName: `^consensus\.timeout$`},
		{ErrorType: semconv.ErrorP2PDisconnect, SpanName: `^p2p\.disconnect$`},
		{ErrorType: semconv.ErrorValidation, SpanName: `^validate\.`},
		{ErrorType: semconv.ErrorStorage, ExceptionType: `(?i)badger`},
		{ErrorType: semconv.ErrorStorage, Message: `(?i)badger`},
		{ErrorType: semconv.ErrorMempoolFull, Message: `(?i)mempool (is )?full`},
		{ErrorType: semconv.ErrorConsensusTimeout, SpanName: `^consensus\.`, Message: `(?i)timeout|timed out|deadline exceeded|lost leader|no leader`},
		{ErrorType: semconv.ErrorP2PDisconnect, Attributes: map[string]string{semconv.RPCSystemKey: `^grpc$`},
			Message: `(?i)unavailable|connection (refused|reset|closed)|transport is closing|peer .*(disconnect|gone)|EOF`},
		{ErrorType: semconv.ErrorP2PDisconnect, Message: `(?i)peer .*disconnect|connection refused`},
		{ErrorType: semconv.ErrorValidation, Message: `(?i)invalid (transaction|signature|nonce)|insufficient (balance|funds|fee)`},
	}
}

// Validate checks the configuration, naming the key and the bad value.
func (cfg *Config) Validate() error {
	var errs []error
	if cfg.Head.MaxTracked <= 0 {
		errs = append(errs, fmt.Errorf("head.max_tracked: must be > 0, got %d", cfg.Head.MaxTracked))
	}
	for i, s := range cfg.Head.Sources {
		if s == "" {
			errs = append(errs, fmt.Errorf("head.sources[%d]: must not be empty", i))
		}
	}
	if _, err := cfg.classifier(); err != nil {
		errs = append(errs, fmt.Errorf("classification.%w", err))
	}
	if _, err := cfg.redactor(); err != nil {
		errs = append(errs, fmt.Errorf("redaction.%w", err))
	}
	return errors.Join(errs...)
}

func (cfg *Config) classifier() (*classify.Classifier, error) {
	rules := make([]classify.Rule, len(cfg.Classification.Rules))
	for i, r := range cfg.Classification.Rules {
		rules[i] = classify.Rule{
			ErrorType: r.ErrorType, SpanName: r.SpanName, ExceptionType: r.ExceptionType,
			Message: r.Message, Attributes: r.Attributes,
		}
	}
	return classify.New(rules, cfg.Classification.Fallback)
}

func (cfg *Config) redactor() (*redact.Redactor, error) {
	ps := make([]redact.Pattern, len(cfg.Redaction.Patterns))
	for i, p := range cfg.Redaction.Patterns {
		ps[i] = redact.Pattern{Name: p.Name, Regex: p.Regex, Luhn: p.Luhn, Replacement: p.Replacement}
	}
	return redact.New(cfg.Redaction.SecretKeys, ps)
}
