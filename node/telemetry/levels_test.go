package telemetry

import (
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestComponentLevels(t *testing.T) {
	h := newHarness(t, nil) // info
	raft := h.tel.Logger.With(ComponentKey, "raft")
	api := h.tel.Logger.With(ComponentKey, "api")
	// A "component" inside a group is an ordinary attribute.
	grouped := h.tel.Logger.WithGroup("g").With(ComponentKey, "raft")

	h.tel.Levels.Set(slog.LevelInfo, map[string]slog.Level{"raft": slog.LevelDebug, "api": slog.LevelError})
	raft.Debug("raft debug")   // kept: raft is at debug
	api.Warn("api warn")       // dropped: api is at error
	api.Error("api error")     // kept
	grouped.Debug("grouped")   // dropped: the default is info
	h.tel.Logger.Debug("root") // dropped
	h.tel.Logger.Info("root info")
	h.flush(t)
	var msgs []string
	for _, l := range jsonLines(t, h.stderr.String()) {
		msgs = append(msgs, l["msg"].(string))
	}
	require.Equal(t, []string{"raft debug", "api error", "root info"}, msgs)
	require.Len(t, h.logs.Records(), 3, "the OTLP side follows the same levels")

	def, comp := h.tel.Levels.Get()
	require.Equal(t, slog.LevelInfo, def)
	require.Equal(t, map[string]slog.Level{"raft": slog.LevelDebug, "api": slog.LevelError}, comp)
	require.Equal(t, slog.LevelDebug, h.tel.Levels.Level(), "the lowest level in force")

	// Back to one level: the components follow the default again.
	h.tel.Levels.Set(slog.LevelWarn, nil)
	raft.Info("raft info")
	api.Warn("api warn 2")
	h.flush(t)
	lines := jsonLines(t, h.stderr.String())
	require.Equal(t, "api warn 2", lines[len(lines)-1]["msg"])
	require.Len(t, lines, 4)
	require.Equal(t, slog.LevelWarn, h.tel.logLevel.Level())
}
