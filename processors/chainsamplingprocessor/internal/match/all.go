package match

// All matches when every one of its matchers does (each possibly on a
// different span of the trace).
type All []Matcher

var _ Matcher = All(nil)

// Match implements Matcher.
func (m All) Match(s *Summary, env Env) bool {
	for _, sub := range m {
		if !sub.Match(s, env) {
			return false
		}
	}
	return true
}
