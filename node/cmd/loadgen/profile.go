package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/chainotel/chainotel/internal/cluster"
)

// profiler fetches CPU profiles while a mode runs, from the standard
// net/http/pprof handler of the nodes (on their health ports) and of the
// collector (its pprof extension).
type profiler struct {
	wg sync.WaitGroup
}

// startProfiles profiles each target (name → base URL of its /debug/pprof)
// for most of d, into dir/<mode>-<name>.pprof.
func startProfiles(ctx context.Context, client *cluster.Client, targets map[string]string, dir, mode string, d time.Duration, disp *display) *profiler {
	p := &profiler{}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		disp.status("--node-profiles: " + err.Error())
		return p
	}
	// Profile most of the run, leaving the ramp-up and the tail out.
	secs := max(1, int((d - d/5).Seconds()))
	for name, base := range targets {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			path := filepath.Join(dir, fmt.Sprintf("%s-%s.pprof", mode, name))
			if err := fetchProfile(ctx, client, base+fmt.Sprintf("/debug/pprof/profile?seconds=%d", secs), path); err != nil {
				disp.status(fmt.Sprintf("profile of %s: %v", name, err))
				return
			}
			disp.status(fmt.Sprintf("wrote %s (go tool pprof -top %s)", path, path))
		}()
	}
	return p
}

// wait waits for the profiles being fetched; a nil profiler has none.
func (p *profiler) wait() {
	if p != nil {
		p.wg.Wait()
	}
}

func fetchProfile(ctx context.Context, client *cluster.Client, url, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	// The profile takes as long as it covers; the load's request timeout
	// does not apply.
	resp, err := (&http.Client{Transport: client.HTTP.Transport}).Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode == http.StatusNotFound {
		return fmt.Errorf("GET %s: 404: no /debug/pprof there (a node serves it on its health port, the collector with its pprof extension)", url)
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, b)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		_ = f.Close()
		return fmt.Errorf("GET %s: %w", url, err)
	}
	return f.Close()
}
