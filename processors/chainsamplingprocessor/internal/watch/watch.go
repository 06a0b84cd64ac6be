// Package watch calls back when a file may have changed, in the ways files
// change in practice: written in place, replaced by an editor's rename, or
// swapped by Kubernetes through the `..data` symlink of a mounted ConfigMap.
package watch

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// configMapLink is the symlink Kubernetes swaps atomically when a mounted
// ConfigMap changes; the file itself is a symlink through it and sees no
// event of its own.
const configMapLink = "..data"

// File watches the directory holding path, because a watch on the file
// itself is lost when an editor or Kubernetes replaces it. After events that
// may concern path, and debounce of quiet (editors write in several steps),
// changed is called from the watching goroutine. onErr receives watcher
// errors. File returns once the watch is set up; it stops when ctx ends.
func File(ctx context.Context, path string, debounce time.Duration, changed func(), onErr func(error)) (done <-chan struct{}, err error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("watch %s: %w", path, err)
	}
	dir, base := filepath.Split(filepath.Clean(path))
	if dir == "" {
		dir = "."
	}
	if err := w.Add(dir); err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("watch directory %s of %s: %w", dir, path, err)
	}
	ch := make(chan struct{})
	go func() {
		defer close(ch)
		defer func() { _ = w.Close() }() // watching is over; a failed close leaks nothing the caller can act on
		timer := time.NewTimer(debounce)
		if !timer.Stop() {
			<-timer.C
		}
		for {
			select {
			case <-ctx.Done():
				timer.Stop()
				return
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				if name := filepath.Base(ev.Name); name == base || name == configMapLink {
					timer.Reset(debounce)
				}
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				onErr(err)
			case <-timer.C:
				changed()
			}
		}
	}()
	return ch, nil
}
