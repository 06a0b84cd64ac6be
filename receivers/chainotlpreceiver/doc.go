//go:generate go tool mdatagen metadata.yaml

// Package chainotlpreceiver is an OTLP trace receiver with the chainsampling
// processor built in: it speaks OTLP/gRPC and OTLP/HTTP as the core otlp
// receiver does, hands each request's wire bytes to the sampler, which reads
// in place only what the policy needs and holds the bytes, and sends on the
// spans of kept traces, decoded only then. See README.md.
package chainotlpreceiver // import "github.com/chainotel/chainotel/receivers/chainotlpreceiver"
