//go:build integration

package chaos

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/chainotel/chainotel/internal/collectorproc"
	"github.com/chainotel/chainotel/internal/otlpsink"
	"github.com/chainotel/chainotel/internal/testproc"
	"github.com/chainotel/chainotel/semconv"
)

// Waiting for the telemetry pipeline to drain after the load.
const (
	// drainWait bounds the wait: the nodes' export batches, the collector's
	// decision wait, its batch and exporter queue.
	drainWait = 60 * time.Second
	// quietFor is how long the sink must receive nothing while every queue
	// reads empty: longer than the collector's batch timeout (1s), whose
	// buffer no metric shows.
	quietFor = 2 * time.Second

	bufferedTracesMetric = "otelcol_processor_chainsampling_buffered_traces"
	exporterQueueMetric  = "otelcol_exporter_queue_size"
	nodeQueuedMetric     = "chainotel_telemetry_queued"
)

// WaitDrained waits until every span the nodes made has left the pipeline:
// no node holds spans for export, the sampler buffers no trace, the
// exporters' queues are empty, and the sink then received nothing for
// quietFor.
func (e *Env) WaitDrained(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, drainWait)
	defer cancel()
	var (
		quietSince time.Time
		lastCount  = -1
	)
	err := testproc.Until(ctx, func() error {
		if err := e.pipelineEmpty(ctx); err != nil {
			lastCount = -1
			return err
		}
		n := len(e.Sink.Spans())
		if n != lastCount {
			lastCount, quietSince = n, time.Now()
		}
		if time.Since(quietSince) < quietFor {
			return fmt.Errorf("the sink received spans within the last %v", quietFor)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("waiting %v for the telemetry pipeline to drain: %w", drainWait, err)
	}
	return nil
}

func (e *Env) pipelineEmpty(ctx context.Context) error {
	for _, n := range e.Cluster.Nodes() {
		qs, err := nodeCounter(ctx, e.Client, n, nodeQueuedMetric, "")
		if err != nil {
			return err
		}
		if q := qs[""]; q > 0 {
			return fmt.Errorf("%s holds %.0f spans and records for export", n.ID, q)
		}
	}
	for _, m := range []string{bufferedTracesMetric, exporterQueueMetric} {
		v, err := e.Collector.Metric(ctx, m, nil)
		if errors.Is(err, collectorproc.ErrNoMetric) {
			continue // not recorded yet: nothing held
		}
		if err != nil {
			return err
		}
		if v > 0 {
			return fmt.Errorf("the collector's %s is %.0f", m, v)
		}
	}
	return nil
}

// TraceCheck is the judgement of one transfer's kept trace.
type TraceCheck struct {
	Kept    bool   // the collector exported spans of the trace
	Whole   bool   // it holds spans of every node it crossed
	Missing string // which node's spans are missing, when not whole
}

// byTrace indexes the sink's spans by trace id, once: asking the sink trace
// by trace scans every span each time.
func byTrace(sink *otlpsink.Sink) map[pcommon.TraceID][]otlpsink.Span {
	out := map[pcommon.TraceID][]otlpsink.Span{}
	for _, sp := range sink.Spans() {
		out[sp.TraceID()] = append(out[sp.TraceID()], sp)
	}
	return out
}

// checkTrace judges the kept trace of transfer a: every node the trace
// called into (a client span naming a p2p.peer_id) must have contributed
// spans of its own, and the acknowledging node must be in it.
func checkTrace(traces map[pcommon.TraceID][]otlpsink.Span, a Ack) (TraceCheck, error) {
	raw, err := hex.DecodeString(a.TraceID)
	if err != nil || len(raw) != 16 {
		return TraceCheck{}, fmt.Errorf("trace id %q: not 32 hex digits", a.TraceID)
	}
	spans := traces[pcommon.TraceID(raw)]
	if len(spans) == 0 {
		return TraceCheck{}, nil
	}
	nodes := map[string]bool{}
	for _, s := range spans {
		if id, ok := s.ResourceAttr(semconv.ServiceInstanceIDKey); ok {
			nodes[id] = true
		}
	}
	want := []string{a.Node}
	for _, s := range spans {
		if s.Kind() != ptrace.SpanKindClient {
			continue
		}
		if peer, ok := s.Attr(semconv.PeerIDKey); ok {
			want = append(want, peer)
		}
	}
	for _, id := range want {
		if !nodes[id] {
			return TraceCheck{Kept: true, Missing: id}, nil
		}
	}
	return TraceCheck{Kept: true, Whole: true}, nil
}

// earlierTracesWait bounds how long a row that stops the collector waits for
// the traces acknowledged before it: a node's export batch (1 s), the
// sampler's decision wait and the exporter's batch, with a margin.
const earlierTracesWait = 15 * time.Second

// waitEarlierTraces waits, at most earlierTracesWait, until the trace of
// every transfer acknowledged so far is at the sink. A trace still missing
// at the deadline is left for judgeTraces to count: the wait only keeps a
// collector-stopping fault from cutting the tail of the row before it.
func (s *Suite) waitEarlierTraces(ctx context.Context) {
	e := s.Env
	if !e.Telemetry || e.Sink == nil {
		return
	}
	acks := s.Hist.Acks()
	ctx, cancel := context.WithTimeout(ctx, earlierTracesWait)
	defer cancel()
	_ = testproc.Until(ctx, func() error { // a timeout is the answer, not an error
		traces := byTrace(e.Sink)
		for _, a := range acks {
			if tc, err := checkTrace(traces, a); err != nil || !tc.Kept {
				return fmt.Errorf("trace %s not at the sink yet", a.TraceID)
			}
		}
		return nil
	})
}

// judgeTraces fills each row's Traces column: whole traces out of the kept
// ones, among the transfers acknowledged in the row's window. Rows whose
// fault stopped the collector are not judged (spans made while it was down
// may be lost by design); neither is anything when no node exported a span.
// A trace missing only the spans of a node that died in the row, or that
// counted spans it dropped before export during the row, is counted apart:
// it was cut at its source, which the nodes' dropped-span counters report.
func (s *Suite) judgeTraces(acks []Ack) ([]string, error) {
	sink := s.Env.Sink
	if sink == nil {
		for _, r := range s.Rows {
			r.Traces = "not run"
		}
		return nil, nil
	}
	if len(sink.Spans()) == 0 {
		for _, r := range s.Rows {
			r.Traces = "no spans"
		}
		return nil, nil
	}
	traces := byTrace(sink)
	var split []string
	for _, r := range s.Rows {
		if r.CollectorDown {
			r.Traces = "n/a (collector down)"
			continue
		}
		kept, whole, died := 0, 0, 0
		for _, a := range acks {
			if a.Return < r.Inject || a.Return > r.Settled {
				continue
			}
			tc, err := checkTrace(traces, a)
			if err != nil {
				return nil, err
			}
			if tc.Kept {
				kept++
			}
			switch {
			case tc.Whole:
				whole++
			case !tc.Kept:
			case contains(r.Died, tc.Missing), contains(r.Dropped, tc.Missing):
				// A killed or crashed node loses the spans it had not
				// exported yet, and a node whose export queue overflowed
				// dropped some (it counts them): that trace was cut at its
				// source, not split on the way.
				died++
				kept--
			default:
				if len(split) < 5 {
					split = append(split, fmt.Sprintf("%s (tx %s via %s): no spans of %s", a.TraceID, a.Hash, a.Node, tc.Missing))
				}
			}
		}
		r.Traces = fmt.Sprintf("%d/%d whole", whole, kept)
		if died > 0 {
			r.Traces += fmt.Sprintf(", %d cut at %s", died, strings.Join(append(append([]string(nil), r.Died...), r.Dropped...), ","))
		}
		if missing := r.Acked - kept - died; missing > 0 {
			r.Traces += fmt.Sprintf(", %d not received", missing)
		}
	}
	return split, nil
}

// collectorLosses says what the current collector (since its last start)
// dropped on the way: spans its sampler dropped (decided or late), traces it
// decided early because a bound was reached, and spans its exporters failed
// to queue or send.
func (e *Env) collectorLosses(ctx context.Context) (string, error) {
	type metric struct {
		label, name string
		labels      map[string]string
	}
	metrics := []metric{
		{"sampler dropped", "otelcol_processor_chainsampling_spans_decided", map[string]string{"outcome": "dropped"}},
		{"late spans dropped", "otelcol_processor_chainsampling_late_spans", map[string]string{"outcome": "dropped"}},
		{"traces decided early", "otelcol_processor_chainsampling_traces_decided_early", nil},
		{"export queue full", "otelcol_exporter_enqueue_failed_spans", nil},
		{"export failed", "otelcol_exporter_send_failed_spans", nil},
	}
	var parts []string
	for _, m := range metrics {
		v, err := e.Collector.Metric(ctx, m.name, m.labels)
		if errors.Is(err, collectorproc.ErrNoMetric) {
			v, err = 0, nil // never recorded: none
		}
		if err != nil {
			return "", err
		}
		parts = append(parts, fmt.Sprintf("%s %.0f", m.label, v))
	}
	return strings.Join(parts, ", "), nil
}
