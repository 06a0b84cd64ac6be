//go:build integration

package collector

import (
	"fmt"
	"runtime"
	"testing"
)

// recordingTB records Fatalf instead of failing the test, so a helper's
// failure path can be checked. Fatalf ends the calling goroutine, as
// testing.T's does, so call the helper from a goroutine of its own.
type recordingTB struct {
	testing.TB
	failed bool
	msg    string
}

func (r *recordingTB) Helper() {}

func (r *recordingTB) Fatalf(format string, args ...any) {
	r.failed = true
	r.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
