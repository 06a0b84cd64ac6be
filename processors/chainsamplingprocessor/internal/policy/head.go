package policy

import (
	"strings"

	"go.yaml.in/yaml/v3"
)

// Head is the optional `head:` section of a policy file: the probabilities
// SDKs sample with at the source (served as Jaeger remote sampling
// strategies), before the collector sees a span. The tail rules still apply
// to what arrives.
type Head struct {
	// Keep is the probability for every service and operation not named
	// below, in [0, 1].
	Keep float64
	// Services are the per-service probabilities, in file order.
	Services []HeadService
}

// HeadService is one service's probabilities, by its service.name.
type HeadService struct {
	// Name is the service.name the SDK asks for.
	Name string
	// Keep is the probability for the service's operations not named in
	// Operations.
	Keep float64
	// Operations are per-operation (span name) probabilities, in file
	// order; an http_route entry is expanded to one per HTTP method.
	Operations []HeadOperation
}

// HeadOperation is the probability of one operation: a root span's name.
type HeadOperation struct {
	Name string
	Keep float64
}

// KeepEverything is the head section of a file without one: every SDK
// samples every trace, as if it had no remote sampler.
func KeepEverything() *Head { return &Head{Keep: 1} }

// Service returns the probabilities of the service called name; a service
// the section does not name gets the section's default and no operations.
func (h *Head) Service(name string) HeadService {
	for _, s := range h.Services {
		if s.Name == name {
			return s
		}
	}
	return HeadService{Name: name, Keep: h.Keep}
}

// httpMethods are the methods an http_route entry covers: an HTTP server
// span is named "METHOD /route" (OpenTelemetry's HTTP conventions), and the
// Jaeger protocol matches operations by exact name.
var httpMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

// headSection parses
//
//	head:
//	  keep: 0.1                       # default 1
//	  services:
//	    blockchain:
//	      keep: 0.5                   # default: head.keep
//	      operations:
//	        - {span_name: consensus.propose, keep: 1}
//	        - {http_route: /tx, keep: 0.01}
func (p *parser) headSection(n *yaml.Node) (*Head, error) {
	h := &Head{Keep: 1}
	var servicesNode *yaml.Node
	err := p.fields(n, "head", []string{"keep", "services"}, func(key string, _, v *yaml.Node) error {
		var err error
		switch key {
		case "keep":
			h.Keep, err = p.probability(v, "head.keep")
		case "services":
			servicesNode = v
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if servicesNode == nil {
		return h, nil
	}
	if servicesNode.Kind != yaml.MappingNode {
		return nil, p.errf(servicesNode, "head.services must be a mapping from service.name to its probabilities")
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(servicesNode.Content); i += 2 {
		k, v := servicesNode.Content[i], servicesNode.Content[i+1]
		name, err := p.str(k, "head.services")
		if err == nil && name == "" {
			err = p.errf(k, "head.services: a service name must not be empty")
		}
		if err == nil && seen[name] {
			err = p.errf(k, "head.services: service %q repeated", name)
		}
		if err != nil {
			return nil, err
		}
		seen[name] = true
		s, err := p.headService(name, h.Keep, v)
		if err != nil {
			return nil, err
		}
		h.Services = append(h.Services, s)
	}
	return h, nil
}

func (p *parser) headService(name string, def float64, n *yaml.Node) (HeadService, error) {
	s := HeadService{Name: name, Keep: def}
	what := "head.services." + name
	err := p.fields(n, what, []string{"keep", "operations"}, func(key string, _, v *yaml.Node) error {
		var err error
		switch key {
		case "keep":
			s.Keep, err = p.probability(v, what+".keep")
		case "operations":
			s.Operations, err = p.headOperations(v, what+".operations")
		}
		return err
	})
	return s, err
}

func (p *parser) headOperations(n *yaml.Node, what string) ([]HeadOperation, error) {
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		return nil, p.errf(n, "%s: must be a non-empty list of {span_name or http_route, keep}", what)
	}
	var ops []HeadOperation
	lines := map[string]int{}
	for _, on := range n.Content {
		var names []string
		keep, hasKeep := 0.0, false
		err := p.fields(on, what, []string{"span_name", "http_route", "keep"}, func(key string, _, v *yaml.Node) error {
			var err error
			switch key {
			case "span_name":
				var s string
				if s, err = p.str(v, what+".span_name"); err == nil && s == "" {
					err = p.errf(v, "%s.span_name: must not be empty", what)
				}
				names = append(names, s)
			case "http_route":
				var r string
				if r, err = p.str(v, what+".http_route"); err == nil && !strings.HasPrefix(r, "/") {
					err = p.errf(v, "%s.http_route: must start with /, got %q", what, r)
				}
				for _, m := range httpMethods {
					names = append(names, m+" "+r)
				}
			case "keep":
				hasKeep = true
				keep, err = p.probability(v, what+".keep")
			}
			return err
		})
		if err != nil {
			return nil, err
		}
		if len(names) == 0 || len(names) == 1+len(httpMethods) {
			return nil, p.errf(on, "%s: each entry needs exactly one of span_name or http_route", what)
		}
		if !hasKeep {
			return nil, p.errf(on, "%s: keep is required (a probability between 0 and 1)", what)
		}
		for _, name := range names {
			if line, dup := lines[name]; dup {
				return nil, p.errf(on, "%s: operation %q already has a probability at line %d", what, name, line)
			}
			lines[name] = on.Line
			ops = append(ops, HeadOperation{Name: name, Keep: keep})
		}
	}
	return ops, nil
}

func (p *parser) probability(n *yaml.Node, what string) (float64, error) {
	f, err := p.number(n, what)
	if err == nil && (f < 0 || f > 1) {
		err = p.errf(n, "%s: must be a probability between 0 and 1, got %v", what, n.Value)
	}
	return f, err
}
