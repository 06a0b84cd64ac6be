// Package redact removes secrets and masks personal data in pdata attribute
// maps and values, counting what it did without ever recording the values.
package redact

import (
	"fmt"
	"regexp"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// KindSecretKey is the count kind of an attribute dropped because its key
// names a secret. Masked values count as PatternKind(name).
const KindSecretKey = "secret_key"

// PatternKind is the count kind of a value masked by the named pattern.
func PatternKind(name string) string { return "pattern:" + name }

// Pattern is one value pattern to mask.
type Pattern struct {
	// Name identifies the pattern in counts and in the default replacement.
	Name string
	// Regex finds the values to mask inside strings.
	Regex string
	// Luhn masks a match only when its digits pass the Luhn checksum, so
	// card-like numbers that are not card numbers (ids, heights) survive.
	Luhn bool
	// Replacement replaces each match; empty means "[REDACTED:<name>]".
	Replacement string
}

// Counts is how many redactions were made, by kind. Not safe for concurrent
// use: each batch gets its own.
type Counts map[string]int64

type compiled struct {
	kind        string
	re          *regexp.Regexp
	luhn        bool
	replacement string
}

// Redactor drops attributes whose keys name secrets and masks string values
// that match patterns, recursively through maps and slices. It is immutable
// after New and safe for concurrent use.
type Redactor struct {
	secrets  []string
	patterns []compiled
}

// New compiles secrets and patterns. Secret keys match case-insensitively,
// ignoring separators ('.', '_', '-', ' '), anywhere inside an attribute key:
// "authorization" drops "http.request.header.authorization", "api_key"
// drops "X-Api-Key" and "apiKey".
func New(secretKeys []string, patterns []Pattern) (*Redactor, error) {
	r := &Redactor{}
	for i, s := range secretKeys {
		n := normalizeKey(s)
		if n == "" {
			return nil, fmt.Errorf("secret_keys[%d] %q: %w", i, s, ErrEmptySecret)
		}
		r.secrets = append(r.secrets, n)
	}
	for i, p := range patterns {
		if p.Name == "" {
			return nil, fmt.Errorf("patterns[%d].name: must not be empty", i)
		}
		if p.Regex == "" {
			return nil, fmt.Errorf("patterns[%d].regex: must not be empty (pattern %q)", i, p.Name)
		}
		re, err := regexp.Compile(p.Regex)
		if err != nil {
			return nil, fmt.Errorf("patterns[%d].regex: pattern %q: %w", i, p.Name, err)
		}
		if re.MatchString("") {
			return nil, fmt.Errorf("patterns[%d].regex: pattern %q matches the empty string", i, p.Name)
		}
		repl := p.Replacement
		if repl == "" {
			repl = "[REDACTED:" + p.Name + "]"
		}
		r.patterns = append(r.patterns, compiled{kind: PatternKind(p.Name), re: re, luhn: p.Luhn, replacement: repl})
	}
	return r, nil
}

func normalizeKey(k string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '.', '_', '-', ' ':
			return -1
		}
		return r
	}, strings.ToLower(k))
}

// IsSecretKey reports whether an attribute named key must be dropped.
func (r *Redactor) IsSecretKey(key string) bool {
	if len(r.secrets) == 0 {
		return false
	}
	n := normalizeKey(key)
	for _, s := range r.secrets {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
}

// Map drops secret keys from m (at every depth) and masks its string values.
func (r *Redactor) Map(m pcommon.Map, c Counts) {
	m.RemoveIf(func(k string, v pcommon.Value) bool {
		if r.IsSecretKey(k) {
			c[KindSecretKey]++
			return true
		}
		r.Value(v, c)
		return false
	})
}

// Value masks v in place: a string is masked, a map is redacted as by Map,
// a slice element by element. Other types are left alone.
func (r *Redactor) Value(v pcommon.Value, c Counts) {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		if s, changed := r.String(v.Str(), c); changed {
			v.SetStr(s)
		}
	case pcommon.ValueTypeMap:
		r.Map(v.Map(), c)
	case pcommon.ValueTypeSlice:
		sl := v.Slice()
		for i := 0; i < sl.Len(); i++ {
			r.Value(sl.At(i), c)
		}
	}
}

// String returns s with every pattern match replaced, and whether it changed.
func (r *Redactor) String(s string, c Counts) (string, bool) {
	changed := false
	for _, p := range r.patterns {
		s = p.re.ReplaceAllStringFunc(s, func(match string) string {
			if p.luhn && !luhnValid(match) {
				return match
			}
			c[p.kind]++
			changed = true
			return p.replacement
		})
	}
	return s, changed
}

// luhnValid reports whether the digits of s (other characters ignored) form
// a number of 12 to 19 digits that passes the Luhn checksum.
func luhnValid(s string) bool {
	sum, n := 0, 0
	for i := len(s) - 1; i >= 0; i-- {
		ch := s[i]
		if ch < '0' || ch > '9' {
			continue
		}
		d := int(ch - '0')
		if n%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		n++
	}
	return n >= 12 && n <= 19 && sum%10 == 0
}
