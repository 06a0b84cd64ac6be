package telemetry_test

import (
	"context"
	"errors"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/chainotel/chainotel/node/telemetry"
	"github.com/chainotel/chainotel/semconv"
)

var errTimeout = errors.New("no commit of height 12 within 2s")

func TestExemplarsCarryTraceIDs(t *testing.T) {
	h := newHarness(t, nil)
	reg := prometheus.NewRegistry()
	hist := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "chainotel_block_apply_seconds", Help: "Block apply time.", Buckets: []float64{0.01, 0.1, 1},
	}, []string{"node"})
	commits := prometheus.NewCounter(prometheus.CounterOpts{Name: "chainotel_commits_total", Help: "Commits."})
	reg.MustRegister(hist, commits)

	ctx, span := h.tel.TracerProvider.Tracer("test").Start(context.Background(), semconv.SpanBlockApply)
	telemetry.ObserveWithExemplar(ctx, hist.WithLabelValues("node0"), 0.05)
	telemetry.AddWithExemplar(ctx, commits, 1)
	span.End()
	// Outside a span: observed, without an exemplar.
	telemetry.ObserveWithExemplar(context.Background(), hist.WithLabelValues("node0"), 0.5)

	mfs, err := reg.Gather()
	require.NoError(t, err)
	want := map[string]string{
		telemetry.ExemplarTraceIDLabel: span.SpanContext().TraceID().String(),
		telemetry.ExemplarSpanIDLabel:  span.SpanContext().SpanID().String(),
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
		case "chainotel_commits_total":
			ex := m.GetCounter().GetExemplar()
			require.NotNil(t, ex)
			require.Equal(t, want, labelMap(ex.GetLabel()))
			seen++
		}
	}
	require.Equal(t, 2, seen)
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
