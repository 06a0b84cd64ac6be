package chainsamplingprocessor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processorhelper"
	"go.uber.org/zap"

	"github.com/chainotel/chainotel/processors/chainsamplingprocessor/internal/engine"
	"github.com/chainotel/chainotel/processors/chainsamplingprocessor/internal/metadata"
	"github.com/chainotel/chainotel/processors/chainsamplingprocessor/internal/policy"
	"github.com/chainotel/chainotel/processors/chainsamplingprocessor/internal/watch"
)

const (
	// reloadDebounce is the quiet time after a change of the policy file
	// before it is read: long enough for an editor's write-and-rename,
	// short enough that an edit is in force within a second.
	reloadDebounce = 100 * time.Millisecond
	// minTick and maxTick bound how often buffered traces are checked for
	// a due decision.
	minTick = 5 * time.Millisecond
	maxTick = 100 * time.Millisecond
)

// chainSampling is the processor: an engine, the ticker that decides due
// traces, and the watcher that reloads the policy file.
type chainSampling struct {
	cfg  *Config
	log  *zap.Logger
	tel  *metadata.TelemetryBuilder
	next consumer.Traces
	eng  *engine.Engine

	reloadMu sync.Mutex // serialises reloads
	lastSeen []byte     // content of the policy file at the last reload attempt
	version  int64

	stop func()
	done []<-chan struct{}

	id         component.ID // the key of its preview registrations
	unregister []func()     // leaves the preview registries it joined
}

// engineCompression maps the (validated) compression key to the engine's
// setting.
func engineCompression(key string) engine.Compression {
	switch key {
	case compressionS2:
		return engine.CompressAlways
	case compressionAuto:
		return engine.CompressUnderPressure
	default:
		return engine.CompressNever
	}
}

func newProcessor(set processor.Settings, cfg *Config, next consumer.Traces) (processor.Traces, error) {
	p, err := newChainSampling(set, cfg, next)
	if err != nil {
		return nil, err
	}
	return processorhelper.NewTraces(context.Background(), set, cfg, next, p.process,
		processorhelper.WithStart(p.start),
		processorhelper.WithShutdown(p.shutdown),
		processorhelper.WithCapabilities(consumer.Capabilities{MutatesData: false}))
}

// newChainSampling builds the engine from cfg and its policy file: the
// processor's and the OTLP sampler's (otlp.go).
func newChainSampling(set processor.Settings, cfg *Config, next consumer.Traces) (*chainSampling, error) {
	data, err := os.ReadFile(cfg.PolicyFile)
	if err != nil {
		return nil, fmt.Errorf("policy_file: %w", err)
	}
	pol, err := policy.Parse(cfg.PolicyFile, data)
	if err != nil {
		return nil, fmt.Errorf("policy_file: %w", err)
	}
	tel, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, fmt.Errorf("telemetry: %w", err)
	}
	eng, err := engine.New(engine.Config{
		DecisionWait:          cfg.DecisionWait,
		DecisionWaitAfterRoot: cfg.DecisionWaitAfterRoot,
		CommitGrace:           cfg.CommitGrace,
		MaxTraces:             cfg.MaxTraces,
		MaxBytes:              cfg.MaxBytes,
		DecisionCacheSize:     cfg.DecisionCacheSize,
		MaxSpansPerSecond:     cfg.MaxSpansPerSecond,
		Compression:           engineCompression(cfg.Compression),
		RefuseWhenFull:        cfg.WhenFull == whenFullRefuse,
		Logger:                set.Logger,
		PreviewTraces:         cfg.PreviewTraces,
	}, pol, tel)
	if err != nil {
		return nil, err
	}
	p := &chainSampling{cfg: cfg, log: set.Logger, tel: tel, next: next, eng: eng, lastSeen: data, version: 1, stop: func() {}, id: set.ID}
	tel.ProcessorChainsamplingPolicyVersion.Record(context.Background(), p.version)
	return p, nil
}

// process buffers td. What comes back (late spans of kept traces, traces
// decided early to stay in bounds) goes on at once; otherwise nothing does.
func (p *chainSampling) process(_ context.Context, td ptrace.Traces) (ptrace.Traces, error) {
	out, err := p.eng.Ingest(td, time.Now())
	if err != nil {
		return td, err
	}
	if out.SpanCount() == 0 {
		return out, processorhelper.ErrSkipProcessingData
	}
	return out, nil
}

func (p *chainSampling) start(_ context.Context, host component.Host) error {
	ctx, cancel := context.WithCancel(context.Background())
	p.stop = cancel
	tickDone := make(chan struct{})
	p.done = append(p.done, tickDone)
	go p.tickLoop(ctx, tickDone)
	if p.cfg.WatchPolicyFile {
		done, err := watch.File(ctx, p.cfg.PolicyFile, reloadDebounce, p.reload, func(err error) {
			p.log.Warn("watching the sampling policy file", zap.String("policy_file", p.cfg.PolicyFile), zap.Error(err))
		})
		if err != nil {
			cancel()
			<-tickDone
			return err
		}
		p.done = append(p.done, done)
	}
	p.registerPreview(host)
	return nil
}

func (p *chainSampling) shutdown(ctx context.Context) error {
	p.unregisterPreview()
	p.stop()
	for _, d := range p.done {
		<-d
	}
	p.done = nil
	// Buffered traces are decided now rather than lost.
	out, err := p.eng.Flush(time.Now())
	if out.SpanCount() > 0 {
		err = errors.Join(err, p.next.ConsumeTraces(ctx, out))
	}
	p.tel.Shutdown()
	return err
}

// tickInterval checks often enough that a decision is never late by more
// than a tenth of the shorter wait.
func (p *chainSampling) tickInterval() time.Duration {
	wait := p.cfg.DecisionWait
	for _, w := range []time.Duration{p.cfg.DecisionWaitAfterRoot, p.cfg.CommitGrace} {
		if w > 0 && w < wait {
			wait = w
		}
	}
	return min(maxTick, max(minTick, wait/10))
}

func (p *chainSampling) tickLoop(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(p.tickInterval())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			out, err := p.eng.Tick(now)
			if err != nil {
				p.log.Error("deciding buffered traces", zap.Error(err))
			}
			if out.SpanCount() == 0 {
				continue
			}
			if err := p.next.ConsumeTraces(ctx, out); err != nil {
				p.log.Error("sending kept traces on", zap.Int("spans", out.SpanCount()), zap.Error(err))
			}
		}
	}
}

// reload reads the policy file and puts it in force if it changed and is
// valid. An invalid file is refused: the error names file, line and
// problem, the previous policy stays, and the failure is counted.
func (p *chainSampling) reload() {
	p.reloadMu.Lock()
	defer p.reloadMu.Unlock()
	ctx := context.Background()
	data, err := os.ReadFile(p.cfg.PolicyFile)
	if err != nil {
		p.tel.ProcessorChainsamplingPolicyReloadFailures.Add(ctx, 1)
		p.log.Error("sampling policy file unreadable; previous policy stays in force", zap.String("policy_file", p.cfg.PolicyFile), zap.Error(err))
		return
	}
	if bytes.Equal(data, p.lastSeen) {
		return
	}
	p.lastSeen = data
	pol, err := policy.Parse(p.cfg.PolicyFile, data)
	if err == nil {
		err = p.eng.SetPolicy(pol)
	}
	if err != nil {
		p.tel.ProcessorChainsamplingPolicyReloadFailures.Add(ctx, 1)
		p.log.Error("sampling policy refused; previous policy stays in force", zap.String("policy_file", p.cfg.PolicyFile), zap.Error(err))
		return
	}
	p.version++
	p.tel.ProcessorChainsamplingPolicyReloads.Add(ctx, 1)
	p.tel.ProcessorChainsamplingPolicyVersion.Record(ctx, p.version)
	p.log.Info("sampling policy reloaded", zap.String("policy_file", p.cfg.PolicyFile), zap.Int64("version", p.version), zap.Int("rules", len(pol.Rules)))
}
