package stack

import (
	"testing"

	"github.com/getsentry/sentry-go"
	"github.com/stretchr/testify/assert"
)

func TestParseGoUnrecoveredPanic(t *testing.T) {
	text := `panic: assignment to entry in nil map

goroutine 1 [running]:
main.(*store).put(...)
	/app/store.go:12
main.main()
	/app/main.go:30 +0x1d
exit status 2`
	assert.Equal(t, []sentry.Frame{
		{Function: "main", Module: "main", AbsPath: "/app/main.go", Filename: "main.go", Lineno: 30, InApp: true},
		{Function: "(*store).put", Module: "main", AbsPath: "/app/store.go", Filename: "store.go", Lineno: 12, InApp: true},
	}, ParseGo(text))
}

func TestParseGoNotAGoStack(t *testing.T) {
	assert.Empty(t, ParseGo("java.lang.IllegalStateException: boom\n\tat com.example.Foo.bar(Foo.java:10)"))
	assert.Empty(t, ParseGo(""))
}
