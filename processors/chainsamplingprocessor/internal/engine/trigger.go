package engine

import (
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/chainotel/chainotel/processors/chainsamplingprocessor/internal/match"
	"github.com/chainotel/chainotel/processors/chainsamplingprocessor/internal/policy"
	"github.com/chainotel/chainotel/semconv"
)

// maxTraceNodes bounds the nodes recorded per trace for node-scoped
// triggers; a transaction's trace crosses every validator, a handful.
const maxTraceNodes = 16

// window is one open (or recently closed) trigger window.
type window struct {
	trigger     string                   // the trigger's name
	node        string                   // the node it covers; "" for the whole chain
	open, close int64                    // Unix nanoseconds
	announced   bool                     // its close was logged
	keptOpt     metric.MeasurementOption // trigger=<name>
	decided     decidedAttrs             // rule=trigger:<name>, outcome=kept
}

// height follows the highest chain.block.height of a node or of the chain.
type height struct {
	h        int64
	advanced int64           // when h last grew, Unix nanoseconds
	stalled  map[string]bool // stall triggers already fired since then
}

// triggers is the engine's view of the policy's triggers: which windows are
// open and the chain state the events are read from. Guarded by the
// engine's lock.
type triggers struct {
	list      []policy.Trigger
	needNodes bool // some trigger is scoped to a node
	windows   []*window
	nodes     map[string]*height
	chain     height
	term      int64 // highest consensus.term seen
	log       *zap.Logger
	byName    map[string]metric.MeasurementOption
}

func newTriggers(log *zap.Logger) *triggers {
	return &triggers{nodes: map[string]*height{}, log: log}
}

// install puts the triggers of a new policy in force. Windows of triggers
// that keep their name stay open; the chain state is kept.
func (ts *triggers) install(list []policy.Trigger) {
	ts.list = list
	ts.needNodes = false
	ts.byName = make(map[string]metric.MeasurementOption, len(list))
	for _, t := range list {
		ts.needNodes = ts.needNodes || t.Scope == policy.ScopeNode
		ts.byName[t.Name] = metric.WithAttributeSet(attribute.NewSet(attribute.String(attrTrigger, t.Name)))
	}
	kept := ts.windows[:0]
	for _, w := range ts.windows {
		if _, ok := ts.byName[w.trigger]; ok {
			kept = append(kept, w)
		}
	}
	ts.windows = kept
}

func (ts *triggers) enabled() bool { return len(ts.list) > 0 }

// observedKeys are the span attributes observe reads, in the order of its
// switch.
var observedKeys = []string{semconv.ErrorTypeKey, semconv.ConsensusTermKey, semconv.PoWReorgDepthKey, semconv.BlockHeightKey}

// observe reads one span for trigger events and the chain's progress.
func observe[S match.SpanView](ts *triggers, node string, span S, now int64) {
	var errType string
	var term, depth, h int64 = -1, -1, -1
	span.RangeAttrs(observedKeys, func(i int, v match.Value, ok bool) {
		if !ok {
			return
		}
		switch i {
		case 0:
			if v.Kind == match.KindStr {
				errType = v.Str
			}
		case 1:
			term = intValue(v)
		case 2:
			depth = intValue(v)
		case 3:
			h = intValue(v)
		}
	})
	if h >= 0 {
		ts.advance(node, h, now)
	}
	name := span.Name()
	leaderChange := name == semconv.SpanConsensusPrevote
	if term > ts.term {
		// The first term seen is where the collector came in, not a change.
		leaderChange = leaderChange || ts.term > 0
		ts.term = term
	}
	for i := range ts.list {
		t := &ts.list[i]
		fired := false
		switch t.Kind {
		case policy.OnLeaderChange:
			fired = leaderChange
		case policy.OnErrorType:
			fired = errType != "" && t.ErrorType.TestString(errType)
		case policy.OnReorg:
			fired = name == semconv.SpanPoWReorg && depth >= t.ReorgDepth
		}
		if fired {
			ts.open(t, node, now, "event", name)
		}
	}
}

// intValue is an int or double attribute as an int64, or -1.
func intValue(v match.Value) int64 {
	if v.Kind == match.KindNum {
		return int64(v.Num)
	}
	return -1
}

func (ts *triggers) advance(node string, h, now int64) {
	grow := func(s *height) {
		if h > s.h || s.advanced == 0 {
			s.h, s.advanced = max(h, s.h), now
			clear(s.stalled)
		}
	}
	grow(&ts.chain)
	if node == "" {
		return
	}
	s := ts.nodes[node]
	if s == nil {
		s = &height{}
		ts.nodes[node] = s
	}
	grow(s)
}

// open opens the window of t for node (ignored for a chain-scoped
// trigger), or keeps an open one open for another t.Window.
func (ts *triggers) open(t *policy.Trigger, node string, now int64, why, what string) {
	if t.Scope == policy.ScopeChain {
		node = ""
	} else if node == "" {
		return // a node-scoped event from a span without service.instance.id
	}
	end := now + t.Window.Nanoseconds()
	for _, w := range ts.windows {
		if w.trigger == t.Name && w.node == node && w.close >= now {
			w.close = max(w.close, end)
			return
		}
	}
	ts.windows = append(ts.windows, &window{trigger: t.Name, node: node, open: now, close: end,
		keptOpt: ts.byName[t.Name], decided: newDecidedAttrs(t.RuleName(), true)})
	ts.log.Info("sampling trigger window opened: every trace of its scope is kept",
		zap.String("trigger", t.Name), zap.String("scope", scopeName(node)),
		zap.String(why, what), zap.Duration("window", t.Window))
}

func scopeName(node string) string {
	if node == "" {
		return "chain"
	}
	return "node " + node
}

// tick opens the windows of stalls, logs the windows that closed and
// forgets those no buffered trace can overlap any more (closed more than
// forget ago). It returns the open windows by trigger.
func (ts *triggers) tick(now int64, forget time.Duration) map[string]int64 {
	for i := range ts.list {
		t := &ts.list[i]
		if t.Kind != policy.OnStall {
			continue
		}
		if t.Scope == policy.ScopeChain {
			ts.checkStall(t, "", &ts.chain, now)
			continue
		}
		for node, s := range ts.nodes {
			ts.checkStall(t, node, s, now)
		}
	}
	open := make(map[string]int64, len(ts.list))
	for _, t := range ts.list {
		open[t.Name] = 0
	}
	kept := ts.windows[:0]
	for _, w := range ts.windows {
		if w.close >= now {
			open[w.trigger]++
		} else if !w.announced {
			w.announced = true
			ts.log.Info("sampling trigger window closed", zap.String("trigger", w.trigger),
				zap.String("scope", scopeName(w.node)), zap.Duration("open_for", time.Duration(w.close-w.open)))
		}
		if w.close >= now-forget.Nanoseconds() {
			kept = append(kept, w)
		}
	}
	ts.windows = kept
	return open
}

func (ts *triggers) checkStall(t *policy.Trigger, node string, s *height, now int64) {
	if s.advanced == 0 || now-s.advanced < t.Stall.Nanoseconds() || s.stalled[t.Name] {
		return
	}
	if s.stalled == nil {
		s.stalled = map[string]bool{}
	}
	s.stalled[t.Name] = true
	ts.open(t, node, now, "stalled_at_height", itoa(s.h))
}

// keptBy returns the window that keeps a trace, if any: one whose scope
// the trace touches and whose time overlaps the trace's time in the buffer,
// from its first span to its decision now. A trace buffered when a window
// opens is therefore kept too: its first spans came before the event.
func (ts *triggers) keptBy(t *trace, now int64) *window {
	for _, w := range ts.windows {
		if w.open > now || w.close < t.first {
			continue
		}
		if w.node == "" || containsString(t.nodes, w.node) {
			return w
		}
	}
	return nil
}

func containsString(list []string, s string) bool {
	for _, have := range list {
		if have == s {
			return true
		}
	}
	return false
}

func itoa(n int64) string {
	return pcommon.NewValueInt(n).AsString()
}
