package chainsamplingprocessor

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/chainotel/chainotel/processors/chainsamplingprocessor/internal/engine"
)

// TestWhenFullRefuse: at max_traces, a new batch is refused with a
// retryable error and counted; nothing buffered is decided early, and once
// the buffer has room again the retried batch is taken.
func TestWhenFullRefuse(t *testing.T) {
	h, _ := newHarness(t, "rules: [{name: all, keep: 1}]", func(c *Config) {
		c.MaxTraces = 3
		c.WhenFull = whenFullRefuse
	})
	h.send(spans(t, spanSpec{id: 1}, spanSpec{id: 2}, spanSpec{id: 3}))

	retry := spans(t, spanSpec{id: 4}, spanSpec{id: 4}, spanSpec{id: 5})
	err := h.proc.ConsumeTraces(t.Context(), retry)
	require.ErrorIs(t, err, engine.ErrFull)
	require.ErrorContains(t, err, "max_traces")
	require.False(t, consumererror.IsPermanent(err), "the refusal must be retryable")
	require.Equal(t, int64(3), h.counterWhere("otelcol_processor_chainsampling_spans_refused", "reason", "max_traces"))
	require.Zero(t, h.counter("otelcol_processor_chainsampling_traces_decided_early"))
	require.Zero(t, h.sink.SpanCount(), "nothing was decided to make room")

	// Shutdown decides the three buffered traces; a fresh processor stands
	// in for the same collector after them, and takes the retried batch.
	h.shutdown()
	require.Equal(t, 3, h.sink.SpanCount())
	h2, _ := newHarness(t, "rules: [{name: all, keep: 1}]", func(c *Config) {
		c.MaxTraces = 3
		c.WhenFull = whenFullRefuse
	})
	require.NoError(t, h2.proc.ConsumeTraces(t.Context(), retry))
	h2.shutdown()
	require.Equal(t, 3, h2.sink.SpanCount())
	require.Zero(t, h2.counter("otelcol_processor_chainsampling_spans_refused"))
}

// TestWhenFullRefuseMaxBytes: a batch that would pass max_bytes is refused
// the same way, counted under its own reason; an empty buffer takes any
// batch, deciding it early if it alone passes the bound.
func TestWhenFullRefuseMaxBytes(t *testing.T) {
	first := spans(t, spanSpec{id: 1})
	size, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(first)
	require.NoError(t, err)
	h, _ := newHarness(t, "rules: [{name: all, keep: 1}]", func(c *Config) {
		c.MaxBytes = int64(len(size)) // the first batch fills it exactly
		c.WhenFull = whenFullRefuse
		c.Compression = compressionNone
	})
	h.send(first)
	require.Zero(t, h.sink.SpanCount(), "the first batch is buffered")

	err = h.proc.ConsumeTraces(t.Context(), spans(t, spanSpec{id: 2}, spanSpec{id: 3}))
	require.ErrorIs(t, err, engine.ErrFull)
	require.ErrorContains(t, err, "max_bytes")
	require.Equal(t, int64(2), h.counterWhere("otelcol_processor_chainsampling_spans_refused", "reason", "max_bytes"))
	require.Zero(t, h.counter("otelcol_processor_chainsampling_traces_decided_early"))

	h.shutdown()
	require.Equal(t, 1, h.sink.SpanCount())

	big, _ := newHarness(t, "rules: [{name: all, keep: 1}]", func(c *Config) {
		c.MaxBytes = 1
		c.WhenFull = whenFullRefuse
	})
	big.send(spans(t, spanSpec{id: 4}))
	require.Equal(t, 1, big.sink.SpanCount(), "a batch larger than max_bytes alone is decided early, not refused")
	require.Equal(t, int64(1), big.counterWhere("otelcol_processor_chainsampling_traces_decided_early", "reason", "max_bytes"))
}

// TestWhenFullDecideEarly: the default makes room by deciding the oldest
// traces early, each counted under its reason, and refuses nothing.
func TestWhenFullDecideEarly(t *testing.T) {
	h, _ := newHarness(t, "rules: [{name: all, keep: 1}]", func(c *Config) { c.MaxTraces = 3 })
	require.Equal(t, whenFullDecideEarly, createDefaultConfig().(*Config).WhenFull)
	h.send(spans(t, spanSpec{id: 1}, spanSpec{id: 2}, spanSpec{id: 3}))
	err := h.proc.ConsumeTraces(t.Context(), spans(t, spanSpec{id: 4}, spanSpec{id: 5}))
	require.NoError(t, err)
	require.False(t, errors.Is(err, engine.ErrFull))
	require.Equal(t, int64(2), h.counterWhere("otelcol_processor_chainsampling_traces_decided_early", "reason", "max_traces"))
	require.Equal(t, 2, h.sink.SpanCount(), "the two oldest traces were decided and kept")
	require.Zero(t, h.counter("otelcol_processor_chainsampling_spans_refused"))
}
