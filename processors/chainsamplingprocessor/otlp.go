package chainsamplingprocessor

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/processor"

	"github.com/chainotel/chainotel/processors/chainsamplingprocessor/internal/engine"
)

// ErrMalformed is returned by OTLPSampler.ConsumeOTLP for bytes that are not
// an OTLP trace export request pdata's decoder takes; a receiver answers it
// as the core otlp receiver answers a request it cannot decode.
var ErrMalformed = engine.ErrMalformed

// ErrFull is returned by OTLPSampler.ConsumeOTLP, with when_full: refuse,
// while the buffer is full: a receiver answers it with a retryable status.
var ErrFull = engine.ErrFull

// OTLPSampler is the chainsampling processor for a receiver that hands it
// the OTLP wire bytes of each export request (the chainotlp receiver): the
// same config, policy file, engine, ticker, reloads, preview and telemetry
// as the processor, but a request is read in place for what the policy
// needs and held as it came; only the spans of kept traces are decoded, and
// they go to next.
type OTLPSampler struct {
	p *chainSampling
}

// NewOTLPSampler builds an OTLPSampler from the processor's config; set
// names the component and gives its telemetry.
func NewOTLPSampler(set processor.Settings, cfg *Config, next consumer.Traces) (*OTLPSampler, error) {
	p, err := newChainSampling(set, cfg, next)
	if err != nil {
		return nil, err
	}
	return &OTLPSampler{p: p}, nil
}

// Start starts deciding due traces and watching the policy file.
func (s *OTLPSampler) Start(ctx context.Context, host component.Host) error {
	return s.p.start(ctx, host)
}

// Shutdown decides every buffered trace and sends the kept ones on.
func (s *OTLPSampler) Shutdown(ctx context.Context) error {
	return s.p.shutdown(ctx)
}

// ConsumeOTLP buffers the spans of data, an encoded ExportTraceServiceRequest,
// and sends on at once what is due (late spans of kept traces, traces
// decided early to stay in bounds). The sampler keeps data: the caller must
// not change it afterwards. It returns how many spans data holds;
// ErrMalformed and ErrFull are wrapped as such.
func (s *OTLPSampler) ConsumeOTLP(ctx context.Context, data []byte) (int, error) {
	out, n, err := s.p.eng.IngestOTLP(data, time.Now())
	if err != nil {
		return n, err
	}
	if out.SpanCount() == 0 {
		return n, nil
	}
	return n, s.p.next.ConsumeTraces(ctx, out)
}
