// Package event turns error spans and error logs into Sentry events.
package event

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"strings"

	"github.com/getsentry/sentry-go"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/chainotel/chainotel/collector/sentryexporter/internal/stack"
	"github.com/chainotel/chainotel/semconv"
)

// SuppressedKey is the attribute on which the exporter's rate limiter
// carries, through the sending queue, how many events of the same
// fingerprint it suppressed before this one. It becomes
// contexts.rate_limit.suppressed_events and is not sent as an attribute.
const SuppressedKey = "sentry.suppressed_events"

// Context names and keys of the events.
const (
	ContextTrace      = "trace"
	ContextOTel       = "otel"
	ContextRateLimit  = "rate_limit"
	SuppressedEvents  = "suppressed_events"
	unclassified      = "unclassified"
	mechanismType     = "chainotel"
	maxTagValueLength = 200 // Sentry's limit
	telemetrySDKLang  = "telemetry.sdk.language"
)

// Converter builds events. It is immutable and safe for concurrent use.
type Converter struct {
	tags []string
	sdk  sentry.SdkInfo
}

// NewConverter returns a converter that copies the attributes named by tags
// into event tags; a name ending in '*' is a prefix ("chain.*").
func NewConverter(tags []string, sdkName, sdkVersion string) *Converter {
	return &Converter{tags: tags, sdk: sentry.SdkInfo{Name: sdkName, Version: sdkVersion}}
}

// IsErrorSpan: status ERROR or an exception event.
func IsErrorSpan(s ptrace.Span) bool {
	if s.Status().Code() == ptrace.StatusCodeError {
		return true
	}
	_, ok := lastException(s)
	return ok
}

// IsErrorLog: severity ERROR or above (FATAL included).
func IsErrorLog(lr plog.LogRecord) bool {
	return lr.SeverityNumber() >= plog.SeverityNumberError
}

func lastException(s ptrace.Span) (ptrace.SpanEvent, bool) {
	evs := s.Events()
	for i := evs.Len() - 1; i >= 0; i-- {
		if evs.At(i).Name() == semconv.ExceptionEventName {
			return evs.At(i), true
		}
	}
	return ptrace.SpanEvent{}, false
}

// SpanFingerprint groups repeats of an error: its error.type and span name.
func SpanFingerprint(s ptrace.Span) []string {
	return []string{errorType(s.Attributes()), s.Name()}
}

// LogFingerprint groups repeats of an error log: its error.type and the
// name of the logger (instrumentation scope) that wrote it.
func LogFingerprint(scope pcommon.InstrumentationScope, lr plog.LogRecord) []string {
	return []string{errorType(lr.Attributes()), "log:" + scope.Name()}
}

func errorType(attrs pcommon.Map) string {
	if v, ok := attrs.Get(semconv.ErrorTypeKey); ok && v.AsString() != "" {
		return v.AsString()
	}
	return unclassified
}

// FromSpan builds the event of an error span.
func (c *Converter) FromSpan(res pcommon.Resource, scope pcommon.InstrumentationScope, s ptrace.Span) *sentry.Event {
	attrs := s.Attributes()
	ev := c.base(res, scope, attrs)
	ts := s.EndTimestamp()
	if ts == 0 {
		ts = s.StartTimestamp()
	}
	ev.EventID = eventID("span", s.TraceID(), s.SpanID(), ts)
	ev.Timestamp = ts.AsTime().UTC()
	ev.Transaction = s.Name()
	ev.Message = s.Status().Message()
	ev.Fingerprint = SpanFingerprint(s)
	ev.Level = level(errorType(attrs), false)

	exc := sentry.Exception{Type: errorType(attrs), Value: s.Status().Message()}
	otelCtx := ev.Contexts[ContextOTel]
	if e, ok := lastException(s); ok {
		ea := e.Attributes()
		fillException(&exc, ea)
		otelCtx["exception_attributes"] = ea.AsRaw()
	}
	if exc.Type == unclassified {
		exc.Type = s.Name()
	}
	exc.Mechanism = mechanism(errorType(attrs))
	ev.Exception = []sentry.Exception{exc}

	trace := sentry.Context{
		"trace_id": s.TraceID().String(),
		"span_id":  s.SpanID().String(),
		"op":       s.Name(),
		"status":   "internal_error",
	}
	if !s.ParentSpanID().IsEmpty() {
		trace["parent_span_id"] = s.ParentSpanID().String()
	}
	ev.Contexts[ContextTrace] = trace
	otelCtx["kind"] = s.Kind().String()
	return ev
}

// FromLog builds the event of an error log record.
func (c *Converter) FromLog(res pcommon.Resource, scope pcommon.InstrumentationScope, lr plog.LogRecord) *sentry.Event {
	attrs := lr.Attributes()
	ev := c.base(res, scope, attrs)
	ts := lr.Timestamp()
	if ts == 0 {
		ts = lr.ObservedTimestamp()
	}
	ev.EventID = eventID("log:"+lr.Body().AsString(), lr.TraceID(), lr.SpanID(), ts)
	ev.Timestamp = ts.AsTime().UTC()
	ev.Message = lr.Body().AsString()
	ev.Fingerprint = LogFingerprint(scope, lr)
	ev.Level = level(errorType(attrs), lr.SeverityNumber() >= plog.SeverityNumberFatal)
	if _, ok := attrs.Get(semconv.ExceptionTypeKey); ok {
		exc := sentry.Exception{Value: ev.Message}
		fillException(&exc, attrs)
		exc.Mechanism = mechanism(errorType(attrs))
		ev.Exception = []sentry.Exception{exc}
	}
	if !lr.TraceID().IsEmpty() {
		trace := sentry.Context{"trace_id": lr.TraceID().String()}
		if !lr.SpanID().IsEmpty() {
			trace["span_id"] = lr.SpanID().String()
		}
		ev.Contexts[ContextTrace] = trace
	}
	ev.Contexts[ContextOTel]["severity"] = lr.SeverityText()
	return ev
}

// base fills what spans and logs share: release, environment, node, tags,
// the OpenTelemetry attributes and the suppressed count.
func (c *Converter) base(res pcommon.Resource, scope pcommon.InstrumentationScope, attrs pcommon.Map) *sentry.Event {
	ra := res.Attributes()
	ev := &sentry.Event{
		Platform: "other",
		Sdk:      c.sdk,
		Logger:   scope.Name(),
		Tags:     map[string]string{},
		Contexts: map[string]sentry.Context{},
	}
	if v, ok := ra.Get(telemetrySDKLang); ok && v.AsString() == "go" {
		ev.Platform = "go"
	}
	if v, ok := ra.Get(semconv.ServiceVersionKey); ok {
		ev.Release = v.AsString()
	}
	if v, ok := ra.Get(semconv.DeploymentEnvironmentKey); ok {
		ev.Environment = v.AsString()
	}
	if v, ok := ra.Get(semconv.ServiceInstanceIDKey); ok {
		ev.ServerName = v.AsString()
	}
	// Resource first, so the span's or log's own value wins.
	c.addTags(ev.Tags, ra)
	c.addTags(ev.Tags, attrs)

	raw := attrs.AsRaw()
	if n, ok := raw[SuppressedKey]; ok {
		delete(raw, SuppressedKey)
		delete(ev.Tags, SuppressedKey)
		ev.Contexts[ContextRateLimit] = sentry.Context{SuppressedEvents: n}
	}
	ev.Contexts[ContextOTel] = sentry.Context{"attributes": raw, "resource": ra.AsRaw()}
	return ev
}

func (c *Converter) addTags(tags map[string]string, attrs pcommon.Map) {
	attrs.Range(func(k string, v pcommon.Value) bool {
		if c.isTag(k) {
			s := v.AsString()
			if len(s) > maxTagValueLength {
				s = s[:maxTagValueLength]
			}
			tags[k] = s
		}
		return true
	})
}

func (c *Converter) isTag(k string) bool {
	for _, t := range c.tags {
		if p, ok := strings.CutSuffix(t, "*"); ok {
			if strings.HasPrefix(k, p) {
				return true
			}
		} else if k == t {
			return true
		}
	}
	return false
}

func fillException(exc *sentry.Exception, attrs pcommon.Map) {
	if v, ok := attrs.Get(semconv.ExceptionTypeKey); ok && v.AsString() != "" {
		exc.Type = v.AsString()
	}
	if v, ok := attrs.Get(semconv.ExceptionMessageKey); ok && v.AsString() != "" {
		exc.Value = v.AsString()
	}
	if v, ok := attrs.Get(semconv.ExceptionStacktraceKey); ok {
		if frames := stack.ParseGo(v.AsString()); len(frames) > 0 {
			exc.Stacktrace = &sentry.Stacktrace{Frames: frames}
		}
	}
}

// level: a recovered panic or a FATAL log is fatal, everything else an error.
func level(errType string, fatal bool) sentry.Level {
	if fatal || errType == semconv.ErrorGoroutinePanic {
		return sentry.LevelFatal
	}
	return sentry.LevelError
}

func mechanism(errType string) *sentry.Mechanism {
	handled := errType != semconv.ErrorGoroutinePanic
	return &sentry.Mechanism{Type: mechanismType, Handled: &handled}
}

// eventID derives the event id from what identifies the error, so a resend
// of the same span or log (a retry after a timeout whose request did reach
// Sentry) has the same id and Sentry drops the duplicate.
func eventID(kind string, tid pcommon.TraceID, sid pcommon.SpanID, ts pcommon.Timestamp) sentry.EventID {
	h := sha256.New()
	h.Write([]byte(kind))
	h.Write(tid[:])
	h.Write(sid[:])
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(ts))
	h.Write(b[:])
	sum := h.Sum(nil)
	return sentry.EventID(hex.EncodeToString(sum[:16]))
}
