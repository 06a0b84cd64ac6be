// Package collectorproc runs the ocb-built otelcol-chain as a real process in
// tests: with the configuration a test gives it, on free loopback ports, until
// its health_check answers.
//
// The test's configuration names its components as the shipped one does: the
// receiver `otlp` (or the one Options.Receiver names, such as `chainotlp`) and,
// among service.extensions, `health_check`. Start merges an overlay over it (the
// last --config wins, maps merge) that moves every listening port to a free
// loopback one: that receiver's OTLP gRPC and HTTP, health_check,
// pprof, zpages and the collector's own Prometheus metrics, so several
// collectors can run side by side and next to `make run`.
//
// To run the shipped configuration with kept traces going to a test receiver,
// a policy file of the test's own and a shorter decision wait:
//
//	col := collectorproc.Start(t, collectorproc.Options{
//		ConfigFiles: collectorproc.Shipped(t, "otlp-out"),
//		Config:      "processors: {chainsampling: {decision_wait: 1s}}",
//		Env: []string{
//			"CHAINOTEL_TRACES_OTLP_ENDPOINT=" + sink.Addr(),
//			"CHAINOTEL_POLICY_FILE=" + policyFile,
//		},
//	})
package collectorproc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chainotel/chainotel/internal/testbin"
	"github.com/chainotel/chainotel/internal/testproc"
)

// DefaultStartTimeout bounds the wait for health_check. It is generous because
// tests share two cores with `go test -race` builds.
const DefaultStartTimeout = 60 * time.Second

// Options for Start.
type Options struct {
	// Config is the YAML text of the test's configuration, written to a file
	// in the test's temp dir. Used when ConfigFiles is empty.
	Config string
	// ConfigFiles are configuration files merged in order (for the shipped
	// collector/config.yaml and its overlays). Config is appended when both are set.
	ConfigFiles []string
	// Env is added to the collector's environment. CHAINOTEL_OUT_DIR defaults
	// to a temp dir so the shipped config's file exporters write there.
	Env []string
	// Dir is the working directory; default: a temp dir.
	Dir string
	// Binary is the collector to run; default: testbin.OtelcolChain.
	Binary string
	// StartTimeout bounds the wait for health_check; default DefaultStartTimeout.
	StartTimeout time.Duration
	// Receiver is the OTLP receiver whose gRPC and HTTP endpoints the port
	// overlay moves (OTLPGRPC, OTLPHTTP): default "otlp"; "chainotlp" for
	// the wire path. The overlay defines that receiver's protocols only, so
	// a configuration must configure the receiver it names.
	Receiver string
}

// Collector is a running otelcol-chain.
type Collector struct {
	*testproc.Proc

	// OTLPGRPC and OTLPHTTP are the OTLP receiver's host:port addresses
	// (Options.Receiver's).
	OTLPGRPC, OTLPHTTP string
	// HealthURL answers 200 once the collector is ready.
	HealthURL string
	// MetricsURL serves the collector's own metrics in the Prometheus format
	// (the components' telemetry, such as chainsampling's counters).
	MetricsURL string
	// HeadSamplingURL is where the shipped configuration's chainheadsampling
	// extension serves strategies (CHAINOTEL_HEAD_SAMPLING_ENDPOINT, unless
	// Options.Env set it): http://127.0.0.1:PORT/sampling.
	HeadSamplingURL string
	// PolicyPreviewURL is where a chainpolicypreview extension serves
	// previews, when the configuration enables one:
	// http://127.0.0.1:PORT/preview.
	PolicyPreviewURL string
	// OutDir is CHAINOTEL_OUT_DIR unless Options.Env set it.
	OutDir string
	// ConfigFiles are the --config arguments, the port overlay last.
	ConfigFiles []string
}

// Start runs the collector and waits until its health_check answers. It fails
// the test, with the tail of the collector's log, if the collector exits or does
// not become healthy in time. The collector is killed at test cleanup; call Stop
// to end it cleanly before.
func Start(tb testing.TB, opts Options) *Collector {
	tb.Helper()
	bin := opts.Binary
	if bin == "" {
		bin = testbin.OtelcolChain(tb)
	}
	dir := tb.TempDir()
	files := append([]string(nil), opts.ConfigFiles...)
	if opts.Config != "" {
		files = append(files, writeFile(tb, dir, "config.yaml", opts.Config))
	}
	if len(files) == 0 {
		tb.Fatalf("collectorproc: Options.Config or Options.ConfigFiles is required")
	}

	ports := testproc.FreePorts(tb, numPorts)
	receiver := opts.Receiver
	if receiver == "" {
		receiver = "otlp"
	}
	files = append(files, writeFile(tb, dir, "ports.yaml", portOverlay(receiver, ports)))
	c := &Collector{
		OTLPGRPC:    loopback(ports[portOTLPGRPC]),
		OTLPHTTP:    loopback(ports[portOTLPHTTP]),
		HealthURL:   "http://" + loopback(ports[portHealth]) + "/",
		MetricsURL:  "http://" + loopback(ports[portMetrics]) + "/metrics",
		OutDir:      filepath.Join(dir, "out"),
		ConfigFiles: files,

		HeadSamplingURL:  "http://" + loopback(ports[portHeadSampling]) + "/sampling",
		PolicyPreviewURL: "http://" + loopback(ports[portPolicyPreview]) + "/preview",
	}
	// The extension needs a policy file, so the port overlay cannot define
	// it for configurations without one: the shipped one reads its port
	// from the environment instead.
	env := append([]string{"CHAINOTEL_OUT_DIR=" + c.OutDir,
		"CHAINOTEL_HEAD_SAMPLING_ENDPOINT=" + loopback(ports[portHeadSampling])}, opts.Env...)

	args := make([]string, 0, 2*len(files))
	for _, f := range files {
		args = append(args, "--config", f)
	}
	c.Proc = testproc.Start(tb, "otelcol-chain", bin, args, testproc.Options{Dir: opts.Dir, Env: env})

	timeout := opts.StartTimeout
	if timeout == 0 {
		timeout = DefaultStartTimeout
	}
	if err := c.waitHealthy(timeout); err != nil {
		tb.Fatalf("collectorproc: %v\n--- last lines of %s:\n%s", err, c.LogPath, c.Tail(30))
	}
	return c
}

// readyLine is what the collector logs when its service has started.
const readyLine = "Everything is ready. Begin running and processing data."

// waitHealthy polls health_check until it answers 200, the process exits, or
// timeout passes.
func (c *Collector) waitHealthy(timeout time.Duration) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err := testproc.Poll(ctx, timeout, func() error {
		if c.Exited() {
			cancel() // no point waiting for a process that is gone
			return fmt.Errorf("%w: %v", ErrExited, c.ExitErr())
		}
		if err := getOK(ctx, c.HealthURL); err != nil {
			return err
		}
		// health_check reports ready when the pipelines start, a moment
		// before the collector installs its SIGTERM handler (after it logs
		// readyLine): a SIGTERM in between kills it without a shutdown. So
		// wait for the line too, which narrows that window to a few calls.
		if !strings.Contains(c.Log(), readyLine) {
			return fmt.Errorf("the collector has not logged %q yet", readyLine)
		}
		return nil
	})
	if err != nil && !errors.Is(err, ErrExited) {
		return fmt.Errorf("waiting %v for otelcol-chain health_check at %s (is health_check in the config's service.extensions?): %w",
			timeout, c.HealthURL, err)
	}
	if err != nil {
		return fmt.Errorf("waiting for otelcol-chain health_check at %s: %w", c.HealthURL, err)
	}
	return nil
}

// Metrics returns the collector's own metrics, in the Prometheus text format.
func (c *Collector) Metrics(ctx context.Context) (string, error) {
	body, err := get(ctx, c.MetricsURL)
	if err != nil {
		return "", fmt.Errorf("collector metrics: %w", err)
	}
	return body, nil
}

// Shipped returns the absolute paths of the repository's collector/config.yaml
// followed by the named overlays of collector/overlays (e.g. "otlp-out",
// "sentry"), for Options.ConfigFiles. It fails the test if one is missing.
func Shipped(tb testing.TB, overlays ...string) []string {
	tb.Helper()
	dir := filepath.Join(testbin.RepoRoot(tb), "collector")
	files := []string{filepath.Join(dir, "config.yaml")}
	for _, o := range overlays {
		files = append(files, filepath.Join(dir, "overlays", o+".yaml"))
	}
	for _, f := range files {
		if _, err := os.Stat(f); err != nil {
			tb.Fatalf("collectorproc: shipped configuration: %v", err)
		}
	}
	return files
}

// Testdata returns the absolute path of testdata/<name> in the calling test's
// package (go test runs a test in its package's folder), so that a collector
// started in another working directory finds it. A test's configuration lives
// there and takes its addresses from the environment (${env:SINK_ENDPOINT}),
// passed in Options.Env.
func Testdata(tb testing.TB, name string) string {
	tb.Helper()
	path, err := filepath.Abs(filepath.Join("testdata", name))
	if err == nil {
		_, err = os.Stat(path)
	}
	if err != nil {
		tb.Fatalf("collectorproc: test configuration: %v", err)
	}
	return path
}

func getOK(ctx context.Context, url string) error {
	_, err := get(ctx, url)
	return err
}

func get(ctx context.Context, url string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer func() { _ = resp.Body.Close() }() // read to the end below; closing cannot lose anything
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", fmt.Errorf("GET %s: read body: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %w: %s: %s", url, ErrNotOK, resp.Status, body)
	}
	return string(body), nil
}

func writeFile(tb testing.TB, dir, name, text string) string {
	tb.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		tb.Fatalf("collectorproc: %v", err)
	}
	return path
}

func loopback(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }
