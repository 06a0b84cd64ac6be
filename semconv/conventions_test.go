package semconv

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var (
	backticked = regexp.MustCompile("`([^`]+)`")
	// keyLike is what an attribute key or span name looks like: dotted, lowercase.
	keyLike = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$`)
)

// constValues returns the string constants declared in this package's
// non-test Go files.
func constValues(t *testing.T) map[string]bool {
	t.Helper()
	fset := token.NewFileSet()
	out := map[string]bool{}
	for _, f := range []string{"semconv.go", "spans.go"} {
		file, err := parser.ParseFile(fset, f, nil, 0)
		require.NoError(t, err)
		ast.Inspect(file, func(n ast.Node) bool {
			gd, ok := n.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				return true
			}
			for _, spec := range gd.Specs {
				for _, v := range spec.(*ast.ValueSpec).Values {
					if lit, ok := v.(*ast.BasicLit); ok && lit.Kind == token.STRING {
						s, err := strconv.Unquote(lit.Value)
						require.NoError(t, err)
						out[s] = true
					}
				}
			}
			return true
		})
	}
	return out
}

// tableRows returns the cells of every table row of CONVENTIONS.md under
// the heading "## <section>", header and separator rows left out.
func tableRows(t *testing.T, doc, section string) [][]string {
	t.Helper()
	var rows [][]string
	in, header := false, false
	for line := range strings.Lines(doc) {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "## ") {
			in, header = strings.TrimPrefix(line, "## ") == section, true
			continue
		}
		if !in || !strings.HasPrefix(line, "|") {
			continue
		}
		if header || strings.HasPrefix(line, "|---") {
			header = false
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), " | ")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		rows = append(rows, cells)
	}
	require.NotEmpty(t, rows, "no table under ## %s in CONVENTIONS.md", section)
	return rows
}

// keysIn returns the attribute keys named in a table cell: backticked,
// dotted tokens, the part before "=" of `key=value`.
func keysIn(cell string, names map[string]bool) []string {
	var keys []string
	for _, m := range backticked.FindAllStringSubmatch(cell, -1) {
		k, _, _ := strings.Cut(m[1], "=")
		if keyLike.MatchString(k) && !slices.Contains(keys, k) && !names[k] {
			keys = append(keys, k)
		}
	}
	return keys
}

func readDoc(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("CONVENTIONS.md")
	require.NoError(t, err)
	return string(b)
}

// Every string constant is in the document, and every key the document's
// tables name is a constant.
func TestConventionsDocumentNamesTheConstants(t *testing.T) {
	doc := readDoc(t)
	consts := constValues(t)
	inDoc := map[string]bool{}
	for _, m := range backticked.FindAllStringSubmatch(doc, -1) {
		k, v, _ := strings.Cut(m[1], "=")
		inDoc[k], inDoc[v] = true, true
		for part := range strings.FieldsFuncSeq(m[1], func(r rune) bool { return r == ' ' || r == ':' }) {
			inDoc[part] = true
		}
	}
	for c := range consts {
		require.True(t, inDoc[c], "constant %q is not in CONVENTIONS.md", c)
	}
	for line := range strings.Lines(doc) {
		if !strings.HasPrefix(line, "|") {
			continue
		}
		for _, m := range backticked.FindAllStringSubmatch(line, -1) {
			k, _, _ := strings.Cut(m[1], "=")
			if keyLike.MatchString(k) {
				require.True(t, consts[k], "CONVENTIONS.md names %q, which is no constant in semconv: %s", k, line)
			}
		}
	}
}

// The span table of the document and semconv.Spans say the same: the same
// spans, each with the same attributes and parent.
func TestSpanTableIsSpans(t *testing.T) {
	doc := readDoc(t)
	names := map[string]bool{}
	for _, s := range Spans {
		names[s.Name] = true
	}
	seen := map[string]bool{}
	for _, row := range tableRows(t, doc, "Spans") {
		require.Len(t, row, 3, "span table row %v", row)
		if strings.HasPrefix(row[0], "P2P") {
			continue // named by otelgrpc
		}
		m := backticked.FindStringSubmatch(row[0])
		require.NotNil(t, m, "span table row without a span name: %v", row)
		conv, ok := SpanConventionOf(m[1])
		if !ok {
			// The HTTP server spans, named by their route.
			require.Equal(t, "POST /tx", m[1], "span %q is not in semconv.Spans", m[1])
			continue
		}
		seen[conv.Name] = true
		want := append(slices.Clone(conv.Always), conv.Sometimes...)
		if conv.Exception {
			want = append(want, ExceptionTypeKey, ExceptionMessageKey, ExceptionStacktraceKey)
		}
		require.ElementsMatch(t, want, keysIn(row[2], names), "attributes of %s: CONVENTIONS.md against semconv.Spans", conv.Name)
		parent := ""
		if _, after, ok := strings.Cut(row[0], "(child of `"); ok {
			parent, _, _ = strings.Cut(after, "`")
		}
		require.Equal(t, conv.Parent, parent, "parent of %s", conv.Name)
	}
	for _, s := range Spans {
		require.True(t, seen[s.Name], "semconv.Spans has %s, CONVENTIONS.md's span table does not", s.Name)
	}
}

// No attribute is both always and sometimes there, nor named twice.
func TestSpansAreWellFormed(t *testing.T) {
	names := map[string]bool{}
	for _, s := range Spans {
		require.False(t, names[s.Name], "%s twice in Spans", s.Name)
		names[s.Name] = true
		all := append(slices.Clone(s.Always), s.Sometimes...)
		slices.Sort(all)
		require.Len(t, slices.Compact(all), len(s.Always)+len(s.Sometimes), "%s names an attribute twice", s.Name)
	}
	for _, s := range Spans {
		require.True(t, s.Parent == "" || names[s.Parent], "%s's parent %s is not in Spans", s.Name, s.Parent)
	}
}
