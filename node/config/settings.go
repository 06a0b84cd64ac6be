package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/chainotel/chainotel/node/telemetry"
)

// The keys (flag names) that change while the node runs.
const (
	KeyLogLevel          = "log-level"
	KeyMaxClientRequests = "max-client-requests"
	KeyCommitTimeout     = "commit-timeout"
	KeyMempoolSize       = "mempool-size"
	KeyMinFreeDisk       = "min-free-disk"
	KeyEnvironment       = "environment"
	KeyBaggageDenyKeys   = "baggage-deny-keys"
)

// ReloadableKeys lists the keys Settings holds, in the order logs name them.
func ReloadableKeys() []string {
	return []string{KeyLogLevel, KeyMaxClientRequests, KeyCommitTimeout, KeyMempoolSize, KeyMinFreeDisk,
		KeyEnvironment, KeyBaggageDenyKeys}
}

// IsReloadable reports whether key changes without a restart.
func IsReloadable(key string) bool {
	for _, k := range ReloadableKeys() {
		if k == key {
			return true
		}
	}
	return false
}

// Settings are the node's settings that change while it runs. A zero number
// means the flag's default, as it does at start (for MinFreeDisk, no check).
type Settings struct {
	// LogLevel is --log-level: a default level and per component levels.
	LogLevel LogSpec
	// MaxClientRequests is --max-client-requests: requests in flight per
	// client IP before 429.
	MaxClientRequests int
	// CommitTimeout is --commit-timeout: how long POST /tx waits for its block.
	CommitTimeout time.Duration
	// MempoolSize is --mempool-size: pending transactions before 429.
	MempoolSize int
	// MinFreeDisk is --min-free-disk: bytes kept free on the Badger filesystem.
	MinFreeDisk uint64
	// Environment is --environment: deployment.environment.name on every
	// signal and the environment label of chainotel_build_info.
	Environment string
	// BaggageDenyKeys is --baggage-deny-keys: the fragments of the baggage
	// keys removed from incoming requests; empty removes none.
	BaggageDenyKeys []string
}

// SettingsFromValues reads the reloadable keys from flag values (as
// flag.Value.String gives them) and validates them. Each error names its key.
func SettingsFromValues(vals map[string]string) (Settings, error) {
	var (
		s    Settings
		errs []error
	)
	for _, key := range ReloadableKeys() {
		raw, ok := vals[key]
		if !ok {
			errs = append(errs, &KeyError{Key: key, Err: errors.New("missing")})
			continue
		}
		if err := s.set(key, raw); err != nil {
			errs = append(errs, &KeyError{Key: key, Err: err})
		}
	}
	if err := errors.Join(append(errs, s.Validate())...); err != nil {
		return Settings{}, err
	}
	return s, nil
}

func (s *Settings) set(key, raw string) error {
	var err error
	switch key {
	case KeyLogLevel:
		s.LogLevel, err = ParseLogSpec(raw)
	case KeyMaxClientRequests:
		s.MaxClientRequests, err = strconv.Atoi(raw)
	case KeyCommitTimeout:
		s.CommitTimeout, err = time.ParseDuration(raw)
	case KeyMempoolSize:
		s.MempoolSize, err = strconv.Atoi(raw)
	case KeyMinFreeDisk:
		s.MinFreeDisk, err = strconv.ParseUint(raw, 10, 64)
	case KeyEnvironment:
		s.Environment, err = raw, telemetry.ValidateEnvironment(raw)
	case KeyBaggageDenyKeys:
		s.BaggageDenyKeys, err = telemetry.ParseBaggageDenyKeys(raw)
	default:
		return fmt.Errorf("not a reloadable key")
	}
	if err != nil {
		return fmt.Errorf("%q: %w", raw, unwrapNum(err))
	}
	return nil
}

// unwrapNum drops strconv's repetition of the input.
func unwrapNum(err error) error {
	var ne *strconv.NumError
	if errors.As(err, &ne) {
		return ne.Err
	}
	return err
}

// Validate reports every value out of range, each naming its key.
func (s Settings) Validate() error {
	var errs []error
	if s.MaxClientRequests < 0 {
		errs = append(errs, &KeyError{Key: KeyMaxClientRequests, Err: fmt.Errorf("must be >= 0 (0: the default), got %d", s.MaxClientRequests)})
	}
	if s.CommitTimeout < 0 {
		errs = append(errs, &KeyError{Key: KeyCommitTimeout, Err: fmt.Errorf("must be >= 0 (0: the default), got %s", s.CommitTimeout)})
	}
	if s.MempoolSize < 0 {
		errs = append(errs, &KeyError{Key: KeyMempoolSize, Err: fmt.Errorf("must be >= 0 (0: the default), got %d", s.MempoolSize)})
	}
	return errors.Join(errs...)
}

// Values are the settings as flag values, by key.
func (s Settings) Values() map[string]string {
	return map[string]string{
		KeyLogLevel:          s.LogLevel.String(),
		KeyMaxClientRequests: strconv.Itoa(s.MaxClientRequests),
		KeyCommitTimeout:     s.CommitTimeout.String(),
		KeyMempoolSize:       strconv.Itoa(s.MempoolSize),
		KeyMinFreeDisk:       strconv.FormatUint(s.MinFreeDisk, 10),
		KeyEnvironment:       s.Environment,
		KeyBaggageDenyKeys:   strings.Join(s.BaggageDenyKeys, ","),
	}
}

// KeyError is a problem with one key's value.
type KeyError struct {
	Key string
	// Where says where the value came from ("node.conf:3", "the command
	// line"); empty when unknown.
	Where string
	Err   error
}

func (e *KeyError) Error() string {
	if e.Where != "" {
		return fmt.Sprintf("%s: %s: %v", e.Where, e.Key, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.Key, e.Err)
}

func (e *KeyError) Unwrap() error { return e.Err }
