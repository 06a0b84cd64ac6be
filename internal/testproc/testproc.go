// Package testproc runs the project's binaries as real processes in tests:
// free loopback ports, processes whose output goes to a log file and which are
// killed at cleanup, and waiting on a condition with a deadline (never a sleep).
package testproc

import (
	"context"
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

// FreePorts returns n distinct TCP ports that were free on 127.0.0.1 when asked.
// All n listeners are held open together so the ports differ.
func FreePorts(tb testing.TB, n int) []int {
	tb.Helper()
	ports := make([]int, 0, n)
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	for len(ports) < n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatalf("testproc: free port: %v", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
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

// Options for Start.
type Options struct {
	Dir string   // working directory; default: the test's temp dir
	Env []string // added to the current environment
}

// Start runs bin with args; stdout and stderr go to <TempDir>/<name>.log. The
// process is killed (SIGKILL) at test cleanup if it is still running, and its
// log's tail is printed when the test failed.
func Start(tb testing.TB, name, bin string, args []string, opts Options) *Proc {
	tb.Helper()
	logDir := tb.TempDir()
	logPath := filepath.Join(logDir, name+".log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		tb.Fatalf("testproc: %v", err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = opts.Dir
	if cmd.Dir == "" {
		cmd.Dir = logDir
	}
	cmd.Env = append(os.Environ(), opts.Env...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		_ = f.Close()
		tb.Fatalf("testproc: start %s: %v", name, err)
	}
	p := &Proc{Name: name, Cmd: cmd, LogPath: logPath, done: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		_ = f.Close()
		p.mu.Lock()
		p.err, p.exited = err, true
		p.mu.Unlock()
		close(p.done)
	}()
	tb.Cleanup(func() {
		p.Kill()
		if tb.Failed() {
			tb.Logf("--- last lines of %s (%s):\n%s", name, logPath, p.Tail(40))
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
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.Kill()
		return fmt.Errorf("%s did not stop within %v of SIGTERM", p.Name, timeout)
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

// Log returns everything the process wrote so far.
func (p *Proc) Log() string {
	b, _ := os.ReadFile(p.LogPath)
	return string(b)
}

// Tail returns the last n lines the process wrote.
func (p *Proc) Tail(n int) string {
	lines := strings.Split(strings.TrimRight(p.Log(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// WaitFor polls cond every 50ms until it returns nil or timeout passes, then
// fails the test with what was waited for and cond's last error.
func WaitFor(tb testing.TB, timeout time.Duration, what string, cond func() error) {
	tb.Helper()
	if err := Poll(context.Background(), timeout, cond); err != nil {
		tb.Fatalf("waiting %v for %s: %v", timeout, what, err)
	}
}

// Poll is WaitFor without a test: it returns cond's last error at the deadline.
func Poll(ctx context.Context, timeout time.Duration, cond func() error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		err := cond()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-tick.C:
		}
	}
}
