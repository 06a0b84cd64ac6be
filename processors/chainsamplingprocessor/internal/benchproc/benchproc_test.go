package benchproc

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

func TestParseMetricsSumsLabelSets(t *testing.T) {
	text := `# TYPE otelcol_receiver_accepted_spans counter
otelcol_receiver_accepted_spans{receiver="otlp",transport="grpc"} 3
otelcol_receiver_accepted_spans{receiver="chainotlp",transport="grpc"} 4
# TYPE otelcol_buffered gauge
otelcol_buffered 2
# TYPE otelcol_latency histogram
otelcol_latency_bucket{le="1"} 1
otelcol_latency_bucket{le="+Inf"} 1
otelcol_latency_sum 0.5
otelcol_latency_count 1
`
	m, err := ParseMetrics([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]float64{
		"otelcol_receiver_accepted_spans":                                    7,
		"otelcol_receiver_accepted_spans{receiver=otlp,transport=grpc}":      3,
		"otelcol_receiver_accepted_spans{receiver=chainotlp,transport=grpc}": 4,
		"otelcol_buffered":   2,
		"otelcol_buffered{}": 2,
	} {
		if got := m[name]; got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if _, ok := m["otelcol_latency"]; ok {
		t.Error("a histogram is in the set")
	}
	if got := m.Sum("otelcol_buffered", "otelcol_receiver_accepted_spans", "absent"); got != 9 {
		t.Errorf("Sum = %v, want 9", got)
	}
	if _, err := ParseMetrics([]byte("not { metrics")); err == nil {
		t.Error("bad text parsed")
	}
}

func TestParseUsage(t *testing.T) {
	stat := "42 (otel col) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 12 0 1000 0 0"
	status := "Name:\totelcol\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\n"
	u, err := parseUsage(42, stat, status)
	if err != nil {
		t.Fatal(err)
	}
	if u.CPU != 3*time.Second || u.PeakRSS != 2048<<10 || u.RSS != 1024<<10 {
		t.Errorf("got %+v, want 3s CPU, 2 MiB peak, 1 MiB RSS", u)
	}
	for _, bad := range []struct{ stat, status, want string }{
		{"42 no name", status, "no command name"},
		{"42 (x) S 1", status, "fields after the name"},
		{strings.Replace(stat, " 250 ", " x ", 1), status, "/proc/42/stat"},
		{stat, "VmRSS:\t1 kB\n", "no VmHWM"},
		{stat, "VmHWM:\tlots kB\n", "VmHWM"},
	} {
		if _, err := parseUsage(42, bad.stat, bad.status); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("parseUsage(%q, %q) = %v, want an error naming %q", bad.stat, bad.status, err, bad.want)
		}
	}
}

func TestReadUsageOfThisProcess(t *testing.T) {
	u, err := ReadUsage(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if u.PeakRSS <= 0 || u.RSS <= 0 || u.PeakRSS < u.RSS {
		t.Errorf("implausible usage %+v", u)
	}
}

func TestStartFailsWhenTheProcessExits(t *testing.T) {
	ports, err := Ports(1)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Start(context.Background(), "false", "/bin/false", t.TempDir(), "c", "x: 1\n", ports[0], time.Minute)
	if err == nil || !strings.Contains(err.Error(), "false exited") {
		t.Fatalf("got %v, want an error saying the process exited", err)
	}
}

func TestTelemetryNamesThePort(t *testing.T) {
	if s := Telemetry(4321); !strings.Contains(s, "port: 4321\n") || !strings.HasPrefix(s, "  telemetry:\n") {
		t.Errorf("Telemetry(4321) =\n%s", s)
	}
}

func TestEveryStopsWhenTold(t *testing.T) {
	calls := make(chan struct{}, 100)
	stop := Every(context.Background(), time.Millisecond, func(time.Time) bool {
		calls <- struct{}{}
		return true
	})
	<-calls
	<-calls
	stop()
	n := len(calls)
	stop() // a second stop is harmless
	if len(calls) != n {
		t.Errorf("f ran after stop returned")
	}
}

func TestEveryStopsWhenFSaysSo(t *testing.T) {
	calls := 0
	stopped := make(chan struct{})
	stop := Every(context.Background(), time.Millisecond, func(time.Time) bool {
		calls++
		if calls == 3 {
			close(stopped)
			return false
		}
		return true
	})
	<-stopped
	stop()
	if calls != 3 {
		t.Errorf("f ran %d times, want 3", calls)
	}
}

func TestBinary(t *testing.T) {
	dir := t.TempDir()
	bin := dir + "/bin"
	if err := os.WriteFile(bin, nil, 0o700); err != nil {
		t.Fatal(err)
	}
	if got, err := Binary(bin); err != nil || got != bin {
		t.Errorf("Binary(%q) = %q, %v", bin, got, err)
	}
	if _, err := Binary(dir + "/absent"); err == nil || !strings.Contains(err.Error(), "absent") {
		t.Errorf("a missing binary gave %v, want an error naming it", err)
	}
}

func TestSetupRemovesItsFolder(t *testing.T) {
	ctx, dir, cleanup, err := Setup("benchproc-test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatal(err)
	}
	cleanup()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s still there after cleanup: %v", dir, err)
	}
	if ctx.Err() == nil {
		t.Error("the context is still live after cleanup")
	}
}
