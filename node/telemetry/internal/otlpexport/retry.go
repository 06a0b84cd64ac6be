package otlpexport

import (
	"time"

	"github.com/cenkalti/backoff/v5"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// retryable is otlptracegrpc's rule: the codes a later attempt may get
// through, and ResourceExhausted only when the server says when (RetryInfo).
// The duration is the server's requested delay, if any.
func retryable(err error) (bool, time.Duration) {
	s := status.Convert(err)
	switch s.Code() {
	case codes.Canceled, codes.DeadlineExceeded, codes.Aborted, codes.OutOfRange, codes.Unavailable, codes.DataLoss:
		_, d := throttleDelay(s)
		return true, d
	case codes.ResourceExhausted:
		return throttleDelay(s)
	}
	return false, 0
}

func throttleDelay(s *status.Status) (bool, time.Duration) {
	for _, detail := range s.Details() {
		if t, ok := detail.(*errdetails.RetryInfo); ok {
			return true, t.GetRetryDelay().AsDuration()
		}
	}
	return false, 0
}

// retryPolicy is otlptracegrpc's default retry configuration.
type retryPolicy struct {
	initial, max, maxElapsed time.Duration
}

func defaultRetryPolicy() retryPolicy {
	return retryPolicy{initial: 5 * time.Second, max: 30 * time.Second, maxElapsed: time.Minute}
}

func (p retryPolicy) backOff() *throttledBackOff {
	return &throttledBackOff{exp: backoff.ExponentialBackOff{
		InitialInterval:     p.initial,
		RandomizationFactor: backoff.DefaultRandomizationFactor,
		Multiplier:          backoff.DefaultMultiplier,
		MaxInterval:         p.max,
	}}
}

// throttledBackOff is exponential backoff that waits at least as long as the
// server last asked (RetryInfo), as otlptracegrpc does.
type throttledBackOff struct {
	exp      backoff.ExponentialBackOff
	throttle time.Duration
}

var _ backoff.BackOff = (*throttledBackOff)(nil)

func (b *throttledBackOff) NextBackOff() time.Duration {
	d := max(b.exp.NextBackOff(), b.throttle)
	b.throttle = 0
	return d
}

func (b *throttledBackOff) Reset() {
	b.exp.Reset()
	b.throttle = 0
}
