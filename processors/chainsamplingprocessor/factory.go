package chainsamplingprocessor

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/processor"

	"github.com/chainotel/chainotel/processors/chainsamplingprocessor/internal/metadata"
)

// Defaults of the configuration keys (see README.md).
const (
	defaultDecisionWait          = 10 * time.Second
	defaultDecisionWaitAfterRoot = 2 * time.Second
	// defaultCommitGrace covers the node's export batch timeout (1 s):
	// spans that ended before the commit are on their way by then.
	defaultCommitGrace       = time.Second
	defaultMaxTraces         = 100_000
	defaultMaxBytes          = 256 << 20
	defaultDecisionCacheSize = 200_000
	// defaultPreviewTraces is a few seconds of a busy chain's decisions,
	// at a few hundred bytes each.
	defaultPreviewTraces = 10_000
)

// NewFactory returns the factory of the chainsampling processor.
func NewFactory() processor.Factory {
	return processor.NewFactory(
		metadata.Type,
		createDefaultConfig,
		processor.WithTraces(createTraces, metadata.TracesStability),
	)
}

func createDefaultConfig() component.Config {
	return &Config{
		DecisionWait:          defaultDecisionWait,
		DecisionWaitAfterRoot: defaultDecisionWaitAfterRoot,
		CommitGrace:           defaultCommitGrace,
		MaxTraces:             defaultMaxTraces,
		MaxBytes:              defaultMaxBytes,
		DecisionCacheSize:     defaultDecisionCacheSize,
		Compression:           compressionAuto,
		WhenFull:              whenFullDecideEarly,
		WatchPolicyFile:       true,
		PreviewTraces:         defaultPreviewTraces,
	}
}

func createTraces(_ context.Context, set processor.Settings, cfg component.Config, next consumer.Traces) (processor.Traces, error) {
	return newProcessor(set, cfg.(*Config), next)
}
