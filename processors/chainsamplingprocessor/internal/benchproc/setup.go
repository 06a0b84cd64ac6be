package benchproc

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/chainotel/chainotel/internal/otlpsink"
)

// Binary returns the absolute path of a binary the bench runs (its
// processes run in folders of their own), failing if nothing is there.
func Binary(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(abs); err != nil {
		return "", err
	}
	return abs, nil
}

// Setup returns a context that SIGINT or SIGTERM ends and a new temporary
// folder named after prefix; cleanup cancels the one and removes the
// other.
func Setup(prefix string) (ctx context.Context, dir string, cleanup func(), err error) {
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	dir, err = os.MkdirTemp("", prefix)
	if err != nil {
		cancel()
		return nil, "", nil, err
	}
	return ctx, dir, func() {
		_ = os.RemoveAll(dir) // a temporary folder: nothing to do if it stays
		cancel()
	}, nil
}

// Sink serves an OTLP sink on a free loopback port.
func Sink() (*otlpsink.Sink, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("sink: %w", err)
	}
	return otlpsink.Serve(lis), nil
}

// Every calls f every interval with the tick's time until f returns
// false, ctx ends or stop is called; stop returns once no call of f is
// running or will start.
func Every(ctx context.Context, interval time.Duration, f func(now time.Time) bool) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case now := <-tick.C:
				if !f(now) {
					return
				}
			}
		}
	})
	var once sync.Once
	return func() {
		once.Do(func() { close(done) })
		wg.Wait()
	}
}
