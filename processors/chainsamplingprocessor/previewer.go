package chainsamplingprocessor

import (
	"errors"

	"go.opentelemetry.io/collector/component"
	"go.uber.org/zap"

	"github.com/chainotel/chainotel/processors/chainsamplingprocessor/internal/engine"
	"github.com/chainotel/chainotel/processors/chainsamplingprocessor/internal/policy"
	"github.com/chainotel/chainotel/processors/chainsamplingprocessor/preview"
)

var _ preview.Previewer = (*chainSampling)(nil)

// Live implements preview.Previewer.
func (p *chainSampling) Live() preview.Report {
	live := p.eng.Policy()
	return engine.Evaluate(p.eng.Recent(), live, live)
}

// Preview implements preview.Previewer.
func (p *chainSampling) Preview(file string, data []byte) (preview.Comparison, error) {
	cand, err := policy.Parse(file, data)
	if err != nil {
		perr := &preview.PolicyError{File: file, Msg: err.Error()}
		var pe *policy.Error
		if errors.As(err, &pe) {
			perr = &preview.PolicyError{File: pe.File, Line: pe.Line, Column: pe.Column, Msg: pe.Msg}
		}
		return preview.Comparison{}, perr
	}
	recent, live := p.eng.Recent(), p.eng.Policy()
	return preview.Comparison{Live: engine.Evaluate(recent, live, live), Candidate: engine.Evaluate(recent, cand, live)}, nil
}

// registerPreview registers the processor with every extension that
// serves previews. A refused registration (the same processor ID in a
// second pipeline) is logged: the first one is served.
func (p *chainSampling) registerPreview(host component.Host) {
	if p.cfg.PreviewTraces == 0 {
		return
	}
	for id, ext := range host.GetExtensions() {
		reg, ok := ext.(preview.Registry)
		if !ok {
			continue
		}
		unregister, err := reg.Register(p.id, p)
		if err != nil {
			p.log.Warn("policy preview registration refused", zap.Stringer("extension", id), zap.Stringer("processor", p.id), zap.Error(err))
			continue
		}
		p.unregister = append(p.unregister, unregister)
	}
}

func (p *chainSampling) unregisterPreview() {
	for _, u := range p.unregister {
		u()
	}
	p.unregister = nil
}
