package match

import "regexp"

// ValueTest is a test on one recorded value: equality, membership, a regular
// expression or a numeric range. Exactly one form is set by the parser.
type ValueTest struct {
	// OneOf holds the accepted values (equals is a OneOf of one).
	OneOf []Value
	// Regex, when set, must match the value's string form.
	Regex *regexp.Regexp
	// Min and Max bound a numeric value, inclusive, when HasRange.
	Min, Max float64
	// HasRange is true when the test is a numeric range.
	HasRange bool
	// Exists accepts any value: the key only has to be present.
	Exists bool
}

// Test reports whether v passes.
func (t *ValueTest) Test(v Value) bool {
	switch {
	case t.Exists:
		return true
	case t.Regex != nil:
		return v.Kind == KindStr && t.Regex.MatchString(v.Str)
	case t.HasRange:
		return v.Kind == KindNum && v.Num >= t.Min && v.Num <= t.Max
	default:
		for _, want := range t.OneOf {
			if want == v {
				return true
			}
		}
		return false
	}
}

// TestAny reports whether any of vals passes.
func (t *ValueTest) TestAny(vals []Value) bool {
	for _, v := range vals {
		if t.Test(v) {
			return true
		}
	}
	return false
}

// TestString reports whether the string s passes (for span names).
func (t *ValueTest) TestString(s string) bool {
	return t.Test(Value{Str: s, Kind: KindStr})
}
