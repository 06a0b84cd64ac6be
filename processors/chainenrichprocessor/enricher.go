package chainenrichprocessor

import (
	"context"
	"fmt"
	"sync"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/chainotel/chainotel/processors/chainenrichprocessor/internal/classify"
	"github.com/chainotel/chainotel/processors/chainenrichprocessor/internal/head"
	"github.com/chainotel/chainotel/processors/chainenrichprocessor/internal/metadata"
	"github.com/chainotel/chainotel/processors/chainenrichprocessor/internal/redact"
	"github.com/chainotel/chainotel/semconv"
)

// enricher holds what the traces and logs paths share. It is safe for
// concurrent use: the classifier and redactor are immutable, the tracker
// locks, and each batch counts into its own maps.
type enricher struct {
	cfg        *Config
	sources    map[string]bool
	tracker    *head.Tracker
	classifier *classify.Classifier
	redactor   *redact.Redactor
	telemetry  *metadata.TelemetryBuilder
	release    func()
	closeOnce  sync.Once
}

func newEnricher(set processor.Settings, cfg *Config, tracker *head.Tracker, release func()) (*enricher, error) {
	c, err := cfg.classifier()
	if err != nil {
		return nil, fmt.Errorf("chainenrich: classification.%w", err)
	}
	r, err := cfg.redactor()
	if err != nil {
		return nil, fmt.Errorf("chainenrich: redaction.%w", err)
	}
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, fmt.Errorf("chainenrich: telemetry: %w", err)
	}
	e := &enricher{
		cfg: cfg, sources: map[string]bool{}, tracker: tracker, classifier: c, redactor: r,
		telemetry: tb, release: release,
	}
	for _, s := range cfg.Head.Sources {
		e.sources[s] = true
	}
	err = tb.RegisterProcessorChainenrichHeadsTrackedCallback(func(_ context.Context, o metric.Int64Observer) error {
		o.Observe(int64(tracker.Len()))
		return nil
	})
	if err != nil {
		tb.Shutdown()
		return nil, fmt.Errorf("chainenrich: register heads gauge: %w", err)
	}
	return e, nil
}

func (e *enricher) shutdown(context.Context) error {
	e.closeOnce.Do(func() {
		e.telemetry.Shutdown()
		e.release()
	})
	return nil
}

// batchStats is what one batch did, recorded once at its end.
type batchStats struct {
	redactions redact.Counts
	errors     map[string]int64
}

func newBatchStats() batchStats {
	return batchStats{redactions: redact.Counts{}, errors: map[string]int64{}}
}

func (e *enricher) record(ctx context.Context, st batchStats) {
	for kind, n := range st.redactions {
		e.telemetry.ProcessorChainenrichRedactions.Add(ctx, n,
			metric.WithAttributeSet(attribute.NewSet(attribute.String("kind", kind))))
	}
	for et, n := range st.errors {
		e.telemetry.ProcessorChainenrichErrorsEnriched.Add(ctx, n,
			metric.WithAttributeSet(attribute.NewSet(attribute.String("error_type", et))))
	}
}

// fillResource sets the configured environment and release where missing.
func (e *enricher) fillResource(res pcommon.Map) {
	if e.cfg.Environment != "" {
		if _, ok := res.Get(semconv.DeploymentEnvironmentKey); !ok {
			res.PutStr(semconv.DeploymentEnvironmentKey, e.cfg.Environment)
		}
	}
	if e.cfg.Release != "" {
		if _, ok := res.Get(semconv.ServiceVersionKey); !ok {
			res.PutStr(semconv.ServiceVersionKey, e.cfg.Release)
		}
	}
}

func headKey(res pcommon.Map) head.Key {
	var k head.Key
	if v, ok := res.Get(semconv.ChainIDKey); ok {
		k.Chain = v.AsString()
	}
	if v, ok := res.Get(semconv.ServiceInstanceIDKey); ok {
		k.Node = v.AsString()
	}
	return k
}

// observeHead moves the head of key forward from a source's attributes.
func (e *enricher) observeHead(key head.Key, attrs pcommon.Map) {
	if h, ok := head.FromAttributes(attrs, semconv.BlockHeightKey, semconv.BlockHashKey, semconv.StateRootKey); ok {
		e.tracker.Observe(key, h)
	}
}

// enrichError classifies an error (keeping an error.type already set) and
// stamps it with its node's head. attrs are the span's or log's attributes.
func (e *enricher) enrichError(attrs, res pcommon.Map, subj classify.Subject, st batchStats) {
	errType := ""
	if v, ok := attrs.Get(semconv.ErrorTypeKey); ok && v.AsString() != "" {
		errType = v.AsString()
	} else {
		subj.Attributes, subj.Resource = attrs, res
		if errType = e.classifier.Classify(subj); errType != "" {
			attrs.PutStr(semconv.ErrorTypeKey, errType)
		}
	}
	key := headKey(res)
	if key.Node != "" {
		if _, ok := attrs.Get(semconv.NodeIDKey); !ok {
			attrs.PutStr(semconv.NodeIDKey, key.Node)
		}
	}
	if h, ok := e.tracker.Get(key); ok {
		attrs.PutInt(semconv.HeadHeightKey, h.Height)
		if h.Hash != "" {
			attrs.PutStr(semconv.HeadHashKey, h.Hash)
		}
		// A span that carries its own state root (a failed block.apply)
		// keeps it: it says more than the head's.
		if _, ok := attrs.Get(semconv.HeadStateRootKey); !ok && h.StateRoot != "" {
			attrs.PutStr(semconv.HeadStateRootKey, h.StateRoot)
		}
	}
	st.errors[errType]++
}
