//go:generate go tool mdatagen metadata.yaml

// Package chainenrichprocessor is the chainenrich processor: it tracks the
// chain head per chain and node from the telemetry flowing through it, stamps
// error spans and error logs with that head, classifies errors into stable
// error.type categories, redacts secrets and personal data, and fills the
// release and environment where a resource lacks them.
package chainenrichprocessor
