package match

// SpanName matches traces with a span whose name passes Test
// (`span_name: consensus.commit` or `span_name: {regex: "^sync\\."}`).
type SpanName struct {
	Test ValueTest
}

var _ Matcher = (*SpanName)(nil)

// Match implements Matcher.
func (m *SpanName) Match(s *Summary, _ Env) bool {
	for _, n := range s.Names {
		if m.Test.TestString(n) {
			return true
		}
	}
	return false
}
