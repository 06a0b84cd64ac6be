package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"
)

// defaultProbeTimeout bounds one probe: below the 5 s a compose
// healthcheck's timeout defaults to, so the probe reports before Docker
// kills it.
const defaultProbeTimeout = 3 * time.Second

// probeBodyLimit is how much of a failed answer's body the error quotes.
const probeBodyLimit = 200

// probeCommand is `blockchain probe URL`: a health check for images that
// have no curl (the node's and the collector's are FROM scratch).
func probeCommand() *ffcli.Command {
	fs := flag.NewFlagSet("blockchain probe", flag.ContinueOnError)
	timeout := fs.Duration("timeout", defaultProbeTimeout, "how long the request may take, connecting included")
	return &ffcli.Command{
		Name:       "probe",
		ShortUsage: "blockchain probe [--timeout=3s] http://127.0.0.1:9090/ready",
		ShortHelp:  "GET a URL: exit 0 on a 2xx answer, 1 with the reason otherwise (a container health check)",
		FlagSet:    fs,
		Options:    ffOptions(),
		Exec: func(ctx context.Context, args []string) error {
			if len(args) != 1 {
				return fmt.Errorf("probe: want one URL, got %d arguments %q", len(args), args)
			}
			msg, err := probe(ctx, args[0], *timeout)
			if err != nil {
				return err
			}
			_, _ = fmt.Fprintln(os.Stdout, msg)
			return nil
		},
	}
}

// probe GETs rawURL within timeout and says what it got; an answer other
// than a 2xx is an error quoting the start of the body.
func probe(ctx context.Context, rawURL string, timeout time.Duration) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("probe: %q is not an http(s)://host[:port]/path URL", rawURL)
	}
	if timeout <= 0 {
		return "", fmt.Errorf("probe: --timeout %s: want > 0", timeout)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", fmt.Errorf("probe %s: %w", rawURL, err)
	}
	// No proxy: a probe checks the service itself.
	client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return "", fmt.Errorf("probe %s: no answer within %s", rawURL, timeout)
		}
		return "", fmt.Errorf("probe %s: %w", rawURL, err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, probeBodyLimit))
	text := strings.TrimSpace(string(body))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return "", fmt.Errorf("probe %s: %s: %s", rawURL, resp.Status, text)
	}
	return fmt.Sprintf("probe %s: %s %s", rawURL, resp.Status, text), nil
}
