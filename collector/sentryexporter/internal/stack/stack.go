// Package stack parses exception.stacktrace text into Sentry stack frames.
package stack

import (
	"strconv"
	"strings"

	"github.com/getsentry/sentry-go"
)

// ParseGo parses the stack of the first goroutine in a Go stack dump (the
// text of runtime/debug.Stack or of an unrecovered panic) into Sentry frames,
// oldest call first as Sentry wants them. It returns nil when the text holds
// no Go frames.
//
//	goroutine 7 [running]:
//	main.(*node).apply(0xc000010000, {0x1, 0x2})
//		/src/node/apply.go:42 +0x1d
//	created by main.start in goroutine 1
//		/src/node/main.go:20 +0x30
func ParseGo(text string) []sentry.Frame {
	var frames []sentry.Frame
	var fn string
	seenGoroutine := false
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimRight(line, "\r")
		switch {
		case strings.HasPrefix(line, "goroutine ") && strings.HasSuffix(line, ":"):
			if seenGoroutine {
				// Only the first goroutine is the one that failed.
				return reverse(frames)
			}
			seenGoroutine = true
			fn = ""
		case strings.HasPrefix(line, "\t") && fn != "":
			file, lineno, ok := parseLocation(strings.TrimPrefix(line, "\t"))
			if ok {
				frames = append(frames, newFrame(fn, file, lineno))
			}
			fn = ""
		case line == "" || strings.HasPrefix(line, "panic: ") || strings.HasPrefix(line, "fatal error: "):
			fn = ""
		case strings.HasPrefix(line, "created by "):
			fn = strings.TrimPrefix(line, "created by ")
			if i := strings.Index(fn, " in goroutine "); i >= 0 {
				fn = fn[:i]
			}
		default:
			fn = stripArgs(line)
		}
	}
	return reverse(frames)
}

// parseLocation parses "/src/file.go:42 +0x1d" (the offset is optional).
func parseLocation(s string) (string, int, bool) {
	if i := strings.LastIndex(s, " +0x"); i >= 0 {
		s = s[:i]
	}
	i := strings.LastIndex(s, ":")
	if i <= 0 {
		return "", 0, false
	}
	n, err := strconv.Atoi(s[i+1:])
	if err != nil {
		return "", 0, false
	}
	return s[:i], n, true
}

// stripArgs turns "pkg.(*T).m(0x1, {0x2})" into "pkg.(*T).m".
func stripArgs(s string) string {
	s = strings.TrimSpace(s)
	if !strings.HasSuffix(s, ")") {
		return s
	}
	depth := 0
	for i := len(s) - 1; i >= 0; i-- {
		switch s[i] {
		case ')':
			depth++
		case '(':
			depth--
			if depth == 0 {
				return s[:i]
			}
		}
	}
	return s
}

// newFrame splits "github.com/x/y/pkg.(*T).m" into module
// "github.com/x/y/pkg" and function "(*T).m".
func newFrame(fn, file string, line int) sentry.Frame {
	module, function := "", fn
	slash := strings.LastIndex(fn, "/")
	if dot := strings.Index(fn[slash+1:], "."); dot >= 0 {
		module, function = fn[:slash+1+dot], fn[slash+1+dot+1:]
	}
	return sentry.Frame{
		Function: function,
		Module:   module,
		AbsPath:  file,
		Filename: file[strings.LastIndex(file, "/")+1:],
		Lineno:   line,
		InApp:    inApp(module),
	}
}

// inApp: the program's own code, as opposed to the Go runtime and standard
// library (whose import paths have no dot in their first element).
func inApp(module string) bool {
	if module == "main" || strings.HasPrefix(module, "main.") {
		return true
	}
	first, _, _ := strings.Cut(module, "/")
	return strings.Contains(first, ".")
}

func reverse(fs []sentry.Frame) []sentry.Frame {
	for i, j := 0, len(fs)-1; i < j; i, j = i+1, j-1 {
		fs[i], fs[j] = fs[j], fs[i]
	}
	return fs
}
