// Package preview is the seam between the chainsampling processor and the
// components that show what a policy would keep (the chainpolicypreview
// extension): the figures a preview answers, the processor's side
// (Previewer) and the side it registers into (Registry).
//
// A processor registers with every extension of the collector that
// implements Registry, at Start, under its own component ID, and leaves at
// Shutdown. Registration goes through the host rather than a package-level
// table so that nothing here is global: two collectors in one process
// (tests) never see each other's processors, and the collector's order of
// starting (extensions before pipelines, stopped after them) guarantees the
// registry is up whenever a processor is.
package preview

import (
	"errors"
	"fmt"

	"go.opentelemetry.io/collector/component"
)

// Previewer is a chainsampling processor seen by a Registry. Its methods
// are safe for concurrent use and do not block on the pipeline.
type Previewer interface {
	// Live evaluates the recent traces against the policy in force.
	Live() Report
	// Preview evaluates the recent traces against the candidate policy in
	// data, named file in errors, and against the policy in force. A
	// candidate that does not compile is a *PolicyError.
	Preview(file string, data []byte) (Comparison, error)
}

// Registry holds the previewers of a collector's chainsampling processors,
// keyed by component ID. Register fails if id is already registered (the
// same processor ID in two pipelines: the first one is served); the
// returned function removes exactly this registration.
type Registry interface {
	Register(id component.ID, p Previewer) (unregister func(), err error)
}

// ErrDuplicate is returned by Register for an id already registered.
var ErrDuplicate = errors.New("a previewer is already registered under this id")

// Report is what a policy keeps of the recent traces: expected values (sums
// of keep probabilities), so the same traces always give the same figures.
type Report struct {
	// File names the policy evaluated.
	File string `json:"file"`
	// Traces and Spans are the recent traces evaluated and their spans.
	Traces int   `json:"traces"`
	Spans  int64 `json:"spans"`
	// WindowSeconds is the time from the oldest to the newest decision of
	// the recent traces; per-second figures are over it (0 when the recent
	// traces were all decided at once).
	WindowSeconds float64 `json:"window_seconds"`
	// KeptTraces and KeptSpans are the expected traces and spans kept.
	KeptTraces float64 `json:"kept_traces"`
	KeptSpans  float64 `json:"kept_spans"`
	// TracesPerSecond and SpansPerSecond are the kept figures per second.
	TracesPerSecond float64 `json:"traces_per_second"`
	SpansPerSecond  float64 `json:"spans_per_second"`
	// Rules are the policy's rules, in order.
	Rules []Rule `json:"rules"`
	// Triggers are the policy's triggers, in order.
	Triggers []Trigger `json:"triggers"`
	// Unrecorded names the facts the policy reads that the recent traces'
	// summaries do not hold (no rule in force read them): rules reading
	// them are evaluated as if no span carried them.
	Unrecorded []string `json:"unrecorded,omitempty"`
}

// Rule is what one rule keeps.
type Rule struct {
	Name string  `json:"name"`
	Keep float64 `json:"keep"`
	// Matched is how many recent traces the rule decided (first match).
	Matched int `json:"matched"`
	// KeptTraces, KeptSpans and the per-second figures are what it keeps,
	// capped by its rate_limit.
	KeptTraces      float64 `json:"kept_traces"`
	KeptSpans       float64 `json:"kept_spans"`
	TracesPerSecond float64 `json:"traces_per_second"`
	SpansPerSecond  float64 `json:"spans_per_second"`
	// RateLimited is true when rate_limit capped the figures.
	RateLimited bool `json:"rate_limited,omitempty"`
}

// Trigger is what one trigger's windows keep.
type Trigger struct {
	Name            string  `json:"name"`
	KeptTraces      float64 `json:"kept_traces"`
	KeptSpans       float64 `json:"kept_spans"`
	TracesPerSecond float64 `json:"traces_per_second"`
	SpansPerSecond  float64 `json:"spans_per_second"`
	// Replayed is true when the trigger is the one in force, so the
	// windows it opened are replayed. A new or changed trigger has no
	// history: it is reported with zero and Replayed false.
	Replayed bool `json:"replayed"`
}

// Comparison is a candidate policy's figures beside the live policy's,
// over the same recent traces.
type Comparison struct {
	Live      Report `json:"live"`
	Candidate Report `json:"candidate"`
}

// PolicyError is a candidate policy that does not compile, at one place in
// the file (Line and Column are 0 when unknown).
type PolicyError struct {
	File   string `json:"file"`
	Line   int    `json:"line"`
	Column int    `json:"column"`
	Msg    string `json:"message"`
}

// Error formats the problem as file:line:column: message.
func (e *PolicyError) Error() string {
	switch {
	case e.Line == 0:
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	case e.Column == 0:
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
}
