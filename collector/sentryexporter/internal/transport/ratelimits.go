package transport

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// DefaultRetryAfter is how long to back off after a 429 that says nothing
// about when to come back (Sentry's SDKs use the same default).
const DefaultRetryAfter = 60 * time.Second

// errorCategory is the rate-limit category of error events.
const errorCategory = "error"

// backoffUntil reads how long Sentry asks us to stay away from sending error
// events: X-Sentry-Rate-Limits first (only the groups that cover the "error"
// category or all categories), then Retry-After, and for a 429 that has
// neither, DefaultRetryAfter. The zero time means no back-off.
func backoffUntil(status int, h http.Header, now time.Time) time.Time {
	if v := h.Get("X-Sentry-Rate-Limits"); v != "" {
		if until, ok := parseSentryRateLimits(v, now); ok {
			return until
		}
	}
	if v := h.Get("Retry-After"); v != "" {
		if until, ok := parseRetryAfter(v, now); ok {
			return until
		}
	}
	if status == http.StatusTooManyRequests {
		return now.Add(DefaultRetryAfter)
	}
	return time.Time{}
}

// parseSentryRateLimits parses "retry_after:categories:scope[:...]" groups
// separated by commas; categories are separated by ';', empty means all.
func parseSentryRateLimits(v string, now time.Time) (time.Time, bool) {
	var until time.Time
	found := false
	for _, group := range strings.Split(v, ",") {
		parts := strings.Split(strings.TrimSpace(group), ":")
		if len(parts) < 2 {
			continue
		}
		secs, err := strconv.ParseFloat(parts[0], 64)
		if err != nil || secs < 0 {
			continue
		}
		if !coversErrors(parts[1]) {
			continue
		}
		t := now.Add(time.Duration(secs * float64(time.Second)))
		if !found || t.After(until) {
			until, found = t, true
		}
	}
	return until, found
}

func coversErrors(categories string) bool {
	if categories == "" {
		return true
	}
	for _, c := range strings.Split(categories, ";") {
		if c == errorCategory {
			return true
		}
	}
	return false
}

// parseRetryAfter parses a number of seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) (time.Time, bool) {
	if secs, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && secs >= 0 {
		return now.Add(time.Duration(secs * float64(time.Second))), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return t, true
	}
	return time.Time{}, false
}
