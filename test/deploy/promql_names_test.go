package deploy

import (
	"fmt"
	"sort"
	"strings"
)

// promqlWords are PromQL's keywords and aggregation operators: identifiers
// that are not metric names when they are not followed by "(".
var promqlWords = map[string]bool{
	"and": true, "or": true, "unless": true, "bool": true, "offset": true, "by": true, "without": true,
	"on": true, "ignoring": true, "group_left": true, "group_right": true, "inf": true, "nan": true,
	"sum": true, "min": true, "max": true, "avg": true, "group": true, "stddev": true, "stdvar": true,
	"count": true, "count_values": true, "bottomk": true, "topk": true, "quantile": true,
	"limitk": true, "limit_ratio": true, "atan2": true,
}

// labelListWords take a parenthesised list of label names: by (le, route).
var labelListWords = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
}

// metricNames returns the metric names a PromQL expression (as Grafana
// stores it, with $variables) selects, sorted and unique: the identifiers
// that are not functions, keywords, label names or numbers, and the
// __name__ of selectors that give one. Strings, label matchers, ranges and
// Grafana variables are skipped. It fails on unbalanced brackets or an
// unterminated string, so a typo does not pass for an empty query.
func metricNames(expr string) ([]string, error) {
	names := map[string]bool{}
	var stack []byte
	s := expr
	i := 0
	skipSpace := func(j int) int {
		for j < len(s) && strings.ContainsRune(" \t\r\n", rune(s[j])) {
			j++
		}
		return j
	}
	for i < len(s) {
		c := s[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			end, err := skipString(s, i)
			if err != nil {
				return nil, err
			}
			i = end
		case c == '$': // a Grafana variable: $name, ${name} or ${name:format}
			i++
			if i < len(s) && s[i] == '{' {
				end := strings.IndexByte(s[i:], '}')
				if end < 0 {
					return nil, fmt.Errorf("unterminated ${ at byte %d", i)
				}
				i += end + 1
				continue
			}
			for i < len(s) && isIdentByte(s[i], false) {
				i++
			}
		case c == '{':
			end, name, err := skipMatchers(s, i)
			if err != nil {
				return nil, err
			}
			if name != "" {
				names[name] = true
			}
			i = end
		case c == '[':
			end := strings.IndexByte(s[i:], ']')
			if end < 0 {
				return nil, fmt.Errorf("unterminated [ at byte %d", i)
			}
			i += end + 1
		case c == '(':
			stack = append(stack, ')')
			i++
		case c == ')':
			if len(stack) == 0 {
				return nil, fmt.Errorf("unbalanced ) at byte %d", i)
			}
			stack = stack[:len(stack)-1]
			i++
		case c >= '0' && c <= '9' || c == '.':
			// a number or a duration: 0.99, 2e3, 0x1F, 5m, 1h30m
			for i < len(s) && (isIdentByte(s[i], false) || s[i] == '.') {
				i++
			}
		case isIdentByte(c, true):
			j := i
			for j < len(s) && isIdentByte(s[j], false) {
				j++
			}
			word := s[i:j]
			next := skipSpace(j)
			switch {
			case labelListWords[word] && next < len(s) && s[next] == '(':
				end := strings.IndexByte(s[next:], ')')
				if end < 0 {
					return nil, fmt.Errorf("unterminated label list after %s at byte %d", word, next)
				}
				j = next + end + 1
			case next < len(s) && s[next] == '(':
				// a function or an aggregation: its "(" is read next
			case promqlWords[word]:
			default:
				names[word] = true
			}
			i = j
		default:
			i++
		}
	}
	if len(stack) > 0 {
		return nil, fmt.Errorf("%d unclosed ( in %q", len(stack), expr)
	}
	var out []string
	for n := range names {
		out = append(out, n)
	}
	sort.Strings(out)
	return out, nil
}

func isIdentByte(c byte, first bool) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_', c == ':':
		return true
	case c >= '0' && c <= '9':
		return !first
	}
	return false
}

// skipString returns the index after the string literal starting at i.
func skipString(s string, i int) (int, error) {
	q := s[i]
	for j := i + 1; j < len(s); j++ {
		switch {
		case s[j] == '\\' && q != '`':
			j++
		case s[j] == q:
			return j + 1, nil
		}
	}
	return 0, fmt.Errorf("unterminated string at byte %d", i)
}

// skipMatchers returns the index after the label matchers starting at i, and
// the metric name when one of them is __name__="name".
func skipMatchers(s string, i int) (int, string, error) {
	name := ""
	j := i + 1
	for j < len(s) {
		switch c := s[j]; {
		case c == '}':
			return j + 1, name, nil
		case c == '"' || c == '\'' || c == '`':
			end, err := skipString(s, j)
			if err != nil {
				return 0, "", err
			}
			j = end
		case strings.HasPrefix(s[j:], "__name__"):
			k := j + len("__name__")
			for k < len(s) && s[k] == ' ' {
				k++
			}
			if k < len(s) && s[k] == '=' && (k+1 >= len(s) || s[k+1] != '~') {
				k++
				for k < len(s) && s[k] == ' ' {
					k++
				}
				if k < len(s) && (s[k] == '"' || s[k] == '\'') {
					end, err := skipString(s, k)
					if err != nil {
						return 0, "", err
					}
					name = s[k+1 : end-1]
					j = end
					continue
				}
			}
			j = k
		default:
			j++
		}
	}
	return 0, "", fmt.Errorf("unterminated { at byte %d", i)
}
