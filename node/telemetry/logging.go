package telemetry

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sync/atomic"

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
	h := slog.DiscardHandler
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

// ComponentKey is the logger attribute that names a part of the node
// (Logger.With(ComponentKey, "raft")); Levels can give each its own level.
const ComponentKey = "component"

// Levels is the node's log level: a default (a slog.LevelVar, so setting
// it directly works too) and per component levels that override it for the
// loggers made With(ComponentKey, name). A change applies at once to every
// logger made from Telemetry.Logger, including those made before. As a
// slog.Leveler it is the lowest level in force, which the handlers under
// the component check filter by. Safe for concurrent use.
type Levels struct {
	def   *slog.LevelVar
	table atomic.Pointer[levelTable]
}

var _ slog.Leveler = (*Levels)(nil)

type levelTable struct {
	comp map[string]slog.Level
	low  slog.Level // the lowest of comp
}

func newLevels(def *slog.LevelVar) *Levels {
	l := &Levels{def: def}
	l.table.Store(&levelTable{low: slog.Level(math.MaxInt)})
	return l
}

// Set makes def the default level and comp the per component levels
// (components absent from comp follow def). comp is copied.
func (l *Levels) Set(def slog.Level, comp map[string]slog.Level) {
	t := &levelTable{comp: make(map[string]slog.Level, len(comp)), low: slog.Level(math.MaxInt)}
	for k, v := range comp {
		t.comp[k] = v
		t.low = min(t.low, v)
	}
	l.table.Store(t)
	l.def.Set(def)
}

// Get returns the default level and a copy of the per component levels.
func (l *Levels) Get() (slog.Level, map[string]slog.Level) {
	t := l.table.Load()
	comp := make(map[string]slog.Level, len(t.comp))
	for k, v := range t.comp {
		comp[k] = v
	}
	return l.def.Level(), comp
}

// For is the level in force for component ("" is the default).
func (l *Levels) For(component string) slog.Level {
	if v, ok := l.table.Load().comp[component]; ok {
		return v
	}
	return l.def.Level()
}

// Level is the lowest level in force, default or component.
func (l *Levels) Level() slog.Level {
	return min(l.def.Level(), l.table.Load().low)
}

// componentHandler filters records by the level of the component its logger
// was made With; the handlers under it filter by the lowest level in force.
type componentHandler struct {
	next      slog.Handler
	levels    *Levels
	component string
	grouped   bool // a group is open: a later "component" attribute is not ours
}

func (h *componentHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.levels.For(h.component) && h.next.Enabled(ctx, l)
}

func (h *componentHandler) Handle(ctx context.Context, r slog.Record) error {
	return h.next.Handle(ctx, r)
}

func (h *componentHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.next = h.next.WithAttrs(attrs)
	if !h.grouped {
		for _, a := range attrs {
			if a.Key == ComponentKey {
				c.component = a.Value.String()
			}
		}
	}
	return &c
}

func (h *componentHandler) WithGroup(name string) slog.Handler {
	c := *h
	c.next = h.next.WithGroup(name)
	c.grouped = c.grouped || name != ""
	return &c
}
