//go:build integration

package chaos

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteTable prints one line per fault: the fault, how soon a transfer sent
// after it committed, how long until every node was back at the cluster's
// head after healing, the transfers acknowledged meanwhile, how many of those
// are missing from some node's chain, whether the chains were identical, and
// whether kept traces were whole.
func WriteTable(w io.Writer, rows []*Row, v *Verdict) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	_, _ = fmt.Fprintln(tw, "fault\tcommit resumed\tcaught up after heal\tacked\tlost\tchains identical\ttraces whole\tnote")
	for _, r := range rows {
		note := r.Note
		if r.CollectorDown {
			note = strings.TrimPrefix(note+fmt.Sprintf("; %d acked while the collector was down", r.AckedWhileCollectorOff), "; ")
		}
		_, _ = fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\n", r.Fault, r.Resumed, r.CaughtUp.Round(10*time.Millisecond),
			r.Acked, r.Lost, yesNo(r.Identical), r.Traces, note)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	lin := "yes"
	if v.Linear != nil {
		lin = "NO: " + v.Linear.Error()
	}
	local := "yes"
	if len(v.LocalWrong) > 0 {
		local = fmt.Sprintf("NO: %s", strings.Join(v.LocalWrong, "; "))
	}
	_, err := fmt.Fprintf(w, "whole run: %d operations, %d transfers acknowledged, %d of unknown outcome (%d of them in the chain), "+
		"%d rejected, %d lost, %d applied twice, %d never sent; %d blocks identical on every node: %s; linearizable: %s; "+
		"%d local reads, each a state its node applied, never ahead of the writes, never going back: %s\n",
		v.Ops, v.Acked, v.Unknown, v.Applied, len(v.Rejected), len(v.Lost), len(v.Twice), len(v.Phantom),
		v.Height, yesNo(v.Identical), lin, v.LocalReads, local)
	if err != nil || v.DroppedSpans == nil {
		return err
	}
	var dropped []string
	for _, id := range slices.Sorted(maps.Keys(v.DroppedSpans)) {
		var parts []string
		for _, reason := range slices.Sorted(maps.Keys(v.DroppedSpans[id])) {
			parts = append(parts, fmt.Sprintf("%s %.0f", reason, v.DroppedSpans[id][reason]))
		}
		dropped = append(dropped, fmt.Sprintf("%s (%s)", id, strings.Join(parts, ", ")))
	}
	_, err = fmt.Fprintf(w, "spans dropped by the nodes before export (since each last started): %s; by the last collector: %s; "+
		"Sentry: %d events accepted, %d protocol problems\n",
		strings.Join(dropped, ", "), v.CollectorLosses, v.SentryEvents, len(v.SentryProblems))
	return err
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "NO"
}
