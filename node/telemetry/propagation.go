package telemetry

import (
	"context"
	"fmt"
	"os"
	"strings"

	"go.opentelemetry.io/contrib/propagators/autoprop"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
)

// envPropagators selects the propagators (tracecontext,baggage by default).
const envPropagators = "OTEL_PROPAGATORS"

// defaultBaggageDenyKeys returns the fragments that mark a baggage key as
// sensitive. Keys are compared after lowercasing and removing '-', '_', '.'
// and spaces, and a key is denied when it contains a fragment, so "apikey"
// catches "X-Api-Key" and "api_key", and "session" catches "session_id".
func defaultBaggageDenyKeys() []string {
	return []string{
		"authorization", "cookie", "token", "password", "passwd", "secret",
		"apikey", "session", "credential", "privatekey", "bearer", "jwt",
	}
}

// NewPropagator returns the propagator of OTEL_PROPAGATORS (tracecontext and
// baggage when unset; b3, b3multi, jaeger, xray, ottrace and none on request),
// with incoming baggage filtered by denyKeys (nil: defaultBaggageDenyKeys).
func NewPropagator(denyKeys []string) (propagation.TextMapPropagator, error) {
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

// baggageFilter wraps a propagator and removes, on Extract, the baggage
// members whose keys look sensitive, so that a credential a client put in
// baggage is neither seen by the node nor propagated to its peers. Inject and
// Fields are the wrapped propagator's.
type baggageFilter struct {
	next propagation.TextMapPropagator
	deny []string
}

var _ propagation.TextMapPropagator = (*baggageFilter)(nil)

// newBaggageFilter wraps next. denyKeys are key fragments (see
// defaultBaggageDenyKeys); nil means the defaults, an empty slice denies
// nothing.
func newBaggageFilter(next propagation.TextMapPropagator, denyKeys []string) *baggageFilter {
	if denyKeys == nil {
		denyKeys = defaultBaggageDenyKeys()
	}
	deny := make([]string, 0, len(denyKeys))
	for _, k := range denyKeys {
		if n := normalizeKey(k); n != "" {
			deny = append(deny, n)
		}
	}
	return &baggageFilter{next: next, deny: deny}
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
	for _, m := range b.Members() {
		if f.denied(m.Key()) {
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

// denied reports whether a baggage key matches the deny-list.
func (f *baggageFilter) denied(key string) bool {
	k := normalizeKey(key)
	for _, d := range f.deny {
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
