//go:generate go tool mdatagen metadata.yaml

// Package chainpolicypreviewextension is the chainpolicypreview extension:
// it serves, over HTTP, what a candidate chainsampling policy would keep of
// the traces the processor decided recently, beside what the live policy
// keeps, per rule and per trigger. chainsampling processors register with
// it at Start (see the preview package of the processor).
package chainpolicypreviewextension
