package telemetry

import (
	"bufio"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	otellog "go.opentelemetry.io/otel/log"

	"github.com/chainotel/chainotel/semconv"
)

// jsonLines parses every line of a JSON log.
func jsonLines(t *testing.T, text string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &m), "not JSON: %s", sc.Text())
		out = append(out, m)
	}
	return out
}

func lineWithMsg(t *testing.T, lines []map[string]any, msg string) map[string]any {
	t.Helper()
	for _, l := range lines {
		if l["msg"] == msg {
			return l
		}
	}
	t.Fatalf("no log line %q in %v", msg, lines)
	return nil
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}

func TestLogRecordsCarryTraceIDs(t *testing.T) {
	h := newHarness(t, nil)
	ctx, span := h.tel.TracerProvider.Tracer("test").Start(context.Background(), semconv.SpanValidateTransaction)
	h.tel.Logger.InfoContext(ctx, "validated", semconv.TxHashKey, "0x01")
	// Inside a group the ids still sit at the top level of the line.
	h.tel.Logger.WithGroup("tx").With("from", "0xabc").InfoContext(ctx, "grouped")
	span.End()
	h.tel.Logger.Info("outside any span")
	h.flush(t)

	traceID := span.SpanContext().TraceID().String()
	spanID := span.SpanContext().SpanID().String()

	// The JSON lines, in the file and on stderr alike.
	for where, text := range map[string]string{"file": readFile(t, h.logFile), "stderr": h.stderr.String()} {
		lines := jsonLines(t, text)
		require.Len(t, lines, 3, where)
		in := lineWithMsg(t, lines, "validated")
		require.Equal(t, traceID, in[logTraceIDKey], where)
		require.Equal(t, spanID, in[logSpanIDKey], where)
		require.Equal(t, "0x01", in[semconv.TxHashKey], where)

		grouped := lineWithMsg(t, lines, "grouped")
		require.Equal(t, traceID, grouped[logTraceIDKey], where)
		require.Equal(t, map[string]any{"from": "0xabc"}, grouped["tx"], where)

		out := lineWithMsg(t, lines, "outside any span")
		require.NotContains(t, out, logTraceIDKey, where)
	}

	// The OTLP log records, through the otelslog bridge.
	recs := h.logs.Records()
	require.Len(t, recs, 3)
	byBody := map[string]int{}
	for i, r := range recs {
		byBody[r.Body().AsString()] = i
	}
	in := recs[byBody["validated"]]
	require.Equal(t, span.SpanContext().TraceID(), in.TraceID())
	require.Equal(t, span.SpanContext().SpanID(), in.SpanID())
	require.Equal(t, otellog.SeverityInfo, in.Severity())
	require.Equal(t, "node0", resourceValue(t, *in.Resource().Set(), semconv.ServiceInstanceIDKey))
	require.False(t, recs[byBody["outside any span"]].TraceID().IsValid())
}

func TestLogLevel(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.LogLevel = "warn" })
	h.tel.Logger.Info("too quiet")
	h.tel.Logger.Warn("loud enough")
	h.flush(t)
	lines := jsonLines(t, h.stderr.String())
	require.Len(t, lines, 1)
	require.Equal(t, "loud enough", lines[0]["msg"])
	require.Len(t, h.logs.Records(), 1, "the OTLP side follows the same level")

	// The level can change while the node runs.
	h.tel.logLevel.Set(slog.LevelDebug)
	h.tel.Logger.Debug("now visible")
	h.flush(t)
	require.Len(t, jsonLines(t, h.stderr.String()), 2)
	require.Len(t, h.logs.Records(), 2)
}

func TestLogFileIsAppended(t *testing.T) {
	h := newHarness(t, nil)
	h.tel.Logger.Info("first run")
	require.NoError(t, h.tel.Shutdown(context.Background()))

	h2 := newHarness(t, func(c *Config) { c.LogFile = h.logFile })
	h2.tel.Logger.Info("second run")
	require.NoError(t, h2.tel.Shutdown(context.Background()))

	lines := jsonLines(t, readFile(t, h.logFile))
	require.Len(t, lines, 2)
	require.Equal(t, "first run", lines[0]["msg"])
	require.Equal(t, "second run", lines[1]["msg"])
}
