package telemetry

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"go.opentelemetry.io/contrib/bridges/otelslog"
	"go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/trace"
)

// Keys of the trace correlation fields in the JSON log lines. OTLP log
// records carry the same ids in their own trace and span id fields.
const (
	logTraceIDKey = "trace_id"
	logSpanIDKey  = "span_id"
)

// loggerScope is the instrumentation scope of the node's OTLP log records.
const loggerScope = "github.com/chainotel/chainotel/node"

// openLocalLog builds the JSON handler writing to the log file and stderr.
// The returned closer closes the file (nil when there is none).
func openLocalLog(c Config, level slog.Leveler) (slog.Handler, io.Closer, error) {
	var (
		ws   []io.Writer
		file *os.File
	)
	// stderr first: io.MultiWriter stops at the first failing writer, and the
	// file is the one that can fail (full disk, closed at Shutdown).
	if c.Stderr != nil {
		ws = append(ws, c.Stderr)
	}
	if c.LogFile != "" {
		if err := os.MkdirAll(filepath.Dir(c.LogFile), 0o755); err != nil {
			return nil, nil, fmt.Errorf("log file %s: %w", c.LogFile, err)
		}
		f, err := os.OpenFile(c.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, nil, fmt.Errorf("log file %s: %w", c.LogFile, err)
		}
		file = f
		ws = append(ws, f)
	}
	var h slog.Handler = slog.DiscardHandler
	if len(ws) > 0 {
		h = slog.NewJSONHandler(io.MultiWriter(ws...), &slog.HandlerOptions{Level: level})
	}
	var closer io.Closer
	if file != nil {
		closer = file
	}
	return newTraceIDHandler(h), closer, nil
}

// newLogger fans records out to the local JSON handler and, when lp is set,
// to OTLP through the otelslog bridge, both filtered by level.
func newLogger(local slog.Handler, lp log.LoggerProvider, level slog.Leveler) *slog.Logger {
	if lp == nil {
		return slog.New(local)
	}
	bridge := otelslog.NewHandler(loggerScope, otelslog.WithLoggerProvider(lp))
	return slog.New(slog.NewMultiHandler(local, &levelHandler{next: bridge, level: level}))
}

// levelHandler applies the node's log level to a handler that has none of its
// own (the otelslog bridge only asks the LoggerProvider).
type levelHandler struct {
	next  slog.Handler
	level slog.Leveler
}

func (h *levelHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.level.Level() && h.next.Enabled(ctx, l)
}

func (h *levelHandler) Handle(ctx context.Context, r slog.Record) error { return h.next.Handle(ctx, r) }

func (h *levelHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &levelHandler{next: h.next.WithAttrs(attrs), level: h.level}
}

func (h *levelHandler) WithGroup(name string) slog.Handler {
	return &levelHandler{next: h.next.WithGroup(name), level: h.level}
}

// traceIDHandler adds trace_id and span_id to every record logged inside a
// span, at the top level of the JSON line even when the logger has opened
// groups.
type traceIDHandler struct {
	// root has no groups opened; ops are the WithAttrs/WithGroup calls made
	// since, replayed onto root.WithAttrs(ids) when a group is open.
	root    slog.Handler
	ops     []func(slog.Handler) slog.Handler
	cur     slog.Handler
	grouped bool
}

func newTraceIDHandler(h slog.Handler) *traceIDHandler {
	return &traceIDHandler{root: h, cur: h}
}

func (h *traceIDHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.cur.Enabled(ctx, l)
}

func (h *traceIDHandler) Handle(ctx context.Context, r slog.Record) error {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return h.cur.Handle(ctx, r)
	}
	ids := []slog.Attr{
		slog.String(logTraceIDKey, sc.TraceID().String()),
		slog.String(logSpanIDKey, sc.SpanID().String()),
	}
	if !h.grouped {
		// The record may be shared with the other handlers of a
		// MultiHandler: add to a clone.
		r = r.Clone()
		r.AddAttrs(ids...)
		return h.cur.Handle(ctx, r)
	}
	// Rare: a group is open, and the record's own attributes belong in it.
	g := h.root.WithAttrs(ids)
	for _, op := range h.ops {
		g = op(g)
	}
	return g.Handle(ctx, r)
}

func (h *traceIDHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	return h.with(func(n slog.Handler) slog.Handler { return n.WithAttrs(attrs) }, false)
}

func (h *traceIDHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return h.with(func(n slog.Handler) slog.Handler { return n.WithGroup(name) }, true)
}

func (h *traceIDHandler) with(op func(slog.Handler) slog.Handler, group bool) *traceIDHandler {
	ops := make([]func(slog.Handler) slog.Handler, len(h.ops), len(h.ops)+1)
	copy(ops, h.ops)
	return &traceIDHandler{
		root:    h.root,
		ops:     append(ops, op),
		cur:     op(h.cur),
		grouped: h.grouped || group,
	}
}
