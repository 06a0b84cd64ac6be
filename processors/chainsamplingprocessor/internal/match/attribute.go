package match

// Attribute matches traces with a span whose attribute in summary slot Slot
// passes Test. The named shortcuts (tx_type, http_route) and the
// general `attribute: {key: ...}` all compile to it.
type Attribute struct {
	Key  string // for messages; the summary is read by Slot
	Slot int
	Test ValueTest
}

var _ Matcher = (*Attribute)(nil)

// Match implements Matcher.
func (m *Attribute) Match(s *Summary, _ Env) bool {
	if m.Slot >= len(s.Span) {
		return false
	}
	return m.Test.TestAny(s.Span[m.Slot])
}
