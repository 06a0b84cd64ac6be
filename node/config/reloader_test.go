package config

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"
)

// limits is a test double of the node's limits (node.Limits): it records
// what the reloader set.
type limits struct {
	mu       sync.Mutex
	max      int
	timeout  time.Duration
	mempool  int
	diskFree uint64
	sets     int
}

var _ Target = (*limits)(nil)

func (l *limits) MaxClientRequests() int { l.mu.Lock(); defer l.mu.Unlock(); return l.max }
func (l *limits) SetMaxClientRequests(v int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.max, l.sets = v, l.sets+1
}
func (l *limits) CommitTimeout() time.Duration { l.mu.Lock(); defer l.mu.Unlock(); return l.timeout }
func (l *limits) SetCommitTimeout(d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.timeout, l.sets = d, l.sets+1
}
func (l *limits) MempoolSize() int { l.mu.Lock(); defer l.mu.Unlock(); return l.mempool }
func (l *limits) SetMempoolSize(v int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.mempool, l.sets = v, l.sets+1
}
func (l *limits) MinFreeDisk() uint64 { l.mu.Lock(); defer l.mu.Unlock(); return l.diskFree }
func (l *limits) SetMinFreeDisk(v uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.diskFree, l.sets = v, l.sets+1
}

// levels is a test double of telemetry.Levels.
type levels struct {
	mu   sync.Mutex
	def  slog.Level
	comp map[string]slog.Level
}

func (l *levels) Set(def slog.Level, comp map[string]slog.Level) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.def, l.comp = def, maps.Clone(comp)
}

// tel is a test double of telemetry.Telemetry: it records what the reloader
// set, and fails when told to.
type tel struct {
	mu      sync.Mutex
	env     string
	deny    []string
	sets    int
	failEnv error
}

func (f *tel) SetEnvironment(_ context.Context, env string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failEnv != nil {
		return f.failEnv
	}
	f.env, f.sets = env, f.sets+1
	return nil
}

func (f *tel) SetBaggageDenyKeys(deny []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deny, f.sets = slices.Clone(deny), f.sets+1
	return nil
}

func (f *tel) get() (string, []string, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.env, f.deny, f.sets
}

func startValues() map[string]string {
	return map[string]string{
		"node-id": "node0", "port": "8080", "health-port": "0", "tls-dir": "certs", "config": "node.conf",
		KeyLogLevel: "info", KeyMaxClientRequests: "1024", KeyCommitTimeout: "10s", KeyMempoolSize: "200000", KeyMinFreeDisk: "0",
		KeyEnvironment: "dev", KeyBaggageDenyKeys: "token,secret",
	}
}

type harness struct {
	r      *Reloader
	lim    *limits
	lvl    *levels
	tel    *tel
	logs   *bytes.Buffer
	logsMu *sync.Mutex
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{lim: &limits{max: 1024, timeout: 10 * time.Second, mempool: 200000}, lvl: &levels{}, tel: &tel{},
		logs: &bytes.Buffer{}, logsMu: &sync.Mutex{}}
	r, err := New(Options{
		Logger: slog.New(slog.NewJSONHandler(lockedWriter{h.logsMu, h.logs}, nil)), Levels: h.lvl, Telemetry: h.tel,
		Registerer: prometheus.NewRegistry(), Start: startValues(),
	})
	require.NoError(t, err)
	r.Bind(h.lim)
	h.r = r
	return h
}

func (h *harness) log() string {
	h.logsMu.Lock()
	defer h.logsMu.Unlock()
	return h.logs.String()
}

func (h *harness) count(result string) float64 {
	var m dto.Metric
	if err := h.r.reloads.WithLabelValues(result).Write(&m); err != nil {
		panic(err)
	}
	return m.GetCounter().GetValue()
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}

func fileWhere(key string) string {
	return "node.conf:" + map[string]string{"port": "2", KeyMaxClientRequests: "3"}[key]
}

func TestReloadAppliesReloadableKeys(t *testing.T) {
	h := newHarness(t)
	vals := startValues()
	vals[KeyMaxClientRequests] = "4"
	vals[KeyLogLevel] = "warn:raft=debug"
	vals[KeyCommitTimeout] = "3s"
	vals[KeyMinFreeDisk] = "1048576"
	rep := h.r.Reload(vals, fileWhere, "SIGHUP")
	require.Equal(t, ResultApplied, rep.Result)
	require.Empty(t, rep.Refused)
	require.Equal(t, []string{KeyLogLevel, KeyMaxClientRequests, KeyCommitTimeout, KeyMinFreeDisk}, changedKeys(rep.Applied))
	require.Equal(t, 4, h.lim.MaxClientRequests())
	require.Equal(t, 3*time.Second, h.lim.CommitTimeout())
	require.Equal(t, uint64(1<<20), h.lim.MinFreeDisk())
	require.Equal(t, slog.LevelWarn, h.lvl.def)
	require.Equal(t, map[string]slog.Level{"raft": slog.LevelDebug}, h.lvl.comp)
	require.Equal(t, 1.0, h.count(ResultApplied))
	require.Contains(t, h.log(), `"msg":"config key applied","key":"max-client-requests","from":"1024","to":"4","where":"node.conf:3","by":"SIGHUP"`)

	// The same file again changes nothing and still counts as applied.
	sets := h.lim.sets
	rep = h.r.Reload(vals, fileWhere, "SIGHUP")
	require.Equal(t, ResultApplied, rep.Result)
	require.Empty(t, rep.Applied)
	require.Equal(t, sets, h.lim.sets, "no setter runs for an unchanged value")

	inForce := h.r.InForce()
	require.Equal(t, "4", inForce[KeyMaxClientRequests])
	require.Equal(t, "warn:raft=debug", inForce[KeyLogLevel])
	require.Equal(t, "8080", inForce["port"])
}

func TestReloadRefusesKeysThatNeedARestart(t *testing.T) {
	h := newHarness(t)
	vals := startValues()
	vals["port"] = "9999"
	vals["tls-dir"] = "/elsewhere"
	vals[KeyMaxClientRequests] = "8"
	rep := h.r.Reload(vals, fileWhere, "SIGHUP")
	require.Equal(t, ResultPartial, rep.Result)
	require.Equal(t, []string{"port", "tls-dir"}, changedKeys(rep.Refused))
	require.Equal(t, Change{Key: "port", From: "8080", To: "9999", Where: "node.conf:2"}, rep.Refused[0])
	require.Equal(t, 8, h.lim.MaxClientRequests(), "the rest still applies")
	require.Contains(t, h.log(), `"msg":"config key refused: it needs a restart; the value at start stays in force","key":"port","from":"8080","to":"9999","where":"node.conf:2"`)
	require.Equal(t, "8080", h.r.InForce()["port"])
	require.Equal(t, 1.0, h.count(ResultPartial))

	// Only refused keys changed: nothing applies.
	vals[KeyMaxClientRequests] = "8"
	rep = h.r.Reload(vals, fileWhere, "SIGHUP")
	require.Equal(t, ResultRefused, rep.Result)
	require.Empty(t, rep.Applied)
	require.Equal(t, 1.0, h.count(ResultRefused))
}

func TestReloadInvalidChangesNothing(t *testing.T) {
	h := newHarness(t)
	vals := startValues()
	vals[KeyMaxClientRequests] = "-3"
	vals[KeyMempoolSize] = "many"
	vals[KeyLogLevel] = "debug" // valid, but the reload is all or nothing
	vals["port"] = "9999"
	rep := h.r.Reload(vals, fileWhere, "SIGHUP")
	require.Equal(t, ResultInvalid, rep.Result)
	require.ErrorContains(t, rep.Err, `mempool-size: "many": invalid syntax`)
	require.ErrorContains(t, rep.Err, "node.conf:3: max-client-requests: must be >= 0 (0: the default), got -3")
	var ke *KeyError
	require.True(t, errors.As(rep.Err, &ke))
	require.Equal(t, 0, h.lim.sets, "no setter ran")
	require.Equal(t, slog.Level(0), h.lvl.def, "the level did not change")
	require.Equal(t, "info", h.r.LogSpec().String())
	require.Equal(t, 1.0, h.count(ResultInvalid))
	require.Contains(t, h.log(), "invalid configuration, nothing changed")
	require.Empty(t, rep.Refused, "an invalid file is not diffed")
}

func TestSetLogSpecAndSIGHUP(t *testing.T) {
	h := newHarness(t)
	spec, err := ParseLogSpec("info:api=debug")
	require.NoError(t, err)
	c := h.r.SetLogSpec(spec, "remote=127.0.0.1:5000")
	require.Equal(t, Change{Key: KeyLogLevel, From: "info", To: "info:api=debug"}, c)
	require.Equal(t, map[string]slog.Level{"api": slog.LevelDebug}, h.lvl.comp)
	require.Contains(t, h.log(), `"msg":"log level changed","from":"info","to":"info:api=debug","by":"remote=127.0.0.1:5000"`)

	// A SIGHUP puts the file's level back in force.
	rep := h.r.Reload(startValues(), nil, "SIGHUP")
	require.Equal(t, []string{KeyLogLevel}, changedKeys(rep.Applied))
	require.Empty(t, h.lvl.comp)
}

// The environment and the baggage deny-list reload like the limits: set on
// the telemetry once when they change, shown in force, logged by key.
func TestReloadAppliesTelemetryKeys(t *testing.T) {
	h := newHarness(t)
	vals := startValues()
	vals[KeyEnvironment] = "staging"
	vals[KeyBaggageDenyKeys] = "token, secret,customer-id"
	rep := h.r.Reload(vals, func(key string) string { return "node.conf:9" }, "SIGHUP")
	require.Equal(t, ResultApplied, rep.Result)
	require.Equal(t, []string{KeyEnvironment, KeyBaggageDenyKeys}, changedKeys(rep.Applied))
	env, deny, sets := h.tel.get()
	require.Equal(t, "staging", env)
	require.Equal(t, []string{"token", "secret", "customer-id"}, deny)
	require.Equal(t, 2, sets)
	require.Contains(t, h.log(), `"msg":"config key applied","key":"environment","from":"dev","to":"staging","where":"node.conf:9","by":"SIGHUP"`)
	require.Contains(t, h.log(), `"msg":"config key applied","key":"baggage-deny-keys","from":"token,secret","to":"token,secret,customer-id"`)
	inForce := h.r.InForce()
	require.Equal(t, "staging", inForce[KeyEnvironment])
	require.Equal(t, "token,secret,customer-id", inForce[KeyBaggageDenyKeys])

	// The same values spelled differently change nothing.
	vals[KeyBaggageDenyKeys] = "token,secret,customer-id"
	rep = h.r.Reload(vals, nil, "SIGHUP")
	require.Empty(t, rep.Applied)
	_, _, again := h.tel.get()
	require.Equal(t, sets, again, "no setter runs for an unchanged value")

	// An empty list removes nothing, and is not the defaults.
	vals[KeyBaggageDenyKeys] = ""
	rep = h.r.Reload(vals, nil, "SIGHUP")
	require.Equal(t, []string{KeyBaggageDenyKeys}, changedKeys(rep.Applied))
	_, deny, _ = h.tel.get()
	require.NotNil(t, deny)
	require.Empty(t, deny)
}

func TestReloadRefusesBadTelemetryValues(t *testing.T) {
	h := newHarness(t)
	vals := startValues()
	vals[KeyBaggageDenyKeys] = "token,,secret"
	vals[KeyEnvironment] = " staging"
	rep := h.r.Reload(vals, func(key string) string {
		return "node.conf:" + map[string]string{KeyBaggageDenyKeys: "7", KeyEnvironment: "8"}[key]
	}, "SIGHUP")
	require.Equal(t, ResultInvalid, rep.Result)
	require.ErrorContains(t, rep.Err, `node.conf:7: baggage-deny-keys: "token,,secret": fragment 2 of 3 is "": empty once lowercased`)
	require.ErrorContains(t, rep.Err, `node.conf:8: environment: " staging": leading or trailing white space`)
	_, _, sets := h.tel.get()
	require.Zero(t, sets)

	vals = startValues()
	vals[KeyBaggageDenyKeys] = "token,-_."
	rep = h.r.Reload(vals, nil, "SIGHUP")
	require.ErrorContains(t, rep.Err, `baggage-deny-keys: "token,-_.": fragment 2 of 2 is "-_."`)
}

// A setter that fails keeps the value in force, and the report does not
// claim it applied.
func TestReloadTelemetrySetterFails(t *testing.T) {
	h := newHarness(t)
	h.tel.failEnv = errors.New("resource: boom")
	vals := startValues()
	vals[KeyEnvironment] = "staging"
	vals[KeyMaxClientRequests] = "7"
	rep := h.r.Reload(vals, nil, "SIGHUP")
	require.Equal(t, []string{KeyMaxClientRequests}, changedKeys(rep.Applied))
	require.Equal(t, []string{KeyEnvironment}, changedKeys(rep.Refused), "the key not applied is reported")
	require.Equal(t, ResultPartial, rep.Result)
	require.Equal(t, "dev", h.r.InForce()[KeyEnvironment])
	require.Contains(t, h.log(), `"msg":"config key not applied","key":"environment","to":"staging","err":"resource: boom"`)
}

func changedKeys(cs []Change) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Key)
	}
	return out
}

func TestRedact(t *testing.T) {
	require.Equal(t, "[redacted]", Redact("otlp-api-key", "abc"))
	require.Equal(t, "[redacted]", Redact("db-password", "abc"))
	require.Equal(t, "", Redact("db-password", ""))
	require.Equal(t, "https://xxxxx@collector:4317", Redact("otlp-endpoint", "https://user:pw@collector:4317"))
	require.Equal(t, "https://xxxxx@collector:4317", Redact("otlp-endpoint", "https://TOKEN@collector:4317"))
	require.Equal(t, "localhost:4317", Redact("otlp-endpoint", "localhost:4317"))
	require.False(t, strings.Contains(Redact("token", "t0k3n"), "t0k3n"))
}
