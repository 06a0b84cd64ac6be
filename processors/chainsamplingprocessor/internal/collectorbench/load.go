package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"time"

	"github.com/chainotel/chainotel/internal/testproc"
	"github.com/chainotel/chainotel/semconv"
)

// streamAttr names the stream a span came from, so that the sink can count
// kept traces by the rule that should have kept them.
const streamAttr = "bench.stream"

// stream is one telemetrygen process: 10-span traces of one kind.
type stream struct {
	rule  string  // the policy rule its traces match
	share float64 // of the total span rate
	args  []string
}

// streams is the load: chain transactions (transfers and others), and
// small streams of error traces and slow traces (10 spans of 300ms in a
// row: a 2.7s trace). Every span carries the chain attributes.
var streams = []stream{
	{rule: "transfers", share: 0.40, args: []string{
		"--telemetry-attributes", semconv.TxTypeKey + `="` + semconv.TxTypeTransfer + `"`, "--span-duration", "10ms"}},
	{rule: "default", share: 0.58, args: []string{
		"--telemetry-attributes", semconv.TxTypeKey + `="` + semconv.TxTypeStake + `"`, "--span-duration", "10ms"}},
	{rule: "errors", share: 0.01, args: []string{"--status-code", "Error", "--span-duration", "10ms"}},
	{rule: "slow", share: 0.01, args: []string{"--span-duration", "300ms"}},
}

// rules in the order the table prints them.
var rules = []string{"errors", "slow", "transfers", "default"}

// maxWorkerRate is the most spans per second one telemetrygen worker is
// asked for; faster streams get more workers.
const maxWorkerRate = 4000

// load is a run of every stream against one collector.
type load struct {
	bin           string // telemetrygen
	spansPerSec   float64
	duration      time.Duration
	batchSize     int
	childSpans    int
	dir, endpoint string
}

// run starts every stream and waits until all have finished.
func (l load) run(ctx context.Context) error {
	procs := make([]*testproc.Proc, 0, len(streams))
	defer func() {
		for _, p := range procs {
			p.Kill()
		}
	}()
	for _, s := range streams {
		rate := l.spansPerSec * s.share
		workers := max(1, int(rate/maxWorkerRate)+1)
		args := append([]string{"traces",
			"--otlp-endpoint", l.endpoint, "--otlp-insecure",
			"--duration", l.duration.String(),
			"--rate", strconv.FormatFloat(rate/float64(workers), 'f', 1, 64),
			"--workers", strconv.Itoa(workers),
			"--child-spans", strconv.Itoa(l.childSpans),
			"--batch-size", strconv.Itoa(l.batchSize),
			"--service", "chain-node",
			"--otlp-attributes", semconv.ServiceInstanceIDKey + `="node0"`,
			"--telemetry-attributes", semconv.BlockHeightKey + "=1000",
			"--telemetry-attributes", streamAttr + `="` + s.rule + `"`,
		}, s.args...)
		p, err := testproc.Spawn("telemetrygen "+s.rule, l.bin, args,
			testproc.Options{Dir: l.dir, LogPath: filepath.Join(l.dir, "telemetrygen-"+s.rule+".log")})
		if err != nil {
			return err
		}
		procs = append(procs, p)
	}
	deadline := time.After(l.duration + time.Minute)
	for _, p := range procs {
		select {
		case <-p.Done():
		case <-deadline:
			return fmt.Errorf("%s still running a minute after its %v:\n%s", p.Name, l.duration, p.Tail(10))
		case <-ctx.Done():
			return ctx.Err()
		}
		if err := p.ExitErr(); err != nil {
			return fmt.Errorf("%s: %s:\n%s", p.Name, testproc.DescribeExit(err), p.Tail(10))
		}
	}
	return nil
}
