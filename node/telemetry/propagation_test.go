package telemetry

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

const traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

func TestBaggageDenyList(t *testing.T) {
	p, err := NewPropagator(nil)
	require.NoError(t, err)
	in := propagation.MapCarrier{
		"traceparent": traceparent,
		"baggage": "tenant=acme,Authorization=Bearer%20x,x-api-key=k1,session_id=s1," +
			"user.password=p,auth_token=t,Cookie=c,client.secret=s,region=eu",
	}
	ctx := p.Extract(context.Background(), in)

	// The trace context itself is untouched.
	require.Equal(t, "0af7651916cd43dd8448eb211c80319c", trace.SpanContextFromContext(ctx).TraceID().String())

	b := baggage.FromContext(ctx)
	var kept []string
	for _, m := range b.Members() {
		kept = append(kept, m.Key())
	}
	require.ElementsMatch(t, []string{"tenant", "region"}, kept)

	// What the node propagates to its peers carries only what was kept.
	out := propagation.MapCarrier{}
	p.Inject(ctx, out)
	require.Contains(t, out["traceparent"], "0af7651916cd43dd8448eb211c80319c")
	outB, err := baggage.Parse(out["baggage"])
	require.NoError(t, err)
	require.Equal(t, 2, outB.Len())
	require.Equal(t, "acme", outB.Member("tenant").Value())
}

func TestBaggageDenyListIsConfigurable(t *testing.T) {
	tests := []struct {
		name string
		deny []string
		key  string
		want bool
	}{
		{"default denies api keys in any spelling", nil, "X-Api-Key", true},
		{"default denies session ids", nil, "session_id", true},
		{"default keeps ordinary keys", nil, "tenant", false},
		{"custom list", []string{"customer-id"}, "customer_id", true},
		{"custom list replaces the defaults", []string{"customer-id"}, "token", false},
		{"empty list denies nothing", []string{}, "password", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newBaggageFilter(propagation.Baggage{}, tt.deny)
			require.Equal(t, tt.want, f.denied(tt.key))
		})
	}
}

func TestPropagatorsFromEnvironment(t *testing.T) {
	t.Run("tracecontext and baggage by default", func(t *testing.T) {
		p, err := NewPropagator(nil)
		require.NoError(t, err)
		require.ElementsMatch(t, []string{"traceparent", "tracestate", "baggage"}, p.Fields())
	})
	t.Run("b3 on request", func(t *testing.T) {
		t.Setenv("OTEL_PROPAGATORS", "b3, baggage")
		p, err := NewPropagator(nil)
		require.NoError(t, err)
		require.Contains(t, p.Fields(), "b3")
		ctx := p.Extract(context.Background(), propagation.MapCarrier{
			"b3":      "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1",
			"baggage": "password=hunter2,tenant=acme",
		})
		require.Equal(t, "80f198ee56343ba864fe8b2a57d3eff7", trace.SpanContextFromContext(ctx).TraceID().String())
		require.Equal(t, 1, baggage.FromContext(ctx).Len(), "the deny-list applies whatever the propagators")
	})
	t.Run("none", func(t *testing.T) {
		t.Setenv("OTEL_PROPAGATORS", "none")
		p, err := NewPropagator(nil)
		require.NoError(t, err)
		ctx := p.Extract(context.Background(), propagation.MapCarrier{"traceparent": traceparent})
		require.False(t, trace.SpanContextFromContext(ctx).IsValid())
	})
}
