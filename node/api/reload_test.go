package api

import (
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
)

func TestLimiterSetMax(t *testing.T) {
	l := newClientLimiter(1, slog.New(slog.DiscardHandler), prometheus.NewCounter(prometheus.CounterOpts{Name: "t"}))
	ok, _, _ := l.acquire("10.0.0.1")
	require.True(t, ok)
	ok, first, limit := l.acquire("10.0.0.1")
	require.False(t, ok)
	require.True(t, first)
	require.Equal(t, 1, limit)

	l.setMax(2)
	ok, _, limit = l.acquire("10.0.0.1")
	require.True(t, ok, "a raised limit admits at once")
	require.Equal(t, 2, limit)
	l.setMax(1)
	l.release("10.0.0.1")
	ok, _, _ = l.acquire("10.0.0.1")
	require.False(t, ok, "one still in flight is at the lowered limit")
}

func TestSetCommitTimeout(t *testing.T) {
	a := &API{}
	a.SetCommitTimeout(3 * time.Second)
	require.Equal(t, 3*time.Second, a.CommitTimeout())
	a.SetCommitTimeout(0)
	require.Equal(t, DefaultCommitTimeout, a.CommitTimeout())
}
