// Package match holds the matchers of a sampling policy and the per-trace
// summary they read.
//
// Matchers never see spans: the engine folds every span into a Summary once,
// at ingest, and a matcher answers from that summary alone. A matcher
// therefore holds for a trace when ANY of the trace's spans satisfies it;
// All holds when each of its parts holds, possibly on different spans.
package match

// Matcher decides whether a trace, seen through its summary, matches.
// Match is called with the engine's lock held and must not block or keep s.
type Matcher interface {
	Match(s *Summary, env Env) bool
}

// Env is the state outside the trace that some matchers read.
type Env struct {
	// Head is the highest chain.block.height seen by the processor so far:
	// the chain head of a within_head rule for a trace whose spans carry no
	// chain.head.height (Summary.Head).
	Head int64
}

// Everything matches every trace: it is the match of the final default rule.
type Everything struct{}

var _ Matcher = Everything{}

// Match implements Matcher.
func (Everything) Match(*Summary, Env) bool { return true }
