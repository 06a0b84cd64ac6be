// Package limiter rate-limits Sentry events per fingerprint, remembering how
// many it suppressed so the next event let through can carry the count.
package limiter

import (
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"golang.org/x/time/rate"
)

// Limiter lets through at most Burst events per fingerprint at once,
// refilled evenly over Interval (a token bucket per fingerprint). Safe for
// concurrent use.
type Limiter struct {
	burst int
	every rate.Limit
	now   func() time.Time

	mu      sync.Mutex
	buckets *simplelru.LRU[string, *bucket]
}

type bucket struct {
	lim        *rate.Limiter
	suppressed int64
}

// New returns a limiter of burst events per interval per fingerprint that
// remembers at most maxFingerprints fingerprints (the least recently seen is
// forgotten first, with its suppressed count: the metric still has it).
// now is the clock (time.Now outside tests).
func New(burst int, interval time.Duration, maxFingerprints int, now func() time.Time) (*Limiter, error) {
	l, err := simplelru.NewLRU[string, *bucket](maxFingerprints, nil)
	if err != nil {
		return nil, err
	}
	return &Limiter{
		burst:   burst,
		every:   rate.Every(interval / time.Duration(burst)),
		now:     now,
		buckets: l,
	}, nil
}

// Allow reports whether an event with fingerprint fp may be sent now. When
// it may, carried is the number of events of fp suppressed since the last
// one let through (to report on this one); when it may not, the event is
// counted as suppressed.
func (l *Limiter) Allow(fp []string) (ok bool, carried int64) {
	key := strings.Join(fp, "\x00")
	l.mu.Lock()
	defer l.mu.Unlock()
	b, found := l.buckets.Get(key)
	if !found {
		b = &bucket{lim: rate.NewLimiter(l.every, l.burst)}
		l.buckets.Add(key, b)
	}
	if !b.lim.AllowN(l.now(), 1) {
		b.suppressed++
		return false, 0
	}
	carried, b.suppressed = b.suppressed, 0
	return true, carried
}
