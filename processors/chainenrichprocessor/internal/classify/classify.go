// Package classify maps an error (span or log) to a stable error.type
// category with ordered, configurable rules.
package classify

import (
	"fmt"
	"regexp"
	"sort"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// Rule is one classification rule as configured. Every condition given must
// match (they are ANDed); at least one must be given. Conditions are regular
// expressions (RE2), unanchored unless written with ^ and $.
type Rule struct {
	ErrorType     string
	SpanName      string
	ExceptionType string
	Message       string
	Attributes    map[string]string
}

// Subject is the error being classified.
type Subject struct {
	// SpanName is empty for a log record; a rule with a span name condition
	// never matches a log record.
	SpanName      string
	ExceptionType string
	// Message is the exception message, else the span status message or the
	// log body.
	Message string
	// Attributes are looked up first, then Resource.
	Attributes pcommon.Map
	Resource   pcommon.Map
}

type attrCond struct {
	key string
	re  *regexp.Regexp
}

type rule struct {
	errorType     string
	spanName      *regexp.Regexp
	exceptionType *regexp.Regexp
	message       *regexp.Regexp
	attrs         []attrCond
}

// Classifier applies rules in order; the first match wins. It is immutable
// and safe for concurrent use.
type Classifier struct {
	rules    []rule
	fallback string
}

// New compiles rules. fallback is the error.type of an error no rule matches
// (empty: leave it unclassified). Errors name the rule by index and field.
func New(rules []Rule, fallback string) (*Classifier, error) {
	c := &Classifier{fallback: fallback}
	for i, r := range rules {
		if r.ErrorType == "" {
			return nil, fmt.Errorf("rules[%d].error_type: must not be empty", i)
		}
		cr := rule{errorType: r.ErrorType}
		var err error
		if cr.spanName, err = compile(i, "span_name", r.SpanName); err != nil {
			return nil, err
		}
		if cr.exceptionType, err = compile(i, "exception_type", r.ExceptionType); err != nil {
			return nil, err
		}
		if cr.message, err = compile(i, "message", r.Message); err != nil {
			return nil, err
		}
		keys := make([]string, 0, len(r.Attributes))
		for k := range r.Attributes {
			keys = append(keys, k)
		}
		sort.Strings(keys) // stable error messages and evaluation order
		for _, k := range keys {
			re, err := compile(i, "attributes."+k, r.Attributes[k])
			if err != nil {
				return nil, err
			}
			if re == nil {
				return nil, fmt.Errorf("rules[%d].attributes.%s: must not be empty", i, k)
			}
			cr.attrs = append(cr.attrs, attrCond{key: k, re: re})
		}
		if cr.spanName == nil && cr.exceptionType == nil && cr.message == nil && len(cr.attrs) == 0 {
			return nil, fmt.Errorf("rules[%d] (error_type %q): needs at least one of span_name, exception_type, message, attributes", i, r.ErrorType)
		}
		c.rules = append(c.rules, cr)
	}
	return c, nil
}

func compile(i int, field, expr string) (*regexp.Regexp, error) {
	if expr == "" {
		return nil, nil
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, fmt.Errorf("rules[%d].%s: %w", i, field, err)
	}
	return re, nil
}

// Classify returns the error.type of s: the first matching rule's, else the
// fallback.
func (c *Classifier) Classify(s Subject) string {
	for i := range c.rules {
		if c.rules[i].matches(s) {
			return c.rules[i].errorType
		}
	}
	return c.fallback
}

func (r *rule) matches(s Subject) bool {
	if r.spanName != nil && (s.SpanName == "" || !r.spanName.MatchString(s.SpanName)) {
		return false
	}
	if r.exceptionType != nil && !r.exceptionType.MatchString(s.ExceptionType) {
		return false
	}
	if r.message != nil && !r.message.MatchString(s.Message) {
		return false
	}
	for _, a := range r.attrs {
		v, ok := lookup(s, a.key)
		if !ok || !a.re.MatchString(v) {
			return false
		}
	}
	return true
}

func lookup(s Subject, key string) (string, bool) {
	if v, ok := s.Attributes.Get(key); ok {
		return v.AsString(), true
	}
	if v, ok := s.Resource.Get(key); ok {
		return v.AsString(), true
	}
	return "", false
}
