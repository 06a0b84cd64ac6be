package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// display writes progress to stderr: status messages on their own line, and
// while a mode runs a counter line rewritten about once a second (a new line
// per update when stderr is not a terminal, so logs stay readable).
type display struct {
	w   io.Writer
	tty bool

	mu      sync.Mutex
	pending bool   // a counter line is on screen without its newline
	prefix  string // says which run a status belongs to ("round 2/3: telemetry disabled: ")
}

func newDisplay(w io.Writer) *display {
	tty := false
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil {
			tty = st.Mode()&os.ModeCharDevice != 0
		}
	}
	return &display{w: w, tty: tty}
}

// status prints a message about what loadgen does or waits for.
func (d *display) status(msg string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.endLine()
	_, _ = fmt.Fprintf(d.w, "loadgen: %s%s\n", d.prefix, msg)
}

// setPrefix puts p before every status message from now on.
func (d *display) setPrefix(p string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.prefix = p
}

func (d *display) endLine() {
	if d.pending {
		_, _ = fmt.Fprintln(d.w)
		d.pending = false
	}
}

// follow shows c's counters every second until stop is closed, then once more.
func (d *display) follow(label string, total time.Duration, c *counters, stop <-chan struct{}) {
	start := time.Now()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var lastAcked uint64
	lastAt := start
	show := func(final bool) {
		now := time.Now()
		acked := c.acked.Load()
		rate := float64(acked-lastAcked) / now.Sub(lastAt).Seconds()
		if final {
			rate = float64(acked) / now.Sub(start).Seconds()
		}
		lastAcked, lastAt = acked, now
		line := fmt.Sprintf("%-8s %5.1fs/%v  sent %9d  acked %9d  errors %7d  %8.0f tx/s",
			label, now.Sub(start).Seconds(), total, c.sent.Load(), acked, c.errs.Load(), rate)
		if final {
			line += " (mean)"
		}
		d.mu.Lock()
		defer d.mu.Unlock()
		if d.tty {
			_, _ = fmt.Fprintf(d.w, "\r\033[K%s", line)
			d.pending = true
			if final {
				d.endLine()
			}
			return
		}
		_, _ = fmt.Fprintln(d.w, line)
	}
	for {
		select {
		case <-stop:
			show(true)
			return
		case <-tick.C:
			show(false)
		}
	}
}
