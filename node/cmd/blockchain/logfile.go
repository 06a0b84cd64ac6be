package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"gopkg.in/natefinch/lumberjack.v2"
)

// Defaults of the log file's rotation: at most about
// (defaultLogMaxBackups+1) * defaultLogMaxSizeMB on disk per node.
const (
	defaultLogMaxSizeMB  = 100
	defaultLogMaxBackups = 5
	defaultLogMaxAgeDays = 28
)

// logFileFlags say whether and how the node writes its JSON log to
// <log-dir>/<node-id>/app.log besides stderr.
type logFileFlags struct {
	enabled    bool   // --log-file
	dir        string // --log-dir; "" means no file too
	maxSizeMB  int    // --log-max-size
	maxBackups int    // --log-max-backups
	maxAgeDays int    // --log-max-age
}

func (f *logFileFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&f.enabled, "log-file", true, "write the JSON log to <log-dir>/<node-id>/app.log as well as stderr (false: stderr only)")
	fs.StringVar(&f.dir, "log-dir", "logs", `folder of the log files ("": stderr only)`)
	fs.IntVar(&f.maxSizeMB, "log-max-size", defaultLogMaxSizeMB, "megabytes app.log reaches before it is rotated to app-<time>.log")
	fs.IntVar(&f.maxBackups, "log-max-backups", defaultLogMaxBackups, "rotated log files kept (0: all, within --log-max-age)")
	fs.IntVar(&f.maxAgeDays, "log-max-age", defaultLogMaxAgeDays, "days a rotated log file is kept (0: no age limit)")
}

// path is the log file of nodeID, "" when the node logs to stderr only.
func (f *logFileFlags) path(nodeID string) string {
	if !f.enabled || f.dir == "" {
		return ""
	}
	return filepath.Join(f.dir, nodeID, "app.log")
}

// open returns where the node's JSON log lines go: stderr, and the rotated
// log file unless it is turned off. The closer closes the file (a no-op
// without one); call it after the last line is logged.
func (f *logFileFlags) open(nodeID string) (io.Writer, io.Closer, error) {
	path := f.path(nodeID)
	if path == "" {
		return os.Stderr, noFile{}, nil
	}
	switch {
	case f.maxSizeMB <= 0:
		return nil, nil, fmt.Errorf("--log-max-size %d: want > 0 megabytes", f.maxSizeMB)
	case f.maxBackups < 0:
		return nil, nil, fmt.Errorf("--log-max-backups %d: want >= 0", f.maxBackups)
	case f.maxAgeDays < 0:
		return nil, nil, fmt.Errorf("--log-max-age %d: want >= 0 days", f.maxAgeDays)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, nil, fmt.Errorf("log file %s: %w", path, err)
	}
	lj := &lumberjack.Logger{
		Filename:   path,
		MaxSize:    f.maxSizeMB,
		MaxBackups: f.maxBackups,
		MaxAge:     f.maxAgeDays,
		LocalTime:  false,
	}
	// lumberjack opens the file at the first write: open it now, so a
	// folder the node may not write to stops it at start.
	if _, err := lj.Write(nil); err != nil {
		return nil, nil, fmt.Errorf("log file %s: %w (--log-file=false logs to stderr only)", path, err)
	}
	// stderr first: io.MultiWriter stops at the first failing writer, and
	// the file is the one that can fail (full disk).
	return io.MultiWriter(os.Stderr, lj), lj, nil
}

// noFile is the closer of the log when there is no file.
type noFile struct{}

func (noFile) Close() error { return nil }
