package testproc

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// pollInterval is how often Poll and Until recheck their condition.
const pollInterval = 50 * time.Millisecond

// GiveUp wraps an error that makes Poll, Until and WaitFor return at once:
// waiting longer cannot help (the process being waited on died).
func GiveUp(err error) error { return giveUpError{err} }

type giveUpError struct{ err error }

func (e giveUpError) Error() string { return e.err.Error() }
func (e giveUpError) Unwrap() error { return e.err }

// WaitFor polls cond every 50ms until it returns nil or timeout passes, then
// fails the test with what was waited for and cond's last error.
func WaitFor(tb testing.TB, timeout time.Duration, what string, cond func() error) {
	tb.Helper()
	if err := Poll(context.Background(), timeout, cond); err != nil {
		tb.Fatalf("waiting %v for %s: %v", timeout, what, err)
	}
}

// Poll is WaitFor without a test: it returns cond's last error at the
// deadline, or at once an error cond made with GiveUp.
func Poll(ctx context.Context, timeout time.Duration, cond func() error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	_, err := poll(ctx, cond)
	return err
}

// Until calls cond until it returns nil or an error made with GiveUp, or ctx
// ends; then it returns cond's last error together with the context's
// ("context deadline exceeded (last: ...)").
func Until(ctx context.Context, cond func() error) error {
	expired, err := poll(ctx, cond)
	if expired {
		return fmt.Errorf("%w (last: %v)", ctx.Err(), err)
	}
	return err
}

// poll returns nil, a given-up error, or cond's last error with expired set
// when ctx ended first.
func poll(ctx context.Context, cond func() error) (expired bool, err error) {
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		err := cond()
		if err == nil {
			return false, nil
		}
		var stop giveUpError
		if errors.As(err, &stop) {
			return false, stop.err
		}
		select {
		case <-ctx.Done():
			return true, err
		case <-tick.C:
		}
	}
}
