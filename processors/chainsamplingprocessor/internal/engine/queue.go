package engine

// queue is a FIFO of traces with the time each entered it. Because every
// trace waits the same duration, the front is always the next one due.
// Decided traces are skipped lazily rather than removed from the middle.
type queue struct {
	items []queued
	head  int
}

type queued struct {
	t  *trace
	at int64 // Unix nanoseconds
}

func (q *queue) push(t *trace, at int64) {
	q.items = append(q.items, queued{t: t, at: at})
}

// front returns the oldest undecided entry, dropping decided ones on the way.
func (q *queue) front() (queued, bool) {
	for q.head < len(q.items) {
		it := q.items[q.head]
		if !it.t.decided {
			return it, true
		}
		q.pop()
	}
	return queued{}, false
}

func (q *queue) pop() {
	q.items[q.head] = queued{}
	q.head++
	// Compact once the consumed prefix dominates, so memory follows the
	// live entries rather than the total ever pushed.
	if q.head > 1024 && q.head*2 > len(q.items) {
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items = q.items[:n]
		q.head = 0
	}
}
