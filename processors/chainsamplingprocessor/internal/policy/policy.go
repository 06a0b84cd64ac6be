// Package policy compiles a sampling policy file into ordered rules whose
// matchers read per-trace summaries.
package policy

import (
	"fmt"
	"os"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/sampling"

	"github.com/chainotel/chainotel/processors/chainsamplingprocessor/internal/match"
)

// Rule is one compiled rule of a policy.
type Rule struct {
	// Name is the rule's unique name; kept spans carry it in sampling.rule.
	Name string
	// Keep is the probability of keeping a matching trace, in [0, 1].
	Keep float64
	// RateLimit caps the traces per second this rule keeps; 0 means no cap.
	RateLimit float64
	// Always exempts the rule from load shedding under max_spans_per_second.
	Always bool
	// Match decides whether the rule applies to a trace.
	Match match.Matcher
	// Line is where the rule starts in the file, for messages.
	Line int
}

// Policy is a compiled policy file. It is immutable once built and may be
// read from many goroutines.
type Policy struct {
	// File is the path the policy was read from.
	File string
	// Rules are evaluated in order; the last one matches every trace.
	Rules []Rule
	// Triggers open windows in which every trace of their scope is kept,
	// before any rule is tried.
	Triggers []Trigger
	// Keys is the summary layout the rules need.
	Keys match.Keys
	// HeightSlot is the span slot of chain.block.height, or -1 when no rule
	// reads heights.
	HeightSlot int
	// HeadSlot is the span slot of chain.head.height (the head a node
	// reports on its spans), or -1 when no rule reads the head
	// (within_head).
	HeadSlot int
	// Head is the head: section (head.go); nil when the file has none.
	Head *Head
}

// First returns the index of the first rule that matches s. The final rule
// matches everything, so there always is one.
func (p *Policy) First(s *match.Summary, env match.Env) int {
	for i := range p.Rules {
		if p.Rules[i].Match.Match(s, env) {
			return i
		}
	}
	return len(p.Rules) - 1
}

// thresholdPrecision is the hex digits of a threshold written to
// tracestate, as the contrib probabilistic sampler does: four digits keep
// tracestate short and the adjusted count within 0.01% of 1/keep.
const thresholdPrecision = 4

// Threshold returns the consistent-sampling threshold for keeping a trace
// with probability prob (sampling.NeverSampleThreshold for 0).
func Threshold(prob float64) sampling.Threshold {
	if prob <= 0 {
		return sampling.NeverSampleThreshold
	}
	if prob < sampling.MinSamplingProbability {
		prob = sampling.MinSamplingProbability
	}
	if prob > 1 {
		prob = 1
	}
	th, err := sampling.ProbabilityToThresholdWithPrecision(prob, thresholdPrecision)
	if err != nil {
		// Unreachable: prob was clamped into the accepted range above.
		return sampling.NeverSampleThreshold
	}
	return th
}

// Load reads and compiles the policy file at path.
func Load(path string) (*Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read policy file: %w", err)
	}
	return Parse(path, data)
}
