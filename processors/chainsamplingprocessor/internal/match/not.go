package match

// Not matches when its matcher does not.
type Not struct {
	M Matcher
}

var _ Matcher = Not{}

// Match implements Matcher.
func (m Not) Match(s *Summary, env Env) bool { return !m.M.Match(s, env) }
