// Package testproc runs the project's binaries as real processes: free
// loopback ports, processes whose output goes to a log file, and waiting on a
// condition with a deadline (never a sleep).
//
// Its core needs no test: Ports, Spawn, Poll and Until return errors, so the
// node cluster harness (internal/cluster) and loadgen use them too. FreePorts,
// Start and WaitFor are the same for a test: they fail it on an error, and
// Start kills its process at the test's cleanup.
package testproc

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Ports returns n distinct TCP ports that were free on 127.0.0.1 when asked.
// All n listeners are held open together so the ports differ.
func Ports(n int) ([]int, error) {
	ports := make([]int, 0, n)
	ls := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	for len(ports) < n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// FreePorts is Ports for a test: it fails the test on an error.
func FreePorts(tb testing.TB, n int) []int {
	tb.Helper()
	ports, err := Ports(n)
	if err != nil {
		tb.Fatalf("testproc: %v", err)
	}
	return ports
}

// Proc is a running child process.
type Proc struct {
	Name    string
	Cmd     *exec.Cmd
	LogPath string

	mu     sync.Mutex
	done   chan struct{}
	err    error
	exited bool
}

// Options for Start and Spawn.
type Options struct {
	Dir string   // working directory; default: Start: the test's temp dir, Spawn: the current one
	Env []string // added to the current environment
	// LogPath is where Spawn appends stdout and stderr (required by Spawn;
	// Start picks <TempDir>/<name>.log). Appending lets a restarted process
	// keep one log.
	LogPath string
}

// Spawn runs bin with args in its own process group, appending its stdout
// and stderr to opts.LogPath. Nothing kills it but the caller: Kill, Stop or
// Signal.
func Spawn(name, bin string, args []string, opts Options) (*Proc, error) {
	if opts.LogPath == "" {
		return nil, fmt.Errorf("testproc: spawn %s: no log path given", name)
	}
	f, err := os.OpenFile(opts.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("testproc: spawn %s: open log: %w", name, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = opts.Dir
	cmd.Env = append(os.Environ(), opts.Env...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("testproc: start %s (%s): %w", name, bin, err)
	}
	p := &Proc{Name: name, Cmd: cmd, LogPath: opts.LogPath, done: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		_ = f.Close()
		p.mu.Lock()
		p.err, p.exited = err, true
		p.mu.Unlock()
		close(p.done)
	}()
	return p, nil
}

// Start runs bin with args; stdout and stderr go to <TempDir>/<name>.log. The
// process is killed (SIGKILL) at test cleanup if it is still running, and its
// log's tail is printed when the test failed.
func Start(tb testing.TB, name, bin string, args []string, opts Options) *Proc {
	tb.Helper()
	logDir := tb.TempDir()
	opts.LogPath = filepath.Join(logDir, name+".log")
	if opts.Dir == "" {
		opts.Dir = logDir
	}
	p, err := Spawn(name, bin, args, opts)
	if err != nil {
		tb.Fatalf("%v", err)
	}
	tb.Cleanup(func() {
		p.Kill()
		if tb.Failed() {
			tb.Logf("--- last lines of %s (%s):\n%s", name, p.LogPath, p.Tail(40))
		}
	})
	return p
}

// Signal sends sig to the process group.
func (p *Proc) Signal(sig syscall.Signal) error {
	if p.Exited() {
		return nil
	}
	return syscall.Kill(-p.Cmd.Process.Pid, sig)
}

// Kill sends SIGKILL and waits for the process to be reaped.
func (p *Proc) Kill() {
	_ = p.Signal(syscall.SIGKILL)
	<-p.done
}

// Stop sends SIGTERM and waits up to timeout for a clean exit, then kills.
// It returns the process's exit error (nil for exit status 0).
func (p *Proc) Stop(timeout time.Duration) error {
	_ = p.Signal(syscall.SIGTERM)
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
		p.Kill()
		return fmt.Errorf("%s did not stop within %v of SIGTERM; killed", p.Name, timeout)
	}
	return p.ExitErr()
}

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited.
func (p *Proc) Exited() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exited
}

// ExitErr is the error cmd.Wait returned, once exited.
func (p *Proc) ExitErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// Pid is the process id.
func (p *Proc) Pid() int { return p.Cmd.Process.Pid }

// Log returns everything the process wrote so far.
func (p *Proc) Log() string {
	b, _ := os.ReadFile(p.LogPath)
	return string(b)
}

// Tail returns the last n lines the process wrote.
func (p *Proc) Tail(n int) string { return TailFile(p.LogPath, n) }

// TailFile returns the last n lines of the file at path ("" if unreadable).
func TailFile(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// DescribeExit says how a process ended, for messages: "exit status 2",
// "signal: killed", or the error itself.
func DescribeExit(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return strings.TrimSpace(ee.ProcessState.String())
	}
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}
