//go:generate go tool mdatagen metadata.yaml

// Package chainsamplingprocessor is a tail-sampling processor for chain
// traces. It buffers the spans of each trace, keeps a small summary of them,
// and decides the trace with the first matching rule of a YAML policy file
// that is reloaded live. See README.md.
package chainsamplingprocessor // import "github.com/chainotel/chainotel/processors/chainsamplingprocessor"
