package chainenrichprocessor

import (
	"context"
	"sync"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processorhelper"

	"github.com/chainotel/chainotel/processors/chainenrichprocessor/internal/head"
	"github.com/chainotel/chainotel/processors/chainenrichprocessor/internal/metadata"
)

// The processor edits data in place (stamps, redaction).
var processorCapabilities = consumer.Capabilities{MutatesData: true}

// NewFactory returns the factory of the chainenrich processor.
func NewFactory() processor.Factory {
	f := &factory{trackers: map[component.ID]*sharedTracker{}}
	return processor.NewFactory(
		metadata.Type,
		createDefaultConfig,
		processor.WithTraces(f.createTraces, metadata.TracesStability),
		processor.WithLogs(f.createLogs, metadata.LogsStability),
	)
}

func createDefaultConfig() component.Config { return defaultConfig() }

// factory shares one head tracker between the traces and the logs instance
// of a component, so an error log is stamped with the head its node's spans
// reported.
type factory struct {
	mu       sync.Mutex
	trackers map[component.ID]*sharedTracker
}

type sharedTracker struct {
	tracker *head.Tracker
	refs    int
}

// acquire returns the tracker of id, creating it, and a release func to call
// at shutdown.
func (f *factory) acquire(id component.ID, capacity int) (*head.Tracker, func(), error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, ok := f.trackers[id]
	if !ok {
		t, err := head.New(capacity)
		if err != nil {
			return nil, nil, err
		}
		st = &sharedTracker{tracker: t}
		f.trackers[id] = st
	}
	st.refs++
	var once sync.Once
	release := func() {
		once.Do(func() {
			f.mu.Lock()
			defer f.mu.Unlock()
			if st.refs--; st.refs == 0 {
				delete(f.trackers, id)
			}
		})
	}
	return st.tracker, release, nil
}

func (f *factory) newEnricher(set processor.Settings, cfg *Config) (*enricher, error) {
	tracker, release, err := f.acquire(set.ID, cfg.Head.MaxTracked)
	if err != nil {
		return nil, err
	}
	e, err := newEnricher(set, cfg, tracker, release)
	if err != nil {
		release()
		return nil, err
	}
	return e, nil
}

func (f *factory) createTraces(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Traces) (processor.Traces, error) {
	e, err := f.newEnricher(set, cfg.(*Config))
	if err != nil {
		return nil, err
	}
	return processorhelper.NewTraces(ctx, set, cfg, next, e.processTraces,
		processorhelper.WithCapabilities(processorCapabilities),
		processorhelper.WithShutdown(e.shutdown))
}

func (f *factory) createLogs(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Logs) (processor.Logs, error) {
	e, err := f.newEnricher(set, cfg.(*Config))
	if err != nil {
		return nil, err
	}
	return processorhelper.NewLogs(ctx, set, cfg, next, e.processLogs,
		processorhelper.WithCapabilities(processorCapabilities),
		processorhelper.WithShutdown(e.shutdown))
}
