package match

import "time"

// MinDuration matches traces that last at least Min, from the earliest span
// start to the latest span end seen so far (`min_duration: 2s`).
type MinDuration struct {
	Min time.Duration
}

var _ Matcher = MinDuration{}

// Match implements Matcher.
func (m MinDuration) Match(s *Summary, _ Env) bool {
	// Without a start time there is no duration to speak of.
	if s.Start == 0 || s.End < s.Start {
		return false
	}
	return time.Duration(s.End-s.Start) >= m.Min
}
