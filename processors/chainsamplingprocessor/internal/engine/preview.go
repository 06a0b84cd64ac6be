package engine

import (
	"fmt"
	"reflect"
	"slices"

	"github.com/chainotel/chainotel/processors/chainsamplingprocessor/internal/match"
	"github.com/chainotel/chainotel/processors/chainsamplingprocessor/internal/policy"
	"github.com/chainotel/chainotel/processors/chainsamplingprocessor/preview"
)

// Evaluate says what pol would keep of the recent traces: per rule, the sum
// of the keep probabilities of the traces it decides first (capped by its
// rate_limit), and per trigger, the traces the live trigger's windows kept
// when pol has the same trigger. live is the policy in force, whose
// triggers opened those windows. Load shedding (max_spans_per_second) is
// not applied: the figures are what the policy asks for.
func Evaluate(recent []Recent, pol, live *policy.Policy) preview.Report {
	rep := preview.Report{File: pol.File, Traces: len(recent), Rules: make([]preview.Rule, len(pol.Rules)), Triggers: make([]preview.Trigger, len(pol.Triggers))}
	for i, r := range pol.Rules {
		rep.Rules[i] = preview.Rule{Name: r.Name, Keep: r.Keep}
	}
	replayed := map[string]int{}
	for i, tr := range pol.Triggers {
		rep.Triggers[i].Name = tr.Name
		for _, l := range live.Triggers {
			if sameTrigger(tr, l) {
				rep.Triggers[i].Replayed = true
				replayed[tr.Name] = i
			}
		}
	}
	layouts := map[*match.Keys]*relayout{}
	unrecorded := map[string]bool{}
	for i := range recent {
		x := &recent[i]
		rep.Spans += int64(x.Spans)
		if x.Trigger != "" {
			if j, ok := replayed[x.Trigger]; ok {
				rep.Triggers[j].KeptTraces++
				rep.Triggers[j].KeptSpans += float64(x.Spans)
				continue
			}
		}
		rl := layouts[x.Keys]
		if rl == nil {
			rl = newRelayout(x.Keys, &pol.Keys, unrecorded)
			layouts[x.Keys] = rl
		}
		sum := rl.apply(&x.Sum)
		r := &rep.Rules[pol.First(sum, match.Env{Head: x.Head})]
		r.Matched++
		r.KeptTraces += r.Keep
		r.KeptSpans += r.Keep * float64(x.Spans)
	}
	if n := len(recent); n > 1 {
		rep.WindowSeconds = float64(recent[n-1].At-recent[0].At) / 1e9
	}
	perSecond := func(v float64) float64 {
		if rep.WindowSeconds <= 0 {
			return 0
		}
		return v / rep.WindowSeconds
	}
	for i := range rep.Rules {
		r := &rep.Rules[i]
		if limit := pol.Rules[i].RateLimit; limit > 0 && rep.WindowSeconds > 0 && r.KeptTraces > limit*rep.WindowSeconds {
			f := limit * rep.WindowSeconds / r.KeptTraces
			r.KeptTraces, r.KeptSpans, r.RateLimited = r.KeptTraces*f, r.KeptSpans*f, true
		}
		r.TracesPerSecond, r.SpansPerSecond = perSecond(r.KeptTraces), perSecond(r.KeptSpans)
		rep.KeptTraces += r.KeptTraces
		rep.KeptSpans += r.KeptSpans
	}
	for i := range rep.Triggers {
		tr := &rep.Triggers[i]
		tr.TracesPerSecond, tr.SpansPerSecond = perSecond(tr.KeptTraces), perSecond(tr.KeptSpans)
		rep.KeptTraces += tr.KeptTraces
		rep.KeptSpans += tr.KeptSpans
	}
	rep.TracesPerSecond, rep.SpansPerSecond = perSecond(rep.KeptTraces), perSecond(rep.KeptSpans)
	for f := range unrecorded {
		rep.Unrecorded = append(rep.Unrecorded, f)
	}
	slices.Sort(rep.Unrecorded)
	return rep
}

// sameTrigger is true when a and b open the same windows (where they sit
// in the file aside).
func sameTrigger(a, b policy.Trigger) bool {
	a.Line, b.Line = 0, 0
	return reflect.DeepEqual(a, b)
}

// relayout moves a summary from the layout it was recorded in to the one a
// policy reads; the facts the recorded layout lacks stay empty.
type relayout struct {
	same      bool
	names     bool
	span, res []int // for each slot read, the recorded slot or -1
	out       match.Summary
}

func newRelayout(from, to *match.Keys, unrecorded map[string]bool) *relayout {
	rl := &relayout{same: from.Equal(*to), names: to.Names && from.Names}
	if rl.same {
		return rl
	}
	if to.Names && !from.Names {
		unrecorded["span names"] = true
	}
	slot := func(have []string, key, what string) int {
		if i := slices.Index(have, key); i >= 0 {
			return i
		}
		unrecorded[fmt.Sprintf("%s %s", what, key)] = true
		return -1
	}
	for _, k := range to.Span {
		rl.span = append(rl.span, slot(from.Span, k, "span attribute"))
	}
	for _, k := range to.Resource {
		rl.res = append(rl.res, slot(from.Resource, k, "resource attribute"))
	}
	return rl
}

// apply returns s in the target layout. The result is valid until the next
// call.
func (rl *relayout) apply(s *match.Summary) *match.Summary {
	if rl.same {
		return s
	}
	out := &rl.out
	*out = match.Summary{Start: s.Start, End: s.End, Error: s.Error, RootEnded: s.RootEnded, Span: out.Span[:0], Resource: out.Resource[:0]}
	if rl.names {
		out.Names = s.Names
	}
	for _, from := range rl.span {
		var v []match.Value
		if from >= 0 && from < len(s.Span) {
			v = s.Span[from]
		}
		out.Span = append(out.Span, v)
	}
	for _, from := range rl.res {
		var v []match.Value
		if from >= 0 && from < len(s.Resource) {
			v = s.Resource[from]
		}
		out.Resource = append(out.Resource, v)
	}
	return out
}
