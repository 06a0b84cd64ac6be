package config

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// MetricReloads counts configuration changes by result.
const MetricReloads = "chainotel_config_reloads_total"

// Results of a configuration change, the values of MetricReloads' result label.
const (
	// ResultApplied: everything asked applied (a reload that finds nothing
	// changed counts here too).
	ResultApplied = "applied"
	// ResultPartial: some keys applied, and others were refused: they need a
	// restart, or (unexpectedly) the telemetry could not take them.
	ResultPartial = "partial"
	// ResultRefused: nothing applied: every changed key needs a restart, or
	// the caller of PUT /loglevel is not allowed to change anything.
	ResultRefused = "refused"
	// ResultInvalid: the file or the request is wrong; nothing changed.
	ResultInvalid = "invalid"
)

// Target is the running node's limits (node.Limits). Its methods are called
// from the reloading goroutine and HTTP handlers while the node works.
type Target interface {
	MaxClientRequests() int
	SetMaxClientRequests(int)
	CommitTimeout() time.Duration
	SetCommitTimeout(time.Duration)
	MempoolSize() int
	SetMempoolSize(int)
	MinFreeDisk() uint64
	SetMinFreeDisk(uint64)
}

// LevelSetter is the node's log level (telemetry.Levels).
type LevelSetter interface {
	Set(def slog.Level, comp map[string]slog.Level)
}

// TelemetrySetter is the node's telemetry (telemetry.Telemetry): the
// environment on every signal and the baggage deny-list.
type TelemetrySetter interface {
	SetEnvironment(ctx context.Context, env string) error
	SetBaggageDenyKeys(denyKeys []string) error
}

// Options configure a Reloader.
type Options struct {
	// Logger receives the change log lines. Required.
	Logger *slog.Logger
	// Levels is set when the log level changes. Required.
	Levels LevelSetter
	// Telemetry is set when the environment or the baggage deny-list
	// changes. Required.
	Telemetry TelemetrySetter
	// Registerer receives MetricReloads; nil registers nothing.
	Registerer prometheus.Registerer
	// Start is every key's value as the node started (flag values).
	Start map[string]string
	// Roots is the cluster CA: a PUT /loglevel over mutual TLS with a
	// certificate it issued may change the level from anywhere. Nil: only
	// loopback callers may.
	Roots *x509.CertPool
}

// Reloader applies configuration changes to a running node: a re-read of
// its configuration (Reload, on SIGHUP) or a log level (SetLogSpec, from
// PUT /loglevel). Safe for concurrent use; changes are serialised. Each
// change is logged at warn, with who asked for it, so that the line
// survives the quiet level it may have just set.
type Reloader struct {
	log     *slog.Logger
	levels  LevelSetter
	tel     TelemetrySetter
	roots   *x509.CertPool
	reloads *prometheus.CounterVec

	mu     sync.Mutex
	target Target            // nil until Bind
	start  map[string]string // every key at start: the ones that need a restart stay so
	cur    Settings          // in force
}

// Change is one key's change.
type Change struct {
	Key   string `json:"key"`
	From  string `json:"from"`
	To    string `json:"to"`
	Where string `json:"where,omitempty"` // where the new value came from
}

// Report says what a Reload did.
type Report struct {
	Result  string
	Applied []Change
	// Refused are the changes not made: keys that need a restart, and keys
	// whose telemetry setter failed.
	Refused []Change
	// Err is why the result is ResultInvalid.
	Err error
}

// New checks the start values and registers MetricReloads.
func New(o Options) (*Reloader, error) {
	if o.Logger == nil || o.Levels == nil || o.Telemetry == nil {
		return nil, errors.New("config: Logger, Levels and Telemetry are required")
	}
	cur, err := SettingsFromValues(o.Start)
	if err != nil {
		return nil, fmt.Errorf("config at start: %w", err)
	}
	r := &Reloader{
		log: o.Logger, levels: o.Levels, tel: o.Telemetry, roots: o.Roots, cur: cur, start: maps.Clone(o.Start),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricReloads,
			Help: "Configuration changes (SIGHUP reloads and PUT /loglevel), by result: applied, partial, refused, invalid.",
		}, []string{"result"}),
	}
	for _, res := range []string{ResultApplied, ResultPartial, ResultRefused, ResultInvalid} {
		r.reloads.WithLabelValues(res) // present at 0 from the start
	}
	if o.Registerer != nil {
		if err := o.Registerer.Register(r.reloads); err != nil {
			return nil, fmt.Errorf("register %s: %w", MetricReloads, err)
		}
	}
	return r, nil
}

// Bind connects the running node's limits. Reloads before it change the
// log level only.
func (r *Reloader) Bind(t Target) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.target = t
}

// Reload applies a re-read configuration: vals holds every key's value,
// where(key) says where it came from (for messages; may be nil), who names
// what asked ("SIGHUP"). Reloadable keys whose value differs from the one in
// force apply; any other key that differs from its value at start is refused
// and logged by name; an invalid value changes nothing.
func (r *Reloader) Reload(vals map[string]string, where func(key string) string, who string) Report {
	if where == nil {
		where = func(string) string { return "" }
	}
	next, err := SettingsFromValues(vals)
	if err != nil {
		return r.Invalid(locate(err, where), who)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var rep Report
	for _, key := range slices.Sorted(maps.Keys(union(vals, r.start))) {
		if IsReloadable(key) || vals[key] == r.start[key] {
			continue
		}
		c := Change{Key: key, From: r.start[key], To: vals[key], Where: where(key)}
		rep.Refused = append(rep.Refused, c)
		r.log.Warn("config key refused: it needs a restart; the value at start stays in force",
			"key", key, "from", c.From, "to", c.To, "where", c.Where, "by", who)
	}
	was := r.cur.Values()
	for _, c := range r.apply(next) {
		c.Where = where(c.Key)
		rep.Refused = append(rep.Refused, c)
	}
	now := r.cur.Values()
	for _, key := range ReloadableKeys() {
		if was[key] != now[key] {
			rep.Applied = append(rep.Applied, Change{Key: key, From: was[key], To: now[key], Where: where(key)})
		}
	}
	for _, c := range rep.Applied {
		r.log.Warn("config key applied", "key", c.Key, "from", c.From, "to", c.To, "where", c.Where, "by", who)
	}
	switch {
	case len(rep.Refused) == 0:
		rep.Result = ResultApplied
	case len(rep.Applied) > 0:
		rep.Result = ResultPartial
	default:
		rep.Result = ResultRefused
	}
	r.reloads.WithLabelValues(rep.Result).Inc()
	r.log.Info("config reloaded", "result", rep.Result, "applied", keys(rep.Applied), "refused", keys(rep.Refused), "by", who)
	return rep
}

// Invalid records a configuration that could not be read: it is logged
// with its reason and counted, and nothing changes.
func (r *Reloader) Invalid(err error, who string) Report {
	r.reloads.WithLabelValues(ResultInvalid).Inc()
	r.log.Error("config reload refused: invalid configuration, nothing changed", "err", err, "by", who)
	return Report{Result: ResultInvalid, Err: err}
}

// SetLogSpec changes the log level at once; who names the caller for the log.
func (r *Reloader) SetLogSpec(spec LogSpec, who string) Change {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := Change{Key: KeyLogLevel, From: r.cur.LogLevel.String(), To: spec.String()}
	next := r.cur
	next.LogLevel = spec
	r.apply(next)
	r.reloads.WithLabelValues(ResultApplied).Inc()
	r.log.Warn("log level changed", "from", c.From, "to", c.To, "by", who)
	return c
}

// refuse records a change request that was not allowed.
func (r *Reloader) refuse(what, who string, why error) {
	r.reloads.WithLabelValues(ResultRefused).Inc()
	r.log.Warn("config change refused", "what", what, "by", who, "reason", why)
}

// apply puts next in force; r.mu is held. A telemetry setter that fails
// (it validates what SettingsFromValues already did, so it should not)
// leaves its key's value as it was, says so in the log, and is returned
// among the changes not made.
func (r *Reloader) apply(next Settings) (failed []Change) {
	if !next.LogLevel.Equal(r.cur.LogLevel) {
		r.levels.Set(next.LogLevel.Default, next.LogLevel.Components)
	}
	if next.Environment != r.cur.Environment {
		if err := r.tel.SetEnvironment(context.Background(), next.Environment); err != nil {
			r.log.Error("config key not applied", "key", KeyEnvironment, "to", next.Environment, "err", err)
			failed = append(failed, Change{Key: KeyEnvironment, From: r.cur.Environment, To: next.Environment})
			next.Environment = r.cur.Environment
		}
	}
	if !slices.Equal(next.BaggageDenyKeys, r.cur.BaggageDenyKeys) {
		if err := r.tel.SetBaggageDenyKeys(next.BaggageDenyKeys); err != nil {
			to := strings.Join(next.BaggageDenyKeys, ",")
			r.log.Error("config key not applied", "key", KeyBaggageDenyKeys, "to", to, "err", err)
			failed = append(failed, Change{Key: KeyBaggageDenyKeys, From: strings.Join(r.cur.BaggageDenyKeys, ","), To: to})
			next.BaggageDenyKeys = r.cur.BaggageDenyKeys
		}
	}
	if t := r.target; t != nil {
		if next.MaxClientRequests != r.cur.MaxClientRequests {
			t.SetMaxClientRequests(next.MaxClientRequests)
		}
		if next.CommitTimeout != r.cur.CommitTimeout {
			t.SetCommitTimeout(next.CommitTimeout)
		}
		if next.MempoolSize != r.cur.MempoolSize {
			t.SetMempoolSize(next.MempoolSize)
		}
		if next.MinFreeDisk != r.cur.MinFreeDisk {
			t.SetMinFreeDisk(next.MinFreeDisk)
		}
	}
	r.cur = next
	return failed
}

// InForce returns every key's value in force: the reloadable ones as the
// node holds them now (defaults resolved), the others as at start.
func (r *Reloader) InForce() map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := maps.Clone(r.start)
	maps.Copy(out, r.cur.Values())
	if t := r.target; t != nil {
		out[KeyMaxClientRequests] = strconv.Itoa(t.MaxClientRequests())
		out[KeyCommitTimeout] = t.CommitTimeout().String()
		out[KeyMempoolSize] = strconv.Itoa(t.MempoolSize())
		out[KeyMinFreeDisk] = strconv.FormatUint(t.MinFreeDisk(), 10)
	}
	return out
}

// LogSpec is the log level in force.
func (r *Reloader) LogSpec() LogSpec {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cur.LogLevel
}

// locate adds where each KeyError's value came from.
func locate(err error, where func(string) string) error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			_ = locate(e, where) // sets Where in place; err is returned whole below
		}
		return err
	}
	var ke *KeyError
	if errors.As(err, &ke) && ke.Where == "" {
		ke.Where = where(ke.Key)
	}
	return err
}

func union(a, b map[string]string) map[string]string {
	out := maps.Clone(a)
	for k, v := range b {
		if _, ok := out[k]; !ok {
			out[k] = v
		}
	}
	return out
}

func keys(cs []Change) string {
	names := make([]string, len(cs))
	for i, c := range cs {
		names[i] = c.Key
	}
	return strings.Join(names, ",")
}
