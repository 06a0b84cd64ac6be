package promtext

import (
	"testing"

	"github.com/stretchr/testify/require"
)

const scrape = `# TYPE otelcol_receiver_accepted_spans counter
otelcol_receiver_accepted_spans{receiver="otlp",transport="grpc"} 10
otelcol_receiver_accepted_spans{receiver="otlp",transport="http"} 5
otelcol_receiver_accepted_spans{receiver="chainotlp",transport="grpc"} 2
# TYPE queue gauge
queue 3
# TYPE latency histogram
latency_bucket{le="1"} 4
latency_bucket{le="+Inf"} 7
latency_sum 9
latency_count 7
`

func TestSum(t *testing.T) {
	f, err := Parse(scrape)
	require.NoError(t, err)
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"otelcol_receiver_accepted_spans", nil, 17},
		{"otelcol_receiver_accepted_spans", map[string]string{"receiver": "otlp"}, 15},
		{"otelcol_receiver_accepted_spans", map[string]string{"receiver": "otlp", "transport": "http"}, 5},
		{"otelcol_receiver_accepted_spans", map[string]string{"receiver": "nope"}, 0},
		{"queue", nil, 3},
		{"latency", nil, 7},
	} {
		got, found := f.Sum(c.name, c.labels)
		require.True(t, found, c.name)
		require.Equal(t, c.want, got, "%s %v", c.name, c.labels)
	}
	_, found := f.Sum("absent", nil)
	require.False(t, found)
}

func TestParseSaysWhatIsWrong(t *testing.T) {
	_, err := Parse("metric{unclosed 1\n")
	require.ErrorContains(t, err, "parse the metrics")
}
