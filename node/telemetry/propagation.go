package telemetry

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"

	"go.opentelemetry.io/contrib/propagators/autoprop"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
)

// envPropagators selects the propagators (tracecontext,baggage by default).
const envPropagators = "OTEL_PROPAGATORS"

// DefaultBaggageDenyKeys returns the fragments that mark a baggage key as
// sensitive. Keys are compared after lowercasing and removing '-', '_', '.'
// and spaces, and a key is denied when it contains a fragment, so "apikey"
// catches "X-Api-Key" and "api_key", and "session" catches "session_id".
func DefaultBaggageDenyKeys() []string {
	return []string{
		"authorization", "cookie", "token", "password", "passwd", "secret",
		"apikey", "session", "credential", "privatekey", "bearer", "jwt",
	}
}

// NewPropagator returns the propagator of OTEL_PROPAGATORS (tracecontext and
// baggage when unset; b3, b3multi, jaeger, xray, ottrace and none on request),
// with incoming baggage filtered by denyKeys (nil: DefaultBaggageDenyKeys).
// A fragment that is empty once normalised is an error.
func NewPropagator(denyKeys []string) (propagation.TextMapPropagator, error) {
	return newPropagator(denyKeys)
}

// newPropagator is NewPropagator with the filter's type, whose deny-list
// Telemetry changes while the node runs.
func newPropagator(denyKeys []string) (*baggageFilter, error) {
	if err := validateBaggageDenyKeys(denyKeys); err != nil {
		return nil, fmt.Errorf("%w: BaggageDenyKeys: %w", errInvalidConfig, err)
	}
	var p propagation.TextMapPropagator
	if raw := os.Getenv(envPropagators); raw != "" {
		// autoprop.NewTextMapPropagator would only log an unknown name and
		// fall back; a typo in the environment deserves a startup error.
		names := strings.Split(raw, ",")
		for i := range names {
			names[i] = strings.TrimSpace(names[i])
		}
		var err error
		if p, err = autoprop.TextMapPropagator(names...); err != nil {
			return nil, fmt.Errorf("%w: %s=%q: %v", errInvalidEnv, envPropagators, raw, err)
		}
	} else {
		p = autoprop.NewTextMapPropagator()
	}
	return newBaggageFilter(p, denyKeys), nil
}

// ParseBaggageDenyKeys reads a --baggage-deny-keys value: fragments
// separated by commas, spaces around each ignored. An empty value is an
// empty list (nothing is removed); an empty fragment ("a,,b", a trailing
// comma) or one made only of the separators normalisation removes is an
// error naming its position.
func ParseBaggageDenyKeys(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return []string{}, nil
	}
	parts := strings.Split(s, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	if err := validateBaggageDenyKeys(parts); err != nil {
		return nil, err
	}
	return parts, nil
}

// validateBaggageDenyKeys reports the fragments that would match every key
// (empty once normalised), each by position and value.
func validateBaggageDenyKeys(keys []string) error {
	var errs []error
	for i, k := range keys {
		if normalizeKey(k) == "" {
			errs = append(errs, fmt.Errorf("fragment %d of %d is %q: empty once lowercased and stripped of '-', '_', '.' and spaces, it would remove every key (an empty list removes none)", i+1, len(keys), k))
		}
	}
	return errors.Join(errs...)
}

// baggageFilter wraps a propagator and removes, on Extract, the baggage
// members whose keys look sensitive, so that a credential a client put in
// baggage is neither seen by the node nor propagated to its peers. Inject and
// Fields are the wrapped propagator's. The deny-list is swapped whole while
// requests are extracted (set), so each Extract sees one list.
type baggageFilter struct {
	next propagation.TextMapPropagator
	deny atomic.Pointer[[]string] // normalised fragments
}

var _ propagation.TextMapPropagator = (*baggageFilter)(nil)

// newBaggageFilter wraps next. denyKeys are key fragments (see
// DefaultBaggageDenyKeys); nil means the defaults, an empty slice denies
// nothing.
func newBaggageFilter(next propagation.TextMapPropagator, denyKeys []string) *baggageFilter {
	f := &baggageFilter{next: next}
	f.set(denyKeys)
	return f
}

// set puts denyKeys in force for the Extracts that start from now on (nil:
// the defaults). Fragments empty once normalised are skipped; the callers
// have refused them (validateBaggageDenyKeys).
func (f *baggageFilter) set(denyKeys []string) {
	if denyKeys == nil {
		denyKeys = DefaultBaggageDenyKeys()
	}
	deny := make([]string, 0, len(denyKeys))
	for _, k := range denyKeys {
		if n := normalizeKey(k); n != "" {
			deny = append(deny, n)
		}
	}
	f.deny.Store(&deny)
}

// Inject is the wrapped propagator's Inject.
func (f *baggageFilter) Inject(ctx context.Context, carrier propagation.TextMapCarrier) {
	f.next.Inject(ctx, carrier)
}

// Extract extracts with the wrapped propagator, then drops denied baggage.
func (f *baggageFilter) Extract(ctx context.Context, carrier propagation.TextMapCarrier) context.Context {
	ctx = f.next.Extract(ctx, carrier)
	b := baggage.FromContext(ctx)
	if b.Len() == 0 {
		return ctx
	}
	filtered := b
	deny := *f.deny.Load()
	for _, m := range b.Members() {
		if matchesAny(deny, m.Key()) {
			filtered = filtered.DeleteMember(m.Key())
		}
	}
	if filtered.Len() == b.Len() {
		return ctx
	}
	return baggage.ContextWithBaggage(ctx, filtered)
}

// Fields is the wrapped propagator's Fields.
func (f *baggageFilter) Fields() []string { return f.next.Fields() }

// denied reports whether a baggage key matches the deny-list in force.
func (f *baggageFilter) denied(key string) bool { return matchesAny(*f.deny.Load(), key) }

// matchesAny reports whether key, normalised, contains one of the
// normalised fragments deny.
func matchesAny(deny []string, key string) bool {
	k := normalizeKey(key)
	for _, d := range deny {
		if strings.Contains(k, d) {
			return true
		}
	}
	return false
}

// normalizeKey lowercases key and removes the separators people put inside
// names (api-key, api_key, api.key, "api key").
func normalizeKey(key string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '-', '_', '.', ' ':
			return -1
		}
		if 'A' <= r && r <= 'Z' {
			return r + ('a' - 'A')
		}
		return r
	}, key)
}
