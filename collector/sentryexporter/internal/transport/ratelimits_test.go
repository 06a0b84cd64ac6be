package transport

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestBackoffUntil(t *testing.T) {
	now := time.Date(2026, 11, 24, 18, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		status int
		header http.Header
		want   time.Duration // from now; -1: no back-off
	}{
		{"ok", 200, nil, -1},
		{"503 without headers", 503, nil, -1},
		{"429 without headers", 429, nil, DefaultRetryAfter},
		{"retry-after seconds", 429, http.Header{"Retry-After": {"7"}}, 7 * time.Second},
		{"retry-after date", 429, http.Header{"Retry-After": {now.Add(90 * time.Second).Format(http.TimeFormat)}}, 90 * time.Second},
		{"503 with retry-after", 503, http.Header{"Retry-After": {"2"}}, 2 * time.Second},
		{"rate limits for errors", 200, http.Header{"X-Sentry-Rate-Limits": {"60:transaction:key, 30:default;error;security:organization"}}, 30 * time.Second},
		{"rate limits for all categories", 429, http.Header{"X-Sentry-Rate-Limits": {"12::organization"}}, 12 * time.Second},
		{"rate limits win over retry-after", 429, http.Header{"X-Sentry-Rate-Limits": {"5:error:project"}, "Retry-After": {"50"}}, 5 * time.Second},
		{"rate limits for other categories only", 200, http.Header{"X-Sentry-Rate-Limits": {"60:transaction;session:key"}}, -1},
		{"largest of several error limits", 429, http.Header{"X-Sentry-Rate-Limits": {"3:error:key,9:error:org"}}, 9 * time.Second},
		{"garbage falls back to the 429 default", 429, http.Header{"X-Sentry-Rate-Limits": {"soon:error"}, "Retry-After": {"later"}}, DefaultRetryAfter},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := backoffUntil(tc.status, tc.header, now)
			if tc.want < 0 {
				assert.True(t, got.IsZero(), "got %v", got)
				return
			}
			assert.Equal(t, now.Add(tc.want), got)
		})
	}
}
