package guard_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chainotel/chainotel/node/guard"
)

func TestNilGoRunsPlainGoroutines(t *testing.T) {
	var wg sync.WaitGroup
	ran := make(chan string, 1)
	guard.Go(nil).Start(t.Context(), &wg, "plain", func(context.Context) { ran <- "plain" })
	wg.Wait()
	require.Equal(t, "plain", <-ran)
}

func TestStartGoesThroughTheGuardWithItsName(t *testing.T) {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		names []string
	)
	g := guard.Go(func(ctx context.Context, name string, fn func(context.Context)) {
		mu.Lock()
		names = append(names, name)
		mu.Unlock()
		go fn(ctx)
	})
	done := make(chan struct{})
	g.Start(t.Context(), &wg, "raft.propose", func(context.Context) { close(done) })
	g.Start(t.Context(), nil, "untracked", func(context.Context) {})
	wg.Wait()
	<-done
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, []string{"raft.propose", "untracked"}, names)
}

func TestWaitGroupIsReleasedWhenTheGoroutinePanics(t *testing.T) {
	var wg sync.WaitGroup
	recovered := make(chan any, 1)
	g := guard.Go(func(ctx context.Context, _ string, fn func(context.Context)) {
		go func() {
			defer func() { recovered <- recover() }()
			fn(ctx)
		}()
	})
	g.Start(t.Context(), &wg, "boom", func(context.Context) { panic("boom") })
	wg.Wait()
	require.Equal(t, "boom", <-recovered)
}
