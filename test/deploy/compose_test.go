//go:build integration

package deploy

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chainotel/chainotel/internal/testbin"
	"github.com/chainotel/chainotel/internal/testproc"
)

// Bounds of the docker steps, so a stuck daemon fails the test with a message
// (and the cleanup still runs) long before go test's own timeout.
const (
	buildTimeout   = 10 * time.Minute // a cold ocb build of the collector is ~6 min
	composeTimeout = 3 * time.Minute
	downTimeout    = 2 * time.Minute
)

// nodeCount is how many nodes the testnet runs.
const nodeCount = 3

// nodeNames returns the compose services of the nodes, which are also their ids.
func nodeNames() []string { return []string{"node0", "node1", "node2"} }

// requireDocker skips the test when there is no usable Docker daemon or no
// docker-compose, saying which.
func requireDocker(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("docker-compose"); err != nil {
		t.Skip("skipped: docker-compose is not installed (Debian: apt-get install docker-compose)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "docker", "info").CombinedOutput(); err != nil {
		t.Skipf("skipped: docker info failed, so there is no usable Docker daemon: %v: %s",
			err, lastLines(string(out), 3))
	}
}

// run runs name args in dir, logging its output line by line as it comes
// (the image build takes a while), and returns what it wrote.
func run(t *testing.T, timeout time.Duration, dir string, env []string, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	var out bytes.Buffer
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			t.Logf("  %s", sc.Text())
			out.WriteString(sc.Text() + "\n")
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	err := cmd.Run()
	_ = pw.Close()
	<-done
	if ctx.Err() != nil {
		err = fmt.Errorf("%s %s: no result within %s: %w", name, strings.Join(args, " "), timeout, ctx.Err())
	} else if err != nil {
		err = fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	return out.String(), err
}

// buildImages runs deploy/build-images.sh, the script `make testnet-up` runs.
func buildImages(t *testing.T) {
	t.Helper()
	root := testbin.RepoRoot(t)
	t.Log("building the images (deploy/build-images.sh; cached layers when the binaries did not change) ...")
	start := time.Now()
	if _, err := run(t, buildTimeout, root, nil, filepath.Join(root, "deploy", "build-images.sh")); err != nil {
		t.Fatalf("building the images: %v", err)
	}
	t.Logf("images ready in %s", time.Since(start).Round(time.Second))
}

// testnet is one compose project of the testnet, torn down in the test's cleanup.
type testnet struct {
	t          *testing.T
	project    string
	dir        string   // deploy/, the compose project folder
	files      []string // -f arguments
	env        []string
	apiPort    [nodeCount]int
	healthPort [nodeCount]int
}

// startTestnet brings up the compose files (relative to deploy/) under a
// unique project name, with the nodes' ports published on free 127.0.0.1
// ports, and waits until every node is healthy. Cleanup removes the project's
// containers, network and volumes, whatever happened, and logs the services'
// last lines first when the test failed.
func startTestnet(t *testing.T, extraEnv []string, files ...string) *testnet {
	t.Helper()
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	n := &testnet{
		t:       t,
		project: "chainoteltest-" + hex.EncodeToString(suffix),
		dir:     filepath.Join(testbin.RepoRoot(t), "deploy"),
		env:     append([]string{}, extraEnv...),
	}
	for _, f := range files {
		n.files = append(n.files, "-f", f)
	}
	ports := testproc.FreePorts(t, 2*nodeCount)
	for i := range nodeNames() {
		n.apiPort[i], n.healthPort[i] = ports[2*i], ports[2*i+1]
		n.env = append(n.env,
			fmt.Sprintf("CHAINOTEL_NODE%d_API_PORT=%d", i, n.apiPort[i]),
			fmt.Sprintf("CHAINOTEL_NODE%d_HEALTH_PORT=%d", i, n.healthPort[i]))
	}
	t.Cleanup(n.down)
	t.Logf("starting compose project %s (%s) ...", n.project, strings.Join(files, " + "))
	if _, err := n.compose(composeTimeout, "up", "-d"); err != nil {
		t.Fatalf("docker-compose up: %v", err)
	}
	for i, name := range nodeNames() {
		n.waitHealthy(i, name)
	}
	return n
}

func (n *testnet) compose(timeout time.Duration, args ...string) (string, error) {
	n.t.Helper()
	all := append([]string{"--project-name", n.project}, n.files...)
	return run(n.t, timeout, n.dir, n.env, "docker-compose", append(all, args...)...)
}

// down logs the services' last lines when the test failed, then removes the
// project's containers, network and volumes.
func (n *testnet) down() {
	if n.t.Failed() {
		n.t.Log("the test failed; the last lines of every service:")
		_, _ = n.compose(time.Minute, "logs", "--no-color", "--tail=25")
	}
	n.t.Logf("removing compose project %s (containers, network, volumes) ...", n.project)
	if _, err := n.compose(downTimeout, "down", "--volumes", "--remove-orphans", "--timeout", "10"); err != nil {
		n.t.Errorf("docker-compose down: %v (remove it by hand: docker-compose -p %s -f deploy/docker-compose.yml "+
			"-f deploy/docker-compose.scaleout.yml down -v)", err, n.project)
	}
}

// containerFile returns the file at path inside service's container (which
// may be a scratch image, so it is copied out rather than cat'ed).
func (n *testnet) containerFile(service, path string) ([]byte, error) {
	n.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := n.compose(time.Minute, "ps", "-q", service)
	id := strings.TrimSpace(out)
	if err != nil || id == "" {
		return nil, fmt.Errorf("container of %s: %v (%q)", service, err, out)
	}
	var tarball, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "docker", "cp", id+":"+path, "-")
	cmd.Stdout, cmd.Stderr = &tarball, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("docker cp %s:%s: %w: %s", service, path, err, strings.TrimSpace(stderr.String()))
	}
	tr := tar.NewReader(&tarball)
	if _, err := tr.Next(); err != nil {
		return nil, fmt.Errorf("docker cp %s:%s: reading the archive: %w", service, path, err)
	}
	return io.ReadAll(tr)
}

func (n *testnet) apiURL(i int, path string) string {
	return "http://127.0.0.1:" + strconv.Itoa(n.apiPort[i]) + path
}

func (n *testnet) healthURL(i int) string {
	return "http://127.0.0.1:" + strconv.Itoa(n.healthPort[i]) + "/health"
}

func lastLines(s string, k int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > k {
		lines = lines[len(lines)-k:]
	}
	return strings.Join(lines, " | ")
}
