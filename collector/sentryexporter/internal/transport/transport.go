// Package transport sends one Sentry event per request with sentry-go's
// synchronous envelope transport and reports what happened, which sentry-go's
// Transport interface does not: the exporter needs to know whether to retry.
package transport

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/getsentry/sentry-go"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
)

// Sentinel errors of a send.
var (
	// ErrRateLimited: Sentry asked us to back off (429, X-Sentry-Rate-Limits).
	ErrRateLimited = errors.New("sentry rate limit in force")
	// ErrServer: Sentry answered 5xx.
	ErrServer = errors.New("sentry server error")
	// ErrRejected: Sentry refused the event for good (4xx other than 429).
	ErrRejected = errors.New("sentry rejected the event")
	// ErrNotSent: sentry-go dropped the event without a request.
	ErrNotSent = errors.New("sentry-go did not send the event")
)

// Sender sends events one at a time and is safe for concurrent use (the
// exporter helper's queue consumers share it).
type Sender struct {
	tr  *sentry.HTTPSyncTransport
	now func() time.Time

	mu           sync.Mutex
	blockedUntil time.Time
}

// New returns a Sender for dsn. base does the HTTP round trips (nil:
// http.DefaultTransport's clone); timeout bounds one request.
func New(dsn string, base http.RoundTripper, timeout time.Duration) (*Sender, error) {
	if _, err := sentry.NewDsn(dsn); err != nil {
		return nil, fmt.Errorf("dsn: %w", err)
	}
	if base == nil {
		base = http.DefaultTransport.(*http.Transport).Clone()
	}
	tr := sentry.NewHTTPSyncTransport()
	if timeout > 0 {
		tr.Timeout = timeout
	}
	tr.Configure(sentry.ClientOptions{Dsn: dsn, HTTPTransport: recorder{base: base}})
	return &Sender{tr: tr, now: time.Now}, nil
}

// outcome is what the round trip of one send saw.
type outcome struct {
	attempted bool
	status    int
	header    http.Header
	err       error
}

type outcomeKey struct{}

// recorder is the http.RoundTripper under sentry-go's transport: it notes
// the response (or error) of the send whose context carries an outcome.
type recorder struct{ base http.RoundTripper }

func (r recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.base.RoundTrip(req)
	if o, ok := req.Context().Value(outcomeKey{}).(*outcome); ok {
		o.attempted = true
		if err != nil {
			o.err = err
		} else {
			o.status, o.header = resp.StatusCode, resp.Header.Clone()
		}
	}
	return resp, err
}

// Send delivers ev and returns nil once Sentry accepted it. Errors are
// retryable (network, 5xx; 429 and rate limits as
// exporterhelper.NewThrottleRetry with the delay Sentry asked for) except a
// 4xx rejection, which is consumererror.Permanent wrapping ErrRejected.
func (s *Sender) Send(ctx context.Context, ev *sentry.Event) error {
	if wait := s.backoff(); wait > 0 {
		return exporterhelper.NewThrottleRetry(fmt.Errorf("event %s: %w for %v", ev.EventID, ErrRateLimited, wait), wait)
	}
	o := &outcome{}
	s.tr.SendEventWithContext(context.WithValue(ctx, outcomeKey{}, o), ev)
	switch {
	case !o.attempted:
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("event %s: %w", ev.EventID, err)
		}
		// sentry-go keeps its own copy of the rate limits we saw and drops
		// events silently while they hold: wait with it.
		wait := max(s.backoff(), minNotSentWait)
		return exporterhelper.NewThrottleRetry(fmt.Errorf("event %s: %w", ev.EventID, ErrNotSent), wait)
	case o.err != nil:
		return fmt.Errorf("event %s: %w", ev.EventID, o.err)
	}
	until := backoffUntil(o.status, o.header, s.now())
	if !until.IsZero() {
		s.mu.Lock()
		if until.After(s.blockedUntil) {
			s.blockedUntil = until
		}
		s.mu.Unlock()
	}
	switch {
	case o.status >= 200 && o.status < 300:
		return nil
	case o.status == http.StatusTooManyRequests:
		wait := until.Sub(s.now())
		return exporterhelper.NewThrottleRetry(fmt.Errorf("event %s: %w (HTTP 429), retry in %v", ev.EventID, ErrRateLimited, wait), wait)
	case o.status >= 500:
		err := fmt.Errorf("event %s: %w (HTTP %d)", ev.EventID, ErrServer, o.status)
		if !until.IsZero() {
			return exporterhelper.NewThrottleRetry(err, until.Sub(s.now()))
		}
		return err
	default:
		return consumererror.NewPermanent(fmt.Errorf("event %s: %w (HTTP %d)", ev.EventID, ErrRejected, o.status))
	}
}

// backoff is how long Sentry asked us to wait, from now.
func (s *Sender) backoff() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.blockedUntil.Sub(s.now())
}

// minNotSentWait is the least wait after sentry-go dropped an event on its
// own rate limits: its deadline can trail ours by a moment.
const minNotSentWait = 200 * time.Millisecond
