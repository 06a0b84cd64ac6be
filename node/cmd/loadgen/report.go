package main

import (
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"text/tabwriter"
	"time"
)

// Targets of the issue and the etcd figure it gives for scale, to print
// each result as a ratio.
const (
	targetSingle = 5000.0  // committed tx/s with single posts from 256 clients
	targetBatch  = 20000.0 // committed tx/s in batches
	etcdSingle   = 10000.0 // a 3-member etcd 3.4 on the same machine, 256 clients
	etcdOne      = 870.0   // the same etcd from one client
)

func (r result) rate() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.acked) / r.elapsed.Seconds()
}

// percentile of the sorted latencies, 0 when there are none.
func (r result) percentile(p float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	i := int(p / 100 * float64(len(r.latencies)-1))
	return r.latencies[i]
}

func (r result) errCount() uint64 {
	var n uint64
	for _, v := range r.errs {
		n += v
	}
	return n
}

func (r result) versus() string {
	if isReadMode(r.mode) {
		return "reads answered per second in the tx/s column (nothing committed)"
	}
	if r.mode == modeBatch {
		return fmt.Sprintf("%.2fx the %.0f tx/s target", r.rate()/targetBatch, targetBatch)
	}
	if r.clients == 1 {
		return fmt.Sprintf("%.2fx etcd's %.0f tx/s from one client", r.rate()/etcdOne, etcdOne)
	}
	return fmt.Sprintf("%.2fx the %.0f tx/s target, %.2fx etcd's %.0f", r.rate()/targetSingle, targetSingle, r.rate()/etcdSingle, etcdSingle)
}

// printResults writes one table row per mode, then the errors by kind.
func printResults(w io.Writer, title string, rs []result) {
	_, _ = fmt.Fprintf(w, "\n%s\n", title)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	_, _ = fmt.Fprintln(tw, "mode\tclients\tbatch\tseconds\tacked\terrors\tcommitted tx/s\tp50\tp99\t")
	for _, r := range rs {
		batch := "-"
		if r.batchSize > 0 {
			batch = fmt.Sprint(r.batchSize)
		}
		_, _ = fmt.Fprintf(tw, "%s\t%d\t%s\t%.1f\t%d\t%d\t%.0f\t%s\t%s\t\n",
			r.mode, r.clients, batch, r.elapsed.Seconds(), r.acked, r.errCount(), r.rate(),
			round(r.percentile(50)), round(r.percentile(99)))
	}
	_ = tw.Flush()
	for _, r := range rs {
		_, _ = fmt.Fprintf(w, "  %s: %s\n", r.mode, r.versus())
	}
	for _, r := range rs {
		if len(r.cores) > 0 {
			_, _ = fmt.Fprintf(w, "  %s cpu: %s, other load %s\n", r.mode, formatCores(r.cores), coresOrDash(r.rest))
		}
	}
	for _, r := range rs {
		for _, class := range slices.Sorted(maps.Keys(r.errs)) {
			_, _ = fmt.Fprintf(w, "  %s errors: %d x %s\n", r.mode, r.errs[class], class)
		}
	}
	printReadRatio(w, rs)
}

// coresOrDash formats a number of cores, "-" when unknown.
func coresOrDash(x float64) string {
	if math.IsNaN(x) {
		return "-"
	}
	return fmt.Sprintf("%.2f", x)
}

func round(d time.Duration) time.Duration {
	switch {
	case d >= 10*time.Millisecond:
		return d.Round(time.Millisecond)
	case d >= 10*time.Microsecond:
		return d.Round(10 * time.Microsecond)
	default:
		return d
	}
}
