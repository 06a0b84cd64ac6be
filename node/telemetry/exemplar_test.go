package telemetry

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/chainotel/chainotel/semconv"
)

func TestExemplarsCarryTraceIDs(t *testing.T) {
	h := newHarness(t, nil)
	reg := prometheus.NewRegistry()
	hist := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "chainotel_block_apply_seconds", Help: "Block apply time.", Buckets: []float64{0.01, 0.1, 1},
	}, []string{"node"})
	reg.MustRegister(hist)

	ctx, span := h.tel.TracerProvider.Tracer("test").Start(context.Background(), semconv.SpanBlockApply)
	observeWithExemplar(ctx, hist.WithLabelValues("node0"), 0.05)
	span.End()
	// Outside a span: observed, without an exemplar.
	observeWithExemplar(context.Background(), hist.WithLabelValues("node0"), 0.5)

	mfs, err := reg.Gather()
	require.NoError(t, err)
	want := map[string]string{
		exemplarTraceIDLabel: span.SpanContext().TraceID().String(),
		exemplarSpanIDLabel:  span.SpanContext().SpanID().String(),
	}
	seen := 0
	for _, mf := range mfs {
		m := mf.GetMetric()[0]
		switch mf.GetName() {
		case "chainotel_block_apply_seconds":
			require.Equal(t, uint64(2), m.GetHistogram().GetSampleCount())
			var exemplars int
			for _, b := range m.GetHistogram().GetBucket() {
				if ex := b.GetExemplar(); ex != nil {
					exemplars++
					require.Equal(t, 0.05, ex.GetValue())
					require.Equal(t, want, labelMap(ex.GetLabel()))
				}
			}
			require.Equal(t, 1, exemplars)
			seen++
		}
	}
	require.Equal(t, 1, seen)
}

func labelMap[L interface {
	GetName() string
	GetValue() string
}](labels []L) map[string]string {
	m := map[string]string{}
	for _, l := range labels {
		m[l.GetName()] = l.GetValue()
	}
	return m
}
