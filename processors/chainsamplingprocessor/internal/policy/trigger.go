package policy

import (
	"math"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/chainotel/chainotel/processors/chainsamplingprocessor/internal/match"
)

// TriggerKind is the event a trigger waits for.
type TriggerKind int

// Trigger kinds, one per key of a trigger's `on:` mapping.
const (
	// OnLeaderChange fires on a consensus.prevote span (a pre-vote or vote
	// cast or received: an election is under way) or a consensus.term above
	// the highest seen.
	OnLeaderChange TriggerKind = iota + 1
	// OnErrorType fires on a span whose error.type passes ErrorType.
	OnErrorType
	// OnReorg fires on a pow.reorg span at least ReorgDepth blocks deep.
	OnReorg
	// OnStall fires when the highest chain.block.height of the scope has
	// not advanced for Stall.
	OnStall
)

// Scope is what a trigger's window covers.
type Scope int

// Scopes.
const (
	// ScopeNode covers the traces with a span from the node that reported
	// the event (its service.instance.id).
	ScopeNode Scope = iota + 1
	// ScopeChain covers every trace.
	ScopeChain
)

// Trigger opens a window when its event is seen; while the window is open
// every trace that touches its scope is kept with probability 1.
type Trigger struct {
	// Name is unique among triggers; kept spans carry "trigger:<Name>" in
	// sampling.rule.
	Name string
	Kind TriggerKind
	// ErrorType is the test on error.type, for OnErrorType.
	ErrorType match.ValueTest
	// ReorgDepth is the least pow.reorg.depth that fires, for OnReorg.
	ReorgDepth int64
	// Stall is how long the height must stand still, for OnStall.
	Stall time.Duration
	// Window is how long a window stays open.
	Window time.Duration
	Scope  Scope
	// Line is where the trigger starts in the file, for messages.
	Line int
}

// RuleName is the sampling.rule value of the traces the trigger keeps.
func (t *Trigger) RuleName() string { return "trigger:" + t.Name }

// triggers parses the `triggers:` list.
func (p *parser) triggers(v *yaml.Node) ([]Trigger, error) {
	if v.Kind != yaml.SequenceNode {
		return nil, p.errf(v, "triggers must be a list")
	}
	var out []Trigger
	names := map[string]int{}
	for _, tn := range v.Content {
		t, err := p.trigger(tn)
		if err != nil {
			return nil, err
		}
		if line, dup := names[t.Name]; dup {
			return nil, p.errf(tn, "trigger %q: name already used by the trigger at line %d", t.Name, line)
		}
		names[t.Name] = tn.Line
		out = append(out, t)
	}
	return out, nil
}

func (p *parser) trigger(n *yaml.Node) (Trigger, error) {
	t := Trigger{Line: n.Line}
	err := p.fields(n, "trigger", []string{"name", "on", "window", "scope"}, func(key string, _, v *yaml.Node) error {
		var err error
		switch key {
		case "name":
			t.Name, err = p.str(v, "name")
			if err == nil && t.Name == "" {
				err = p.errf(v, "name: must not be empty")
			}
		case "on":
			err = p.triggerOn(v, &t)
		case "window":
			t.Window, err = p.duration(v, "window")
		case "scope":
			var s string
			if s, err = p.str(v, "scope"); err != nil {
				return err
			}
			switch s {
			case "node":
				t.Scope = ScopeNode
			case "chain":
				t.Scope = ScopeChain
			default:
				err = p.errf(v, "scope: must be node or chain, got %q", s)
			}
		}
		return err
	})
	if err != nil {
		return t, err
	}
	switch {
	case t.Name == "":
		return t, p.errf(n, "trigger: name is required")
	case t.Kind == 0:
		return t, p.errf(n, "trigger %q: on is required (leader_change, error_type, reorg_depth or stall)", t.Name)
	case t.Window == 0:
		return t, p.errf(n, "trigger %q: window is required (a duration such as 30s)", t.Name)
	case t.Scope == 0:
		return t, p.errf(n, "trigger %q: scope is required (node or chain)", t.Name)
	}
	return t, nil
}

// triggerOn parses `on:`, a mapping with exactly one event.
func (p *parser) triggerOn(v *yaml.Node, t *Trigger) error {
	events := 0
	err := p.fields(v, "on", []string{"leader_change", "error_type", "reorg_depth", "stall"}, func(key string, _, n *yaml.Node) error {
		events++
		switch key {
		case "leader_change":
			b, err := p.boolean(n, "on.leader_change")
			if err == nil && !b {
				err = p.errf(n, "on.leader_change: must be true (leave the trigger out instead)")
			}
			t.Kind = OnLeaderChange
			return err
		case "error_type":
			test, err := p.valueTest(n, "on.error_type")
			t.Kind, t.ErrorType = OnErrorType, test
			return err
		case "reorg_depth":
			f, err := p.number(n, "on.reorg_depth")
			if err == nil && (f < 1 || f != math.Trunc(f)) {
				err = p.errf(n, "on.reorg_depth: must be a whole number of blocks >= 1, got %v", n.Value)
			}
			t.Kind, t.ReorgDepth = OnReorg, int64(f)
			return err
		case "stall":
			d, err := p.duration(n, "on.stall")
			t.Kind, t.Stall = OnStall, d
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	if events != 1 {
		return p.errf(v, "on: needs exactly one event: leader_change, error_type, reorg_depth or stall")
	}
	return nil
}
