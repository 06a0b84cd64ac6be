// Package cluster starts a local chainotel cluster from a built `blockchain`
// binary, exactly as the README tells a user to: `blockchain certs`,
// `blockchain init`, then one `blockchain --node-id=... --port=...
// --peers=...` process per node, each on free loopback ports, all in one
// working folder. The cluster test, the load generator and the end-to-end
// tests share it.
//
// It needs no testing.T: errors are returned, and waiting is bounded by the
// caller's context. Processes, ports and polling come from internal/testproc.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/chainotel/chainotel/internal/testproc"
)

// DefaultNodeIDs returns the node ids of the README's three-node cluster.
func DefaultNodeIDs() []string { return []string{"node0", "node1", "node2"} }

// Config describes a cluster to start.
type Config struct {
	// Binary is the path of the built `blockchain` binary.
	Binary string
	// Dir is the working folder: certs/, data/ and logs/ are made in it.
	Dir string
	// NodeIDs default to DefaultNodeIDs().
	NodeIDs []string
	// Consensus is the --consensus flag; default "raft".
	Consensus string
	// Env is added to the environment of every node process
	// (e.g. OTEL_SDK_DISABLED=true or OTEL_EXPORTER_OTLP_ENDPOINT=...).
	Env []string
	// Args are added to every node's command line.
	Args []string
	// Progress, if set, is told what the cluster is doing or waiting for.
	Progress func(msg string)
}

// Cluster is a set of node processes sharing one working folder.
type Cluster struct {
	cfg    Config
	nodes  []*Node
	byID   map[string]*Node
	client *http.Client
}

// Node is one node of the cluster, running or not.
type Node struct {
	ID         string
	Port       int    // --port: client HTTP API and peer gRPC
	HealthPort int    // --health-port: /health, /ready, /metrics
	API        string // base URL of the HTTP API, e.g. http://127.0.0.1:8080
	Health     string // base URL of the health port
	// LogPath collects the process's stdout and stderr across restarts.
	LogPath string

	mu   sync.Mutex
	proc *testproc.Proc
}

// New prepares a cluster in cfg.Dir: it picks free loopback ports and runs
// `blockchain certs` and `blockchain init`. It starts no node.
func New(ctx context.Context, cfg Config) (*Cluster, error) {
	if cfg.Binary == "" {
		return nil, errors.New("cluster: no blockchain binary given")
	}
	if _, err := os.Stat(cfg.Binary); err != nil {
		return nil, fmt.Errorf("cluster: blockchain binary: %w", err)
	}
	if cfg.Dir == "" {
		return nil, errors.New("cluster: no working folder given")
	}
	if len(cfg.NodeIDs) == 0 {
		cfg.NodeIDs = DefaultNodeIDs()
	}
	if cfg.Consensus == "" {
		cfg.Consensus = "raft"
	}
	if err := os.MkdirAll(filepath.Join(cfg.Dir, "proc"), 0o755); err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	ports, err := testproc.Ports(2 * len(cfg.NodeIDs))
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	c := &Cluster{
		cfg:    cfg,
		byID:   make(map[string]*Node, len(cfg.NodeIDs)),
		client: &http.Client{Timeout: 5 * time.Second},
	}
	for i, id := range cfg.NodeIDs {
		n := &Node{
			ID:         id,
			Port:       ports[2*i],
			HealthPort: ports[2*i+1],
			LogPath:    filepath.Join(cfg.Dir, "proc", id+".log"),
		}
		n.API = "http://127.0.0.1:" + strconv.Itoa(n.Port)
		n.Health = "http://127.0.0.1:" + strconv.Itoa(n.HealthPort)
		c.nodes = append(c.nodes, n)
		c.byID[id] = n
	}
	nodeList := strings.Join(cfg.NodeIDs, ",")
	c.progress("making certificates and genesis")
	if _, err := c.Run(ctx, "certs", "--dir", "certs", "--nodes", nodeList); err != nil {
		return nil, err
	}
	if _, err := c.Run(ctx, "init", "--data-dir", "data", "--nodes", nodeList); err != nil {
		return nil, err
	}
	return c, nil
}

// Run runs the binary with args in the cluster's folder (a subcommand such as
// certs or init) and returns its combined output.
func (c *Cluster) Run(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, c.cfg.Binary, args...)
	cmd.Dir = c.cfg.Dir
	cmd.Env = append(os.Environ(), c.cfg.Env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("cluster: blockchain %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// Dir is the cluster's working folder.
func (c *Cluster) Dir() string { return c.cfg.Dir }

// Nodes returns every node, running or not, in NodeIDs order.
func (c *Cluster) Nodes() []*Node { return c.nodes }

// Node returns the node with the given id, or nil.
func (c *Cluster) Node(id string) *Node { return c.byID[id] }

// Args is the command line that starts node id: the README's, with the
// cluster's ports and an explicit --health-port (so any free port works).
func (c *Cluster) Args(id string) ([]string, error) {
	n := c.byID[id]
	if n == nil {
		return nil, fmt.Errorf("cluster: %w: %q", ErrUnknownNode, id)
	}
	var peers []string
	for _, p := range c.nodes {
		if p != n {
			peers = append(peers, ":"+strconv.Itoa(p.Port))
		}
	}
	args := []string{
		"--node-id=" + n.ID,
		"--port=" + strconv.Itoa(n.Port),
		"--peers=" + strings.Join(peers, ","),
		"--consensus=" + c.cfg.Consensus,
		"--health-port=" + strconv.Itoa(n.HealthPort),
	}
	return append(args, c.cfg.Args...), nil
}

// Start starts node id with its usual command line plus extra arguments.
func (c *Cluster) Start(id string, extra ...string) error {
	return c.StartIn(id, c.cfg.Dir, extra...)
}

// StartIn starts node id with its working folder set to dir, so that its
// relative paths (certs, data, logs) are taken from there: a test starts an
// impostor with another CA's certificates this way.
func (c *Cluster) StartIn(id, dir string, extra ...string) error {
	args, err := c.Args(id)
	if err != nil {
		return err
	}
	n := c.byID[id]
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.proc != nil && !n.proc.Exited() {
		return fmt.Errorf("cluster: start %s: %w", id, ErrAlreadyRunning)
	}
	marker := fmt.Sprintf("=== cluster: start %s in %s: %s %s\n", id, dir, c.cfg.Binary, strings.Join(append(args, extra...), " "))
	if err := appendFile(n.LogPath, marker); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	p, err := testproc.Spawn(id, c.cfg.Binary, append(args, extra...), testproc.Options{Dir: dir, Env: c.cfg.Env, LogPath: n.LogPath})
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	n.proc = p
	return nil
}

// StartAll starts every node that is not running.
func (c *Cluster) StartAll() error {
	c.progress(fmt.Sprintf("starting %d nodes", len(c.nodes)))
	for _, n := range c.nodes {
		if n.Running() {
			continue
		}
		if err := c.Start(n.ID); err != nil {
			return err
		}
	}
	return nil
}

// Kill sends SIGKILL to node id and waits until it is gone.
func (c *Cluster) Kill(id string) error {
	n := c.byID[id]
	if n == nil {
		return fmt.Errorf("cluster: %w: %q", ErrUnknownNode, id)
	}
	p := n.current()
	if p == nil {
		return fmt.Errorf("cluster: kill %s: %w", id, ErrNotRunning)
	}
	p.Kill()
	return nil
}

// Stop sends SIGTERM to node id and waits up to timeout for it to exit. It
// returns an error if the node did not exit in time or exited non-zero.
func (c *Cluster) Stop(id string, timeout time.Duration) error {
	n := c.byID[id]
	if n == nil {
		return fmt.Errorf("cluster: %w: %q", ErrUnknownNode, id)
	}
	p := n.current()
	if p == nil || p.Exited() {
		return nil
	}
	if err := p.Stop(timeout); err != nil {
		return fmt.Errorf("cluster: stop %s: %s", id, testproc.DescribeExit(err))
	}
	return nil
}

// Close stops every running node with SIGTERM (timeout each, then SIGKILL)
// and returns the first problem.
func (c *Cluster) Close(timeout time.Duration) error {
	c.progress("stopping the cluster")
	var errs []error
	for _, n := range c.nodes {
		if n.Running() {
			if p := n.current(); p != nil {
				_ = p.Signal(syscall.SIGTERM) // ESRCH: it exited meanwhile
			}
		}
	}
	for _, n := range c.nodes {
		errs = append(errs, c.Stop(n.ID, timeout))
	}
	return errors.Join(errs...)
}

func (c *Cluster) progress(msg string) {
	if c.cfg.Progress != nil {
		c.cfg.Progress(msg)
	}
}

func (n *Node) current() *testproc.Proc {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.proc
}

// Running reports whether the node's process is running.
func (n *Node) Running() bool {
	p := n.current()
	return p != nil && !p.Exited()
}

// Pid is the process id of the running node, or 0.
func (n *Node) Pid() int {
	p := n.current()
	if p == nil || p.Exited() {
		return 0
	}
	return p.Pid()
}

// Done is closed when the node's current process exits; nil if never started.
func (n *Node) Done() <-chan struct{} {
	p := n.current()
	if p == nil {
		return nil
	}
	return p.Done()
}

// ExitErr is how the node's last process ended (nil: exit status 0, or still running).
func (n *Node) ExitErr() error {
	p := n.current()
	if p == nil || !p.Exited() {
		return nil
	}
	return p.ExitErr()
}

// Log returns everything the node's processes wrote to stdout and stderr.
func (n *Node) Log() string {
	b, _ := os.ReadFile(n.LogPath)
	return string(b)
}

// Tail returns the last lines lines of Log.
func (n *Node) Tail(lines int) string { return testproc.TailFile(n.LogPath, lines) }

// Addr is the node's host:port on loopback.
func (n *Node) Addr() string { return "127.0.0.1:" + strconv.Itoa(n.Port) }

func appendFile(path, s string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteString(s)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
