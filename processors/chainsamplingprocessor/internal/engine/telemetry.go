package engine

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/chainotel/chainotel/processors/chainsamplingprocessor/internal/metadata"
)

// Attribute keys and values of the engine's own metrics (see metadata.yaml).
const (
	attrRule    = "rule"
	attrOutcome = "outcome"
	attrReason  = "reason"
	attrTrigger = "trigger"

	outcomeKept    = "kept"
	outcomeDropped = "dropped"

	reasonMaxTraces = "max_traces"
	reasonMaxBytes  = "max_bytes"
	reasonShutdown  = "shutdown"
)

// telemetry is the generated instruments with their attribute sets built
// once, so that recording a decision allocates nothing.
type telemetry struct {
	*metadata.TelemetryBuilder
	// ctx is the context of recordings, which never block or cancel.
	ctx                   context.Context
	early                 map[string]metric.MeasurementOption
	lateKept, lateDropped metric.MeasurementOption
}

func newTelemetry(b *metadata.TelemetryBuilder) telemetry {
	early := map[string]metric.MeasurementOption{}
	for _, r := range []string{reasonMaxTraces, reasonMaxBytes, reasonShutdown} {
		early[r] = metric.WithAttributeSet(attribute.NewSet(attribute.String(attrReason, r)))
	}
	return telemetry{
		TelemetryBuilder: b,
		ctx:              context.Background(),
		early:            early,
		lateKept:         outcomeSet(outcomeKept),
		lateDropped:      outcomeSet(outcomeDropped),
	}
}

func outcomeSet(outcome string) metric.MeasurementOption {
	return metric.WithAttributeSet(attribute.NewSet(attribute.String(attrOutcome, outcome)))
}

// decidedAttrs is a rule's metric attributes for one outcome.
type decidedAttrs struct {
	rule string
	opt  metric.MeasurementOption
}

func newDecidedAttrs(rule string, kept bool) decidedAttrs {
	outcome := outcomeDropped
	if kept {
		outcome = outcomeKept
	}
	return decidedAttrs{rule: rule, opt: metric.WithAttributeSet(attribute.NewSet(
		attribute.String(attrRule, rule), attribute.String(attrOutcome, outcome)))}
}
