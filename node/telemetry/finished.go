package telemetry

import (
	"context"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/chainotel/chainotel/node/telemetry/internal/otlpexport"
)

// A span the node times itself (it takes the start and end times around work
// it does anyway) can skip the SDK's recording span and its snapshot: the
// node's tracers write it as one otlpexport.FinishedSpan straight into the
// span batcher, with the IDs and the sampling decision the SDK would have
// given it. StartSpanAt is that path; with any other tracer (a test's SDK
// provider, the no-op one of OTEL_SDK_DISABLED) it makes the span through
// the tracer as usual, so a caller need not know which it has.

// LateSpan is a span opened with StartSpanAt. The zero value records nothing.
type LateSpan struct {
	fs   *otlpexport.FinishedSpan // the node's own path; nil otherwise
	proc sdktrace.SpanProcessor
	span trace.Span // the tracer's span, when fs is nil
}

// StartSpanAt starts an internal span named name under ctx's span at start,
// and returns ctx with the new span in it (for children) and the span. With
// the node's tracer the span costs one allocation and is written whole at
// End; with another tracer it is tracer.Start with that timestamp.
func StartSpanAt(ctx context.Context, tracer trace.Tracer, name string, start time.Time) (context.Context, LateSpan) {
	if t, ok := tracer.(*nodeTracer); ok {
		return t.startAt(ctx, name, start)
	}
	ctx, span := tracer.Start(ctx, name, trace.WithTimestamp(start))
	return ctx, LateSpan{span: span}
}

// IsRecording reports whether the span will be written: false when the
// sampler dropped it or telemetry is disabled, so its attributes need not be
// computed.
func (s LateSpan) IsRecording() bool {
	if s.fs != nil {
		return true
	}
	return s.span != nil && s.span.IsRecording()
}

// SpanContext is the span's context: its IDs, and whether it is sampled.
func (s LateSpan) SpanContext() trace.SpanContext {
	if s.fs != nil {
		return s.fs.SpanContext()
	}
	if s.span != nil {
		return s.span.SpanContext()
	}
	return trace.SpanContext{}
}

// End ends the span at end with its status (the description is kept for
// codes.Error only, as the SDK keeps it) and its attributes. The attributes
// are scalars or slices; at most a few avoid another allocation.
func (s LateSpan) End(end time.Time, code codes.Code, description string, attrs ...attribute.KeyValue) {
	if s.fs != nil {
		s.fs.Finish(end, code, description, attrs...)
		s.proc.OnEnd(s.fs)
		return
	}
	if s.span == nil {
		return
	}
	if code != codes.Unset {
		s.span.SetStatus(code, description)
	}
	if len(attrs) > 0 {
		// A copy, so that attrs does not escape through the interface
		// call and the node's path keeps the caller's slice on its stack.
		s.span.SetAttributes(slices.Clone(attrs)...)
	}
	s.span.End(trace.WithTimestamp(end))
}

// spanWriter is what the node's tracers need to write spans themselves: the
// provider's sampler, resource and span processor (liveSpans in front of the
// span batcher).
type spanWriter struct {
	sampler sdktrace.Sampler
	res     *resource.Resource
	proc    *liveSpans
}

// resource is the resource in force: the provider's, unless an environment
// change replaced it. A span begun under it passes liveSpans as it is.
func (w *spanWriter) resource() *resource.Resource {
	if res := w.proc.res.Load(); res != nil {
		return res
	}
	return w.res
}

// envSpanLimits are the SDK's variables that change span attributes. When
// one is set the node's tracers leave every span to the SDK, which applies
// them.
var envSpanLimits = []string{
	"OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",
	"OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "OTEL_ATTRIBUTE_COUNT_LIMIT",
}

// newSpanWriter returns nil, leaving every span to the SDK, when a variable
// changes what the SDK does with a span: the attribute limits, or the SDK's
// own experimental metrics (OTEL_GO_X_OBSERVABILITY), which count the spans
// it makes.
func newSpanWriter(sampler sdktrace.Sampler, res *resource.Resource, proc *liveSpans) *spanWriter {
	for _, k := range envSpanLimits {
		if _, set := os.LookupEnv(k); set {
			return nil
		}
	}
	if strings.EqualFold(strings.TrimSpace(os.Getenv("OTEL_GO_X_OBSERVABILITY")), "true") {
		return nil
	}
	return &spanWriter{sampler: sampler, res: res, proc: proc}
}

// nodeProvider is the node's TracerProvider: the SDK's, whose tracers can
// also write the spans StartSpanAt starts.
type nodeProvider struct {
	*sdktrace.TracerProvider
	w *spanWriter
}

// defaultTracerName is the SDK's scope name for a tracer asked for with "".
const defaultTracerName = "go.opentelemetry.io/otel/sdk/tracer"

func (p nodeProvider) Tracer(name string, opts ...trace.TracerOption) trace.Tracer {
	t := p.TracerProvider.Tracer(name, opts...)
	c := trace.NewTracerConfig(opts...)
	if scopeAttrs := c.InstrumentationAttributes(); p.w == nil || scopeAttrs.Len() > 0 {
		return t // scope attributes: the SDK normalises them
	}
	if _, shutDown := t.(tracenoop.Tracer); shutDown {
		return t // what the SDK's provider gives once it is shut down
	}
	if name == "" {
		name = defaultTracerName
	}
	return &nodeTracer{Tracer: t, w: p.w, scope: instrumentation.Scope{Name: name, Version: c.InstrumentationVersion(), SchemaURL: c.SchemaURL()}}
}

// nodeTracer is the SDK's tracer, which StartSpanAt can bypass.
type nodeTracer struct {
	trace.Tracer
	w     *spanWriter
	scope instrumentation.Scope
}

// startAt makes the span as the SDK's tracer.Start would (the same IDs, the
// same call to the sampler, the same trace flags and state), without its
// recording span.
func (t *nodeTracer) startAt(ctx context.Context, name string, start time.Time) (context.Context, LateSpan) {
	psc := trace.SpanContextFromContext(ctx)
	tid := psc.TraceID()
	if !tid.IsValid() {
		tid = newTraceID()
	}
	sid := newSpanID()
	res := t.w.sampler.ShouldSample(sdktrace.SamplingParameters{
		ParentContext: ctx,
		TraceID:       tid,
		Name:          name,
		Kind:          trace.SpanKindUnspecified, // what tracer.Start passes without WithSpanKind
	})
	flags := psc.TraceFlags() &^ trace.FlagsSampled
	if res.Decision == sdktrace.RecordAndSample {
		flags |= trace.FlagsSampled
	}
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: flags, TraceState: res.Tracestate})
	if res.Decision != sdktrace.RecordAndSample {
		// Not exported: the span batcher takes sampled spans only, and a
		// record-only span has no other reader here.
		return trace.ContextWithSpanContext(ctx, sc), LateSpan{}
	}
	fs := new(otlpexport.FinishedSpan)
	fs.Begin(name, sc, psc, start, &t.scope, t.w.resource())
	// In the context the span is a non-recording one with its span
	// context, as ContextWithSpanContext would make, without allocating it.
	return trace.ContextWithSpan(ctx, fs), LateSpan{fs: fs, proc: t.w.proc}
}

// newTraceID and newSpanID draw random, valid IDs, as the SDK's default
// generator does.
func newTraceID() trace.TraceID {
	for {
		var id trace.TraceID
		putUint64(id[:8], rand.Uint64())
		putUint64(id[8:], rand.Uint64())
		if id.IsValid() {
			return id
		}
	}
}

func newSpanID() trace.SpanID {
	for {
		var id trace.SpanID
		putUint64(id[:], rand.Uint64())
		if id.IsValid() {
			return id
		}
	}
}

func putUint64(b []byte, v uint64) {
	for i := range 8 {
		b[i] = byte(v >> (8 * i))
	}
}
