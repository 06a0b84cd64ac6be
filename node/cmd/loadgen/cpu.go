package main

import (
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/chainotel/chainotel/internal/cluster"
)

// clockTick is the unit of utime and stime in /proc/<pid>/stat (USER_HZ,
// 100 on Linux for every architecture Go supports there).
const clockTick = 10 * time.Millisecond

// cpuMeter samples the CPU time used by loadgen, the spawned nodes and any
// other spawned process (the collector of a telemetry run), so a result shows
// where the machine's cores went: the nodes, or the load generator and the
// collector competing with them.
//
// It also samples the whole machine's busy time, so a result can say how
// much CPU went to processes it does not measure: other work on a shared
// machine takes cores from the runs, and a comparison of two runs is only as
// good as the quiet it had.
type cpuMeter struct {
	nodes     []*cluster.Node
	others    map[string]int // name → pid
	at        time.Time
	start     map[string]time.Duration
	startBusy time.Duration
	busyErr   error
}

func newCPUMeter(nodes []*cluster.Node, others map[string]int) *cpuMeter {
	m := &cpuMeter{nodes: nodes, others: others}
	m.startBusy, m.busyErr = machineBusy()
	m.at, m.start = time.Now(), m.sample()
	return m
}

func (m *cpuMeter) sample() map[string]time.Duration {
	s := map[string]time.Duration{}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		s["loadgen"] = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	for _, n := range m.nodes {
		if d, err := procCPU(n.Pid()); err == nil {
			s[n.ID] = d
		}
	}
	for name, pid := range m.others {
		if d, err := procCPU(pid); err == nil {
			s[name] = d
		}
	}
	return s
}

// usage returns, per process, the CPU time it used since the meter was made
// and the cores it kept busy on average meanwhile; and the cores the rest of
// the machine kept busy (NaN when /proc/stat cannot be read). The rest
// includes kernel time not charged to any process (interrupts), so it is not
// zero even on an otherwise idle machine.
func (m *cpuMeter) usage() (cpu map[string]time.Duration, cores map[string]float64, rest float64) {
	end, wall := m.sample(), time.Since(m.at).Seconds()
	endBusy, busyErr := machineBusy()
	cpu, cores = map[string]time.Duration{}, map[string]float64{}
	var ours time.Duration
	for k, v := range end {
		s, ok := m.start[k]
		if !ok {
			continue
		}
		cpu[k] = v - s
		ours += v - s
		if wall > 0 {
			cores[k] = (v - s).Seconds() / wall
		}
	}
	rest = math.NaN()
	if m.busyErr == nil && busyErr == nil && wall > 0 {
		rest = max(0, (endBusy-m.startBusy-ours).Seconds()/wall)
	}
	return cpu, cores, rest
}

// machineBusy is the CPU time the whole machine has spent busy so far: the
// first line of /proc/stat, every state but idle and iowait.
func machineBusy() (time.Duration, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return parseBusy(line)
}

// parseBusy reads "cpu  user nice system idle iowait irq softirq steal ..."
// (guest time is already inside user).
func parseBusy(line string) (time.Duration, error) {
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, fmt.Errorf("/proc/stat: first line %q is not the cpu total", shorten(line, 80))
	}
	var busy int64
	for i, name := range []string{"user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"} {
		v, err := strconv.ParseInt(f[i+1], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/stat: cpu %s: %q is not a number", name, f[i+1])
		}
		if name != "idle" && name != "iowait" {
			busy += v
		}
	}
	return time.Duration(busy) * clockTick, nil
}

// procCPU is the user plus system CPU time of process pid so far.
func procCPU(pid int) (time.Duration, error) {
	if pid <= 0 {
		return 0, fmt.Errorf("no process")
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; fields are counted after
	// its closing parenthesis. utime and stime are fields 14 and 15.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: bad utime/stime %q %q", pid, f[11], f[12])
	}
	return time.Duration(utime+stime) * clockTick, nil
}

// formatCores writes "loadgen 0.9, node0 0.5, ..." with loadgen first.
func formatCores(c map[string]float64) string {
	keys := make([]string, 0, len(c))
	for k := range c {
		if k != "loadgen" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	if _, ok := c["loadgen"]; ok {
		keys = append([]string{"loadgen"}, keys...)
	}
	parts := make([]string, len(keys))
	total := 0.0
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %.2f", k, c[k])
		total += c[k]
	}
	return fmt.Sprintf("%s (total %.2f of %d cores)", strings.Join(parts, ", "), total, numCPU())
}
