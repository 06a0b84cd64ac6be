package countcol

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseAcceptedSpansSumsTheReceivers(t *testing.T) {
	text := `# HELP otelcol_receiver_accepted_spans Number of spans successfully pushed into the pipeline.
# TYPE otelcol_receiver_accepted_spans counter
otelcol_receiver_accepted_spans{receiver="otlp",transport="grpc"} 1200
otelcol_receiver_accepted_spans{receiver="otlp",transport="http"} 34
# TYPE otelcol_receiver_refused_spans counter
otelcol_receiver_refused_spans{receiver="otlp",transport="grpc"} 7
`
	n, err := parseAcceptedSpans(text)
	require.NoError(t, err)
	assert.Equal(t, uint64(1234), n)

	n, err = parseAcceptedSpans("# TYPE otelcol_process_uptime counter\notelcol_process_uptime 3\n")
	require.NoError(t, err)
	assert.Zero(t, n, "no span accepted yet: the metric is not exposed")

	_, err = parseAcceptedSpans("otelcol_receiver_accepted_spans{receiver=\"otlp\" 3\n")
	require.ErrorContains(t, err, "the collector's metrics")
}
