package otlpexport

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// BatchSettings are one signal's queue and batch settings, resolved from the
// node's Config and the OTEL_BSP_* or OTEL_BLRP_* variables.
type BatchSettings struct {
	// QueueSize bounds what the pipeline holds, buffered or being exported.
	QueueSize int
	// BatchSize is the most spans or log records in one export.
	BatchSize int
	// BatchTimeout is the longest a span or record waits for a batch.
	BatchTimeout time.Duration
	// ExportTimeout bounds one export, retries included.
	ExportTimeout time.Duration
}

// Slots bounds the spans (or log records) held between the moment they end
// and the moment the export that carries them returns. Its zero value holds
// nothing; set Limit before the pipeline takes its first slot.
type Slots struct {
	held atomic.Int64
	// Limit is the most slots held at once.
	Limit int64
}

// Held is how many slots are held now: what the pipeline is waiting to
// export (the chainotel_telemetry_queued gauge).
func (s *Slots) Held() int64 { return s.held.Load() }

// take reserves a slot without ever waiting; false means the pipeline is full.
func (s *Slots) take() bool {
	if s.held.Add(1) > s.Limit {
		s.held.Add(-1)
		return false
	}
	return true
}

// release gives back n slots once their export has returned.
func (s *Slots) release(n int) { s.held.Add(-int64(n)) }

// Counters count what happens to one signal's telemetry after it leaves the
// node's code. Every span or record ends up in exactly one of DroppedFull,
// Exported, DroppedExport and DroppedShutdown.
type Counters struct {
	// DroppedFull counts what was refused because the pipeline was full.
	DroppedFull prometheus.Counter
	// DroppedExport counts what an export lost after its retries.
	DroppedExport prometheus.Counter
	// DroppedShutdown counts what ended after the pipeline shut down.
	DroppedShutdown prometheus.Counter
	// Exported counts what the collector accepted.
	Exported prometheus.Counter
	// Failures counts failed export calls.
	Failures prometheus.Counter
}
