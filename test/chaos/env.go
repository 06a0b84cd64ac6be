//go:build integration

package chaos

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/chainotel/chainotel/internal/cluster"
	"github.com/chainotel/chainotel/internal/collectorproc"
	"github.com/chainotel/chainotel/internal/netproxy"
	"github.com/chainotel/chainotel/internal/otlpsink"
	"github.com/chainotel/chainotel/internal/sentrytest"
	"github.com/chainotel/chainotel/internal/testproc"
)

// Settings of the cluster under test.
const (
	// commitTimeout is the nodes' --commit-timeout: a transfer that cannot
	// commit answers 503 after it, an unknown outcome for the history.
	commitTimeout = 3 * time.Second
	// clientTimeout bounds every request; a paused node is one that never answers.
	clientTimeout = commitTimeout + 2*time.Second
)

// Env is the system under test: three nodes whose peer traffic crosses a
// Mesh of proxies, and, when telemetry is on, the collector (behind a proxy
// that stays at the address the nodes were given while the collector behind
// it is killed and restarted), its OTLP sink and a local Sentry endpoint.
type Env struct {
	tb      testing.TB
	Cluster *cluster.Cluster
	Mesh    *Mesh
	Client  *cluster.Client
	// extra are each node's added flags (its --peers, a --db-path), kept
	// for restarts.
	extra map[string][]string

	Telemetry bool
	OTLPProxy *netproxy.Proxy
	Collector *collectorproc.Collector
	Sink      *otlpsink.Sink
	Sentry    *sentrytest.Server
	colOpts   collectorproc.Options
}

// EnvConfig says what to start.
type EnvConfig struct {
	Binary string
	// Telemetry starts the collector, its sink and the Sentry endpoint.
	Telemetry bool
	// DBPath maps a node id to a --db-path (the small filesystem of the
	// full-disk fault).
	DBPath map[string]string
}

// StartEnv starts everything and waits until every node sees all members.
// Everything is stopped and removed at the test's cleanup.
func StartEnv(ctx context.Context, tb testing.TB, cfg EnvConfig) *Env {
	tb.Helper()
	e := &Env{tb: tb, Client: newClient(64, clientTimeout), extra: map[string][]string{}, Telemetry: cfg.Telemetry}
	args := []string{"--commit-timeout=" + commitTimeout.String(), "--log-level=warn"}
	var env []string
	if cfg.Telemetry {
		e.startTelemetry(tb)
		// Both the flag and the standard variable, so the node finds it
		// whichever it reads.
		args = append(args, "--otlp-endpoint="+e.OTLPProxy.Addr())
		env = append(env, "OTEL_EXPORTER_OTLP_ENDPOINT=http://"+e.OTLPProxy.Addr(), "OTEL_EXPORTER_OTLP_INSECURE=true")
	} else {
		env = append(env, "OTEL_SDK_DISABLED=true")
	}
	c, err := cluster.New(ctx, cluster.Config{Binary: cfg.Binary, Dir: tb.TempDir(), Env: env, Args: args,
		Progress: func(msg string) { tb.Logf("cluster: %s", msg) }})
	if err != nil {
		tb.Fatalf("chaos: %v", err)
	}
	e.Cluster = c
	addrs := map[string]string{}
	var ids []string
	for _, n := range c.Nodes() {
		addrs[n.ID] = n.Addr()
		ids = append(ids, n.ID)
	}
	if e.Mesh, err = NewMesh(ids, addrs); err != nil {
		tb.Fatalf("chaos: %v", err)
	}
	tb.Cleanup(e.Mesh.Close)
	tb.Cleanup(func() {
		if err := c.Close(10 * time.Second); err != nil {
			tb.Logf("chaos: stopping the cluster: %v", err)
		}
		if tb.Failed() {
			for _, n := range c.Nodes() {
				tb.Logf("--- last lines of %s (%s):\n%s", n.ID, n.LogPath, n.Tail(30))
			}
		}
	})
	for _, id := range ids {
		e.extra[id] = []string{e.Mesh.PeersFlag(id)}
		if p := cfg.DBPath[id]; p != "" {
			e.extra[id] = append(e.extra[id], "--db-path="+p)
		}
		if err := e.Start(id); err != nil {
			tb.Fatalf("chaos: %v", err)
		}
	}
	if err := c.WaitHealthy(ctx, 60*time.Second); err != nil {
		tb.Fatalf("chaos: %v", err)
	}
	return e
}

// Start (re)starts node id with its flags.
func (e *Env) Start(id string) error {
	return e.Cluster.Start(id, e.extra[id]...)
}

func (e *Env) startTelemetry(tb testing.TB) {
	tb.Helper()
	e.Sink = otlpsink.Start(tb)
	e.Sentry = sentrytest.NewServer(tb)
	dir := tb.TempDir()
	// testdata/keep_all_policy.yaml keeps every trace, so every transfer's
	// trace can be checked; testdata/decisions.yaml shortens the decision wait.
	policy := collectorproc.Testdata(tb, "keep_all_policy.yaml")
	e.colOpts = collectorproc.Options{
		ConfigFiles: append(collectorproc.Shipped(tb, "otlp-out", "sentry"), collectorproc.Testdata(tb, "decisions.yaml")),
		Env: []string{
			"CHAINOTEL_TRACES_OTLP_ENDPOINT=" + e.Sink.Addr(),
			"CHAINOTEL_POLICY_FILE=" + policy,
			"SENTRY_DSN=" + e.Sentry.DSN(),
			// One output folder across restarts: the exporters' persistent
			// queues (file_storage) live there.
			"CHAINOTEL_OUT_DIR=" + filepath.Join(dir, "out"),
		},
	}
	e.Collector = collectorproc.Start(tb, e.colOpts)
	p, err := netproxy.New(e.Collector.OTLPGRPC)
	if err != nil {
		tb.Fatalf("chaos: %v", err)
	}
	tb.Cleanup(p.Close)
	e.OTLPProxy = p
}

// KillCollector kills the collector with SIGKILL.
func (e *Env) KillCollector() { e.Collector.Kill() }

// RestartCollector starts a new collector and points the nodes' OTLP proxy at it.
func (e *Env) RestartCollector() {
	e.Collector = collectorproc.Start(e.tb, e.colOpts)
	e.OTLPProxy.SetTarget(e.Collector.OTLPGRPC)
}

// Leader asks the running nodes who leads, and returns the id a majority of
// the answering nodes agree on.
func (e *Env) Leader(ctx context.Context) (string, error) {
	votes := map[string]int{}
	for _, n := range e.Cluster.Nodes() {
		if !n.Running() {
			continue
		}
		s, err := status(ctx, e.Client, n)
		if err == nil && s.Leader != "" {
			votes[s.Leader]++
		}
	}
	for id, v := range votes {
		if v*2 > len(e.Cluster.Nodes()) {
			return id, nil
		}
	}
	return "", fmt.Errorf("%w: the running nodes name %v", ErrNoLeader, votes)
}

// WaitLeader waits until a majority of nodes name one leader.
func (e *Env) WaitLeader(ctx context.Context, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var id string
	err := testproc.Until(ctx, func() error {
		var err error
		id, err = e.Leader(ctx)
		return err
	})
	return id, err
}

// Follower returns a node other than leader and not in skip.
func (e *Env) Follower(leader string, skip ...string) string {
	for _, n := range e.Cluster.Nodes() {
		if n.ID != leader && !contains(skip, n.ID) {
			return n.ID
		}
	}
	return ""
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
