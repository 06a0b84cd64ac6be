package limiter

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestBurstThenRefillCarriesSuppressed(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	l, err := New(3, 3*time.Second, 10, c.now) // one token a second
	require.NoError(t, err)
	a, b := []string{"consensus_timeout", "consensus.commit"}, []string{"storage_error", "block.apply"}

	var allowed []bool
	for range 5 {
		ok, carried := l.Allow(a)
		assert.Zero(t, carried)
		allowed = append(allowed, ok)
	}
	assert.Equal(t, []bool{true, true, true, false, false}, allowed)

	ok, carried := l.Allow(b)
	assert.True(t, ok, "another fingerprint has its own bucket")
	assert.Zero(t, carried)

	c.t = c.t.Add(time.Second)
	ok, carried = l.Allow(a)
	assert.True(t, ok)
	assert.Equal(t, int64(2), carried, "the two suppressed ride on the next one let through")
	ok, _ = l.Allow(a)
	assert.False(t, ok)
	c.t = c.t.Add(time.Second)
	ok, carried = l.Allow(a)
	assert.True(t, ok)
	assert.Equal(t, int64(1), carried)
}

func TestForgetsLeastRecentFingerprint(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	l, err := New(1, time.Hour, 2, c.now)
	require.NoError(t, err)
	for _, fp := range []string{"a", "b", "c"} {
		ok, _ := l.Allow([]string{fp})
		assert.True(t, ok)
	}
	ok, _ := l.Allow([]string{"a"})
	assert.True(t, ok, "a was forgotten beyond max_fingerprints, so it starts a new bucket")
	ok, _ = l.Allow([]string{"c"})
	assert.False(t, ok)
}
