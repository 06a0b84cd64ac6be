package match

// Resource matches traces with a span whose resource attribute in summary
// slot Slot passes Test (`resource: {key: service.instance.id, equals: node0}`).
type Resource struct {
	Key  string // for messages; the summary is read by Slot
	Slot int
	Test ValueTest
}

var _ Matcher = (*Resource)(nil)

// Match implements Matcher.
func (m *Resource) Match(s *Summary, _ Env) bool {
	if m.Slot >= len(s.Resource) {
		return false
	}
	return m.Test.TestAny(s.Resource[m.Slot])
}
