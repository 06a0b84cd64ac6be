package policy

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/sampling"
	"go.yaml.in/yaml/v3"

	"github.com/chainotel/chainotel/processors/chainsamplingprocessor/internal/match"
	"github.com/chainotel/chainotel/semconv"
)

// Parse compiles the policy in data; file names it in error messages.
// Unknown keys, wrong types and out-of-range values are errors that name the
// file, line and column.
func Parse(file string, data []byte) (*Policy, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, syntaxError(file, err)
	}
	p := &parser{file: file, spanSlots: map[string]int{}, resSlots: map[string]int{}}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, &Error{File: file, Msg: "the file is empty: it needs a rules list"}
	}
	rules, err := p.document(doc.Content[0])
	if err != nil {
		return nil, err
	}
	pol := &Policy{File: file, Rules: rules, Triggers: p.parsedTriggers, Keys: p.keys, HeightSlot: -1, HeadSlot: -1, Head: p.head}
	if slot, ok := p.spanSlots[semconv.BlockHeightKey]; ok {
		pol.HeightSlot = slot
	}
	if slot, ok := p.spanSlots[semconv.HeadHeightKey]; ok {
		pol.HeadSlot = slot
	}
	return pol, nil
}

// yamlLine finds the line in the YAML library's syntax errors, which read
// "yaml: line 3: did not find expected key".
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func syntaxError(file string, err error) error {
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{File: file, Line: line, Msg: "YAML syntax: " + m[2]}
	}
	return &Error{File: file, Msg: err.Error()}
}

type parser struct {
	file      string
	keys      match.Keys
	spanSlots map[string]int
	resSlots  map[string]int
	// parsedTriggers is the `triggers:` section (trigger.go).
	parsedTriggers []Trigger
	head           *Head // the head: section (head.go), nil without one
}

func (p *parser) errf(n *yaml.Node, format string, args ...any) error {
	return &Error{File: p.file, Line: n.Line, Column: n.Column, Msg: fmt.Sprintf(format, args...)}
}

// fields walks a mapping node, rejecting unknown and repeated keys.
func (p *parser) fields(n *yaml.Node, what string, known []string, f func(key string, k, v *yaml.Node) error) error {
	if n.Kind != yaml.MappingNode {
		return p.errf(n, "%s must be a mapping", what)
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !contains(known, k.Value) {
			return p.errf(k, "%s: unknown key %q (known: %s)", what, k.Value, strings.Join(known, ", "))
		}
		if seen[k.Value] {
			return p.errf(k, "%s: key %q repeated", what, k.Value)
		}
		seen[k.Value] = true
		if err := f(k.Value, k, v); err != nil {
			return err
		}
	}
	return nil
}

func (p *parser) document(root *yaml.Node) ([]Rule, error) {
	var rules []Rule
	var rulesNode *yaml.Node
	err := p.fields(root, "policy file", []string{"rules", "triggers", "head"}, func(key string, _, v *yaml.Node) error {
		switch key {
		case "triggers":
			var err error
			p.parsedTriggers, err = p.triggers(v)
			return err
		case "head":
			var err error
			p.head, err = p.headSection(v)
			return err
		}
		rulesNode = v
		if v.Kind != yaml.SequenceNode {
			return p.errf(v, "rules must be a list")
		}
		names := map[string]int{}
		for _, rn := range v.Content {
			r, err := p.rule(rn)
			if err != nil {
				return err
			}
			if line, dup := names[r.Name]; dup {
				return p.errf(rn, "rule %q: name already used by the rule at line %d", r.Name, line)
			}
			names[r.Name] = rn.Line
			rules = append(rules, r)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if rulesNode == nil || len(rules) == 0 {
		return nil, p.errf(root, "rules: at least one rule is required, ending with a default rule (one without match)")
	}
	for i, r := range rules[:len(rules)-1] {
		if _, isDefault := r.Match.(match.Everything); isDefault {
			return nil, p.errf(rulesNode.Content[i], "rule %q has no match, so the rules after it could never apply; only the last rule may be the default", r.Name)
		}
	}
	last := rules[len(rules)-1]
	if _, isDefault := last.Match.(match.Everything); !isDefault {
		return nil, p.errf(rulesNode.Content[len(rules)-1], "rule %q: the last rule must be a default rule without match, so every trace gets a decision", last.Name)
	}
	return rules, nil
}

func (p *parser) rule(n *yaml.Node) (Rule, error) {
	r := Rule{Line: n.Line, Match: match.Everything{}}
	hasKeep := false
	err := p.fields(n, "rule", []string{"name", "match", "keep", "rate_limit", "always"}, func(key string, k, v *yaml.Node) error {
		var err error
		switch key {
		case "name":
			r.Name, err = p.str(v, "name")
			if err == nil && r.Name == "" {
				err = p.errf(v, "name: must not be empty")
			}
		case "match":
			r.Match, err = p.match(v)
		case "keep":
			hasKeep = true
			r.Keep, err = p.number(v, "keep")
			if err == nil && (r.Keep < 0 || r.Keep > 1) {
				err = p.errf(v, "keep: must be a probability between 0 and 1, got %v", v.Value)
			}
			if err == nil && r.Keep > 0 && r.Keep < sampling.MinSamplingProbability {
				err = p.errf(v, "keep: must be 0 or at least %g, got %v", sampling.MinSamplingProbability, v.Value)
			}
		case "rate_limit":
			r.RateLimit, err = p.number(v, "rate_limit")
			if err == nil && r.RateLimit <= 0 {
				err = p.errf(v, "rate_limit: must be > 0 traces per second, got %v", v.Value)
			}
		case "always":
			r.Always, err = p.boolean(v, "always")
		}
		return err
	})
	if err != nil {
		return r, err
	}
	if r.Name == "" {
		return r, p.errf(n, "rule: name is required")
	}
	if !hasKeep {
		return r, p.errf(n, "rule %q: keep is required (a probability between 0 and 1)", r.Name)
	}
	return r, nil
}

// matchKeys are the keys of a match mapping; several keys in one mapping
// must all hold.
func matchKeys() []string {
	return []string{"error", "min_duration", "span_name", "block_height", "tx_type",
		"rpc_method", "http_route", "attribute", "resource", "all", "any", "not"}
}

func (p *parser) match(n *yaml.Node) (match.Matcher, error) {
	var all match.All
	err := p.fields(n, "match", matchKeys(), func(key string, _, v *yaml.Node) error {
		m, err := p.matcher(key, v)
		if err != nil {
			return err
		}
		all = append(all, m)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(all) == 0 {
		return nil, p.errf(n, "match: must not be empty (leave match out for a default rule)")
	}
	if len(all) == 1 {
		return all[0], nil
	}
	return all, nil
}

func (p *parser) matcher(key string, v *yaml.Node) (match.Matcher, error) {
	switch key {
	case "error":
		b, err := p.boolean(v, "error")
		return match.Error{Want: b}, err
	case "min_duration":
		d, err := p.duration(v, "min_duration")
		return match.MinDuration{Min: d}, err
	case "span_name":
		p.keys.Names = true
		t, err := p.valueTest(v, "span_name")
		return &match.SpanName{Test: t}, err
	case "block_height":
		return p.blockHeight(v)
	case "tx_type":
		return p.attribute(v, "tx_type", semconv.TxTypeKey)
	case "rpc_method":
		t, err := p.valueTest(v, "rpc_method")
		return &match.RPCMethod{Slot: p.spanSlot(semconv.RPCMethodKey), ServiceSlot: p.spanSlot(semconv.RPCServiceKey), Test: t}, err
	case "http_route":
		return p.attribute(v, "http_route", semconv.HTTPRouteKey)
	case "attribute", "resource":
		return p.keyed(v, key)
	case "all", "any":
		if v.Kind != yaml.SequenceNode || len(v.Content) == 0 {
			return nil, p.errf(v, "%s: must be a non-empty list of matches", key)
		}
		subs := make([]match.Matcher, 0, len(v.Content))
		for _, sn := range v.Content {
			m, err := p.match(sn)
			if err != nil {
				return nil, err
			}
			subs = append(subs, m)
		}
		if key == "all" {
			return match.All(subs), nil
		}
		return match.Any(subs), nil
	case "not":
		m, err := p.match(v)
		return match.Not{M: m}, err
	}
	return nil, p.errf(v, "match: unknown key %q", key)
}

func (p *parser) spanSlot(key string) int {
	if slot, ok := p.spanSlots[key]; ok {
		return slot
	}
	slot := len(p.keys.Span)
	p.spanSlots[key] = slot
	p.keys.Span = append(p.keys.Span, key)
	return slot
}

func (p *parser) resourceSlot(key string) int {
	if slot, ok := p.resSlots[key]; ok {
		return slot
	}
	slot := len(p.keys.Resource)
	p.resSlots[key] = slot
	p.keys.Resource = append(p.keys.Resource, key)
	return slot
}

func (p *parser) attribute(v *yaml.Node, what, key string) (match.Matcher, error) {
	t, err := p.valueTest(v, what)
	return &match.Attribute{Key: key, Slot: p.spanSlot(key), Test: t}, err
}

// keyed parses `attribute:` and `resource:`, which name their key:
// {key: k} tests presence, {key: k, equals|one_of|regex|min|max: ...} a value.
func (p *parser) keyed(v *yaml.Node, what string) (match.Matcher, error) {
	if v.Kind != yaml.MappingNode {
		return nil, p.errf(v, "%s: must be a mapping with key and a test (equals, one_of, regex, min, max)", what)
	}
	var key string
	rest := &yaml.Node{Kind: yaml.MappingNode, Line: v.Line, Column: v.Column}
	for i := 0; i+1 < len(v.Content); i += 2 {
		if v.Content[i].Value == "key" {
			var err error
			if key, err = p.str(v.Content[i+1], what+".key"); err != nil {
				return nil, err
			}
			continue
		}
		rest.Content = append(rest.Content, v.Content[i], v.Content[i+1])
	}
	if key == "" {
		return nil, p.errf(v, "%s: key is required", what)
	}
	t := match.ValueTest{Exists: true}
	if len(rest.Content) > 0 {
		var err error
		if t, err = p.valueTest(rest, what); err != nil {
			return nil, err
		}
	}
	if what == "resource" {
		return &match.Resource{Key: key, Slot: p.resourceSlot(key), Test: t}, nil
	}
	return &match.Attribute{Key: key, Slot: p.spanSlot(key), Test: t}, nil
}

func (p *parser) blockHeight(v *yaml.Node) (match.Matcher, error) {
	m := match.NewBlockHeight(p.spanSlot(semconv.BlockHeightKey))
	err := p.fields(v, "block_height", []string{"min", "max", "within_head"}, func(key string, _, n *yaml.Node) error {
		f, err := p.number(n, "block_height."+key)
		if err != nil {
			return err
		}
		switch key {
		case "min":
			m.Min = f
		case "max":
			m.Max = f
		case "within_head":
			if f < 0 || f != math.Trunc(f) {
				return p.errf(n, "block_height.within_head: must be a whole number of blocks >= 0, got %v", n.Value)
			}
			m.WithinHead = int64(f)
			if m.WithinHead > 0 {
				// The head the trace's spans carry (match.BlockHeight).
				p.spanSlot(semconv.HeadHeightKey)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if m.Min > m.Max {
		return nil, p.errf(v, "block_height: min %v is above max %v", m.Min, m.Max)
	}
	return m, nil
}

// valueTest parses a scalar (equals), a list (one of) or a mapping with one
// of equals, one_of, regex, or min and/or max.
func (p *parser) valueTest(v *yaml.Node, what string) (match.ValueTest, error) {
	var t match.ValueTest
	switch v.Kind {
	case yaml.ScalarNode:
		t.OneOf = []match.Value{scalarValue(v)}
		return t, nil
	case yaml.SequenceNode:
		return p.oneOf(v, what)
	}
	t.Min, t.Max = math.Inf(-1), math.Inf(1)
	forms := 0
	err := p.fields(v, what, []string{"equals", "one_of", "regex", "min", "max"}, func(key string, _, n *yaml.Node) error {
		var err error
		switch key {
		case "equals":
			forms++
			if n.Kind != yaml.ScalarNode {
				return p.errf(n, "%s.equals: must be a single value", what)
			}
			t.OneOf = []match.Value{scalarValue(n)}
		case "one_of":
			forms++
			t, err = p.oneOf(n, what+".one_of")
			t.Min, t.Max = math.Inf(-1), math.Inf(1)
		case "regex":
			forms++
			var s string
			if s, err = p.str(n, what+".regex"); err != nil {
				return err
			}
			if t.Regex, err = regexp.Compile(s); err != nil {
				return p.errf(n, "%s.regex: %v", what, err)
			}
		case "min", "max":
			if !t.HasRange {
				forms++
			}
			t.HasRange = true
			var f float64
			if f, err = p.number(n, what+"."+key); err != nil {
				return err
			}
			if key == "min" {
				t.Min = f
			} else {
				t.Max = f
			}
		}
		return err
	})
	if err != nil {
		return t, err
	}
	if forms != 1 {
		return t, p.errf(v, "%s: needs exactly one test: equals, one_of, regex, or min/max", what)
	}
	if t.HasRange && t.Min > t.Max {
		return t, p.errf(v, "%s: min %v is above max %v", what, t.Min, t.Max)
	}
	return t, nil
}

func (p *parser) oneOf(v *yaml.Node, what string) (match.ValueTest, error) {
	var t match.ValueTest
	if v.Kind != yaml.SequenceNode || len(v.Content) == 0 {
		return t, p.errf(v, "%s: must be a non-empty list of values", what)
	}
	for _, e := range v.Content {
		if e.Kind != yaml.ScalarNode {
			return t, p.errf(e, "%s: every entry must be a single value", what)
		}
		t.OneOf = append(t.OneOf, scalarValue(e))
	}
	return t, nil
}

// scalarValue types a YAML scalar the way YAML does: 5 is a number, true a
// boolean, "5" and everything else a string.
func scalarValue(n *yaml.Node) match.Value {
	switch n.ShortTag() {
	case "!!int", "!!float":
		if f, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64); err == nil {
			return match.Value{Num: f, Kind: match.KindNum}
		}
	case "!!bool":
		var b bool
		if n.Decode(&b) == nil {
			if b {
				return match.Value{Num: 1, Kind: match.KindBool}
			}
			return match.Value{Kind: match.KindBool}
		}
	}
	return match.Value{Str: n.Value, Kind: match.KindStr}
}

func (p *parser) str(n *yaml.Node, what string) (string, error) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		return "", p.errf(n, "%s: must be a string, got %q", what, n.Value)
	}
	return n.Value, nil
}

func (p *parser) number(n *yaml.Node, what string) (float64, error) {
	var f float64
	if n.Kind != yaml.ScalarNode || (n.ShortTag() != "!!int" && n.ShortTag() != "!!float") || n.Decode(&f) != nil {
		return 0, p.errf(n, "%s: must be a number, got %q", what, n.Value)
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, p.errf(n, "%s: must be a finite number, got %q", what, n.Value)
	}
	return f, nil
}

func (p *parser) boolean(n *yaml.Node, what string) (bool, error) {
	var b bool
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(&b) != nil {
		return false, p.errf(n, "%s: must be true or false, got %q", what, n.Value)
	}
	return b, nil
}

func (p *parser) duration(n *yaml.Node, what string) (time.Duration, error) {
	d, err := time.ParseDuration(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil {
		return 0, p.errf(n, "%s: must be a duration such as 2s or 500ms, got %q", what, n.Value)
	}
	if d <= 0 {
		return 0, p.errf(n, "%s: must be > 0, got %s", what, n.Value)
	}
	return d, nil
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}
