// Package testbin finds (or builds) the project's binaries for tests that run
// them as real processes: the node (`blockchain`) and the ocb-built collector
// (`otelcol-chain`).
//
// `make test` builds both once and passes their paths in
// CHAINOTEL_BLOCKCHAIN_BIN and CHAINOTEL_OTELCOL_BIN; a plain `go test` builds
// them here instead (the collector through `make collector`, which rebuilds
// only when its inputs changed).
package testbin

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// RepoRoot returns the repository root: the nearest parent folder of the
// working directory that holds go.mod.
func RepoRoot(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatalf("testbin: working directory: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatalf("testbin: no go.mod above %s", dir)
		}
		dir = parent
	}
}

var (
	nodeOnce sync.Once
	nodePath string
	nodeErr  error
)

// Blockchain returns the path of the node binary, building it once per test
// process when CHAINOTEL_BLOCKCHAIN_BIN is not set.
func Blockchain(tb testing.TB) string {
	tb.Helper()
	if p := os.Getenv("CHAINOTEL_BLOCKCHAIN_BIN"); p != "" {
		return mustExist(tb, p, "CHAINOTEL_BLOCKCHAIN_BIN")
	}
	root := RepoRoot(tb)
	nodeOnce.Do(func() {
		dir, err := os.MkdirTemp("", "chainotel-bin-")
		if err != nil {
			nodeErr = err
			return
		}
		nodePath = filepath.Join(dir, "blockchain")
		cmd := exec.Command("go", "build", "-race", "-o", nodePath, "./node/cmd/blockchain")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			nodeErr = fmt.Errorf("go build ./node/cmd/blockchain: %v\n%s", err, out)
		}
	})
	if nodeErr != nil {
		tb.Fatalf("testbin: %v", nodeErr)
	}
	return nodePath
}

var (
	colOnce sync.Once
	colPath string
	colErr  error
)

// OtelcolChain returns the path of the ocb-built collector, running
// `make collector` once per test process when CHAINOTEL_OTELCOL_BIN is not set.
// The build takes minutes when cold; its progress goes to the test log.
func OtelcolChain(tb testing.TB) string {
	tb.Helper()
	if p := os.Getenv("CHAINOTEL_OTELCOL_BIN"); p != "" {
		return mustExist(tb, p, "CHAINOTEL_OTELCOL_BIN")
	}
	root := RepoRoot(tb)
	colOnce.Do(func() {
		tb.Logf("testbin: building otelcol-chain with ocb (make collector); a cold build takes several minutes")
		cmd := exec.Command("make", "--no-print-directory", "collector")
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		if err != nil {
			colErr = fmt.Errorf("make collector: %v\n%s", err, out)
			return
		}
		colPath = filepath.Join(root, "build", "otelcol-chain")
	})
	if colErr != nil {
		tb.Fatalf("testbin: %v", colErr)
	}
	return colPath
}

func mustExist(tb testing.TB, path, from string) string {
	tb.Helper()
	st, err := os.Stat(path)
	if err == nil && st.IsDir() {
		err = errors.New("is a directory")
	}
	if err != nil {
		tb.Fatalf("testbin: %s=%s: %v", from, path, err)
	}
	return path
}
