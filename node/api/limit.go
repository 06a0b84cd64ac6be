package api

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// DefaultMaxClientRequests is how many requests one client (remote IP) may
// have in flight at once. It is far above the 256 concurrent clients the load
// generator runs from one address, and still bounds a single flooding host.
const DefaultMaxClientRequests = 1024

// clientLimiter bounds the requests in flight per remote IP, so one client
// cannot hold every goroutine and commit waiter of the node. Safe for
// concurrent use.
type clientLimiter struct {
	log       *slog.Logger
	throttled prometheus.Counter

	mu       sync.Mutex
	max      int             // changed by setMax while serving
	inFlight map[string]int  // remote IP -> requests in flight; absent when 0
	logged   map[string]bool // remote IPs refused since they last had none in flight
}

func newClientLimiter(limit int, log *slog.Logger, throttled prometheus.Counter) *clientLimiter {
	return &clientLimiter{max: limit, log: log, throttled: throttled, inFlight: make(map[string]int), logged: make(map[string]bool)}
}

// wrap answers 429 with a JSON error to a client already at its limit.
func (l *clientLimiter) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ip := clientIP(r)
		ok, first, limit := l.acquire(ip)
		if !ok {
			l.throttled.Inc()
			if first {
				l.log.WarnContext(r.Context(), "client throttled: too many requests in flight", "client", ip, "limit", limit)
			}
			w.Header().Set("Retry-After", "1")
			// Close rather than read the rest of an unread body for keep-alive:
			// the answer goes out now and the flood loses its connection.
			w.Header().Set("Connection", "close")
			writeJSON(w, http.StatusTooManyRequests, ErrorBody{
				Error: fmt.Sprintf("too many requests in flight from %s (at most %d); retry later", ip, limit)})
			return
		}
		defer l.release(ip)
		next.ServeHTTP(w, r)
	})
}

// acquire takes a slot for ip if one is free. When it is not, first says
// whether this is the first refusal since the client last had nothing in
// flight, so a flood is logged once, not once per request; limit is the
// limit it was held to.
func (l *clientLimiter) acquire(ip string) (ok, first bool, limit int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := l.inFlight[ip]
	if n >= l.max {
		first = !l.logged[ip]
		l.logged[ip] = true
		return false, first, l.max
	}
	l.inFlight[ip] = n + 1
	return true, false, l.max
}

// setMax changes the limit. Requests in flight above a lowered limit finish;
// new ones wait until the client is below it.
func (l *clientLimiter) setMax(limit int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.max = limit
}

func (l *clientLimiter) release(ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n := l.inFlight[ip] - 1; n > 0 {
		l.inFlight[ip] = n
		return
	}
	delete(l.inFlight, ip)
	delete(l.logged, ip)
}

// clientIP is the host part of the connection's remote address. Forwarded
// headers are not trusted: the node has no proxy in front of it.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
