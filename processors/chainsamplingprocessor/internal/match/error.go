package match

// Error matches traces by whether some span has status Error
// (`error: true`), or by whether none has (`error: false`).
type Error struct {
	Want bool
}

var _ Matcher = Error{}

// Match implements Matcher.
func (m Error) Match(s *Summary, _ Env) bool { return s.Error == m.Want }
