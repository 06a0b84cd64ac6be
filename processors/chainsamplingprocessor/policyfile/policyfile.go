// Package policyfile lets other components read the chainsampling policy
// file the way the processor does: the same parser, so they accept and
// refuse the same edits with the same file:line:col messages, and the same
// watcher, so they follow edits made in place, by an editor's rename or
// through a Kubernetes ConfigMap. The chainheadsampling extension serves the
// file's head: section with it.
package policyfile

import (
	"context"
	"os"
	"time"

	"github.com/chainotel/chainotel/processors/chainsamplingprocessor/internal/policy"
	"github.com/chainotel/chainotel/processors/chainsamplingprocessor/internal/watch"
)

type (
	// Head is the head: section: the probabilities SDKs sample with at the
	// source.
	Head = policy.Head
	// HeadService is one service's probabilities.
	HeadService = policy.HeadService
	// HeadOperation is the probability of one operation (a span name).
	HeadOperation = policy.HeadOperation
	// Error is a problem at one place in the file.
	Error = policy.Error
)

// ErrInvalid is wrapped by every error about the content of a policy file.
var ErrInvalid = policy.ErrInvalid

// ParseHead compiles the whole policy in data (the rules too: a file the
// processor refuses is refused here) and returns its head: section, or
// policy.KeepEverything's section when the file has none. file names the
// file in error messages.
func ParseHead(file string, data []byte) (*Head, error) {
	pol, err := policy.Parse(file, data)
	if err != nil {
		return nil, err
	}
	if pol.Head == nil {
		return policy.KeepEverything(), nil
	}
	return pol.Head, nil
}

// LoadHead reads the file at path and parses it with ParseHead.
func LoadHead(path string) (*Head, []byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	h, err := ParseHead(path, data)
	return h, data, err
}

// Watch calls changed, from its own goroutine, after path may have changed
// and debounce of quiet; onErr receives watcher errors. It returns once the
// watch is set up, and done closes after ctx ends.
func Watch(ctx context.Context, path string, debounce time.Duration, changed func(), onErr func(error)) (done <-chan struct{}, err error) {
	return watch.File(ctx, path, debounce, changed, onErr)
}
