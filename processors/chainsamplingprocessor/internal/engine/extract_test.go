package engine

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/chainotel/chainotel/processors/chainsamplingprocessor/internal/gen"
)

func TestExtractKeepsOnlyTheChosenTracesWhole(t *testing.T) {
	td := gen.New(gen.Default(10)).Batch(30)
	data, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	require.NoError(t, err)
	all := traceIDs(td)
	var chosen []pcommon.TraceID
	for id := range all {
		if len(chosen) < 3 {
			chosen = append(chosen, id)
		}
	}

	out, err := extract(nil, data, chosen, true)
	require.NoError(t, err)
	got, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(out)
	require.NoError(t, err)
	want := map[pcommon.TraceID]int{}
	for _, id := range chosen {
		want[id] = all[id]
	}
	require.Equal(t, want, traceIDs(got))

	// Resources and scopes come along with the spans.
	rs := got.ResourceSpans().At(0)
	require.Equal(t, td.ResourceSpans().At(0).Resource().Attributes().AsRaw(), rs.Resource().Attributes().AsRaw())
	require.Equal(t, td.ResourceSpans().At(0).ScopeSpans().At(0).Scope().Name(), rs.ScopeSpans().At(0).Scope().Name())

	none, err := extract(nil, data, nil, true)
	require.NoError(t, err)
	require.Empty(t, none)

	_, err = extract(nil, data[:len(data)-3], chosen, true)
	require.ErrorIs(t, err, errMalformed)
}

// The fast path must agree with the field-by-field walk on what pdata
// encodes; if an upgrade of pdata changed its field order, the fast path
// would stop applying (and this test would say so) but stay correct.
func TestTraceIDFastPathAgreesWithWalk(t *testing.T) {
	td := gen.New(gen.Default(12)).Batch(20)
	data, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	require.NoError(t, err)
	spans := 0
	for rest := data; len(rest) > 0; {
		_, _, raw, rs, err := next(rest)
		require.NoError(t, err)
		rest = rest[len(raw):]
		_, err = filterNested(rs, fieldScopeSpans, func(ss []byte) ([]byte, error) {
			return filterNested(ss, fieldSpans, func(span []byte) ([]byte, error) {
				fast, ok := lastTraceID(span)
				require.True(t, ok, "pdata writes the trace id last")
				walked, err := walkTraceID(span)
				require.NoError(t, err)
				require.Equal(t, walked, fast)
				spans++
				return nil, nil
			})
		})
		require.NoError(t, err)
	}
	require.Equal(t, td.SpanCount(), spans)
}
