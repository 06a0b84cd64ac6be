package engine

import "strings"

// maxInterned bounds the interning table; span names and the values of the
// keys a policy mentions are low-cardinality, so this is rarely reached.
const maxInterned = 16384

// interner shares one copy of each span name and attribute value among the
// summaries. It is used with the engine's lock held.
type interner struct {
	m map[string]string
}

func newInterner() *interner { return &interner{m: make(map[string]string)} }

// Intern implements match.Interner. What it returns is its own copy: s may
// point into a batch's wire bytes, valid only while the batch is read.
func (in *interner) Intern(s string) string {
	if c, ok := in.m[s]; ok {
		return c
	}
	c := strings.Clone(s)
	if len(in.m) < maxInterned {
		in.m[c] = c
	}
	return c
}
