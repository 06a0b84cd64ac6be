package match

// Any matches when at least one of its matchers does.
type Any []Matcher

var _ Matcher = Any(nil)

// Match implements Matcher.
func (m Any) Match(s *Summary, env Env) bool {
	for _, sub := range m {
		if sub.Match(s, env) {
			return true
		}
	}
	return false
}
